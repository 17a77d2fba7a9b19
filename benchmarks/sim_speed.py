"""Simulator speed on long workloads: ops/s, bytes per op, phase split, fast/reference engine ratio, start-up.

    python3 benchmarks/sim_speed.py [--minutes 0.5 5 60] [--arch arch/int4.yaml] [--mapping search|naive]
        [--reference-max-ops 1000000]

Generates beam 16, density-ratio fusion synthetic workloads of the given audio lengths (``accelsim generate``,
10 s utterances; kept under ``--workdir`` and reused) and, each in a fresh process:

- times one ``simulate()`` + ``summary()`` after loading, split into phases (load; the mapping search, the
  chosen mapping's full plan, the engine's run of it and the result, from ``RunResult.wall_phases_s``;
  summary) on the fast engine, and
  ``ops/s = ops / simulate() CPU seconds``; peak memory per op is the process's peak RSS after the run minus
  its RSS before loading, over the op count;
- plays the same workload on the reference (simpy) engine (up to ``--reference-max-ops``), checks that it
  gives the same end times and prints the engine CPU ratio reference / fast;
- times the whole command ``accelsim run ARCH WORKLOAD`` (wall and CPU of the child) and ``accelsim --help``.

Goals (issue 11): simulate() >= 2 M ops/s on one core, ``accelsim run`` of 1 h <= 10 s, <= 200 B per op,
``accelsim --help`` <= 0.3 s. Pins itself (and its children) to one CPU where possible. Numbers depend on the
machine and its load; CPU seconds are the robust figure on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
UTTERANCE_S = 10.0
# the console script ``accelsim``, without any wrapper a Python version manager may put in front of it
ACCELSIM = [sys.executable, "-c", "import sys; from accelsim.cli import main; sys.exit(main())"]


def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def child(arch_path: str, workload_dir: str, engine: str, mapping: str) -> dict:
    """One measured run in this (fresh) process; returns the figures as a dict."""
    import numpy as np

    from accelsim.sim import simulate
    from accelsim.spec import load_arch
    from accelsim.trace import load_workload

    arch = load_arch(arch_path, {"scheduler.engine": engine, "scheduler.mapping": mapping})
    # warm up the engine's machinery (numba cache load) on a tiny workload, so it counts neither as per-op
    # memory nor as simulation time
    simulate(arch, load_workload(REPO / "workloads" / "small_nolm_beam16")).summary()
    rss0 = _rss_bytes()
    c0, w0 = time.process_time(), time.perf_counter()
    workload = load_workload(workload_dir)
    c1, w1 = time.process_time(), time.perf_counter()
    result = simulate(arch, workload)
    c2, w2 = time.process_time(), time.perf_counter()
    result.summary()
    c3, w3 = time.process_time(), time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"ops": int(len(result.end_s)), "audio_s": workload.audio_seconds, "sim_s": result.sim_s,
            "load_s": w1 - w0, "simulate_s": w2 - w1, "simulate_cpu_s": c2 - c1, "summary_s": w3 - w2,
            "load_cpu_s": c1 - c0, "summary_cpu_s": c3 - c2,
            "total_cpu_s": c3 - c0, "phases_s": result.wall_phases_s, "rss_before_B": rss0, "peak_rss_B": peak,
            "end_checksum": float(np.sum(result.end_s))}


def _run_child(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _timed(cmd: list[str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of a child command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def ensure_workload(workdir: Path, minutes: float) -> Path:
    utterances = max(1, round(minutes * 60 / UTTERANCE_S))
    out = workdir / f"beam16_dr_{utterances}x10s"
    if not (out / "workload.yaml").is_file():
        print(f"generating {out} ({utterances} utterances of ~10 s) ...", flush=True)
        subprocess.run([*ACCELSIM, "generate", "--out", str(out), "--beam", "16", "--fusion", "dr",
                        "--utterances", str(utterances), "--seconds", str(UTTERANCE_S)], check=True,
                       stdout=subprocess.DEVNULL)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, nargs="+", default=[0.5, 5.0, 60.0], help="audio lengths")
    ap.add_argument("--arch", default=str(REPO / "arch" / "int4.yaml"))
    ap.add_argument("--workdir", default="/tmp/accelsim_sim_speed", help="where generated workloads are kept")
    ap.add_argument("--reference-max-ops", type=int, default=1_000_000,
                    help="play the reference engine only on workloads up to this many ops (it is ~100x slower)")
    ap.add_argument("--mapping", choices=("search", "naive"), default="search", help="scheduler.mapping")
    ap.add_argument("--child", nargs=4, metavar=("ARCH", "WORKLOAD", "ENGINE", "MAPPING"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # inherited by the children
    env_note = f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, pinned to one"
    print(f"sim_speed on {Path(args.arch).name}, scheduler.mapping = {args.mapping} ({env_note})")
    setm = ["--set", f"scheduler.mapping={args.mapping}"]
    helps = [_timed([*ACCELSIM, "--help"]) for _ in range(5)]
    print(f"accelsim --help: best wall {min(h[0] for h in helps):.3f} s, best CPU {min(h[1] for h in helps):.3f} s")
    wl16 = REPO / "workloads" / "rnnt_beam16"
    runs = [_timed([*ACCELSIM, "run", args.arch, str(wl16), *setm]) for _ in range(3)]
    print(f"accelsim run {Path(args.arch).name} workloads/rnnt_beam16: best wall {min(r[0] for r in runs):.3f} s, "
          f"best CPU {min(r[1] for r in runs):.3f} s")
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    print("seconds per phase (load, summary: CPU; search = ranking + verification on the first utterance, plan =\n"
          "the chosen mapping's full plan (cost + map), engine = its run, result: wall of one pinned process);\n"
          "ops/s = ops / simulate() CPU s; B/op = (peak RSS - RSS before load) / ops")
    print(f"{'audio':>7} {'ops':>11} {'ops/s (CPU)':>12} {'B/op':>6} {'load s':>7} {'search s':>8} {'plan s':>7} "
          f"{'engine s':>8} {'result s':>8} {'summary s':>9} {'ref/fast':>8} {'run wall s':>10} {'run CPU s':>9}")
    for minutes in args.minutes:
        wl = ensure_workload(workdir, minutes)
        fast = _run_child([args.arch, str(wl), "fast", args.mapping])
        ratio = "-"
        if fast["ops"] <= args.reference_max_ops:
            ref = _run_child([args.arch, str(wl), "reference", args.mapping])
            if ref["end_checksum"] != fast["end_checksum"]:
                raise SystemExit(f"{wl}: the engines disagree (sum of end times {ref['end_checksum']!r} vs "
                                 f"{fast['end_checksum']!r})")
            ratio = f"{ref['phases_s']['engine'] / fast['phases_s']['engine']:.1f}x"
        run_wall, run_cpu = _timed([*ACCELSIM, "run", args.arch, str(wl), *setm])
        per_op = (fast["peak_rss_B"] - fast["rss_before_B"]) / fast["ops"]
        ph = fast["phases_s"]
        print(f"{fast['audio_s']:6.0f}s {fast['ops']:11,d} {fast['ops'] / fast['simulate_cpu_s']:12,.0f} "
              f"{per_op:6.0f} {fast['load_cpu_s']:7.2f} {ph['search']:8.2f} {ph['cost_map']:7.2f} "
              f"{ph['engine']:8.2f} {ph['result']:8.2f} {fast['summary_cpu_s']:9.2f} {ratio:>8} {run_wall:10.2f} "
              f"{run_cpu:9.2f}", flush=True)


if __name__ == "__main__":
    main()
