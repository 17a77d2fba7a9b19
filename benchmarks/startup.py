"""Where the CPU time of one short ``accelsim run`` goes: interpreter, imports, kernels' load, phases.

    python3 benchmarks/startup.py [--arch arch/int4.yaml] [--workload workloads/rnnt_beam16]
        [--mapping search|naive] [--repeat 2] [--baseline DIR]

Runs, each in a fresh process pinned to one CPU where possible, what ``accelsim run ARCH WORKLOAD`` does
(``accelsim.cli.run.handle``, output to /dev/null), taking ``time.process_time()`` (CPU: user + system of the
process) after each step:

- ``interpreter``: the CPU time at the script's first line (interpreter start-up and ``site``);
- ``import <module>``: the third-party modules in the order the run path needs them (each line is what that
  import adds on top of the lines above it), then ``import accelsim (rest)``: the ``accelsim.cli.run`` module
  and the project modules it imports;
- ``arch``, ``workload``: ``load_arch`` and ``load_workload``;
- ``kernels: AOT build load``: loading the kernels compiled ahead of time (:mod:`accelsim.jit`, the
  extension ``python3 -m accelsim.aot build`` writes); when that build is absent or stale, ``kernels: numba
  import + target init`` (numba's import and CPU target, initialised without the BLAS probe's
  ``scipy.linalg``, timed apart and reported) and ``kernels: numba cache load`` (the part of ``simulate()``
  spent loading numba's cached machine code, one function at a time) instead;
- ``search``, ``plan``, ``engine``, ``result``: ``RunResult.wall_phases_s`` CPU-scaled (``simulate()``'s CPU
  without the numba load, split in the proportions of its wall-clock phases);
- ``summary + checks``, ``printing``: ``check_summary`` and the rich tables;
- ``(exit: teardown)``: the child's CPU after its last figure (interpreter teardown, exit), which the
  ``accelsim`` program skips (:func:`accelsim.cli_dispatch.exit_without_teardown`); and the CPU seconds spent
  in the garbage collector (the program imports with it paused, as this child does).

It also times the whole command (``accelsim run``, CPU of the child, best of ``--repeat``) and
``python3 -c pass``; with ``--baseline DIR``, the whole command with this checkout and with another version's
``accelsim`` package, interleaved, and the ratio of their medians (the figure to compare two commits on a
shared machine; a DIR that also holds that version's ``arch/`` and ``workloads/`` runs those, e.g. ``git
archive 3078feb~1 accelsim arch workloads/rnnt_beam16 | tar -x -C DIR``, the code when issue 11 was filed).
Numbers depend on the machine and its load; CPU seconds are the robust figure on a shared machine
(``benchmarks/instructions.py`` counts instructions instead, which do not drift).
"""

from __future__ import annotations

import time

_CPU_AT_START = time.process_time()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
ACCELSIM = [sys.executable, "-c", "import sys; from accelsim.cli import main; sys.exit(main())"]
#: (no pandas: the run path never imports it; ``accelsim.trace.io.Workload.ops`` builds its table on first use)
THIRD_PARTY = ("numpy", "yaml", "pydantic", "pyarrow", "rich.console", "rich.table")


def child(arch_path: str, workload_dir: str, mapping: str) -> dict:
    """One measured run in this fresh process; returns CPU seconds per step."""
    import gc
    import importlib

    steps: dict[str, float] = {"interpreter": _CPU_AT_START}
    mark = time.process_time()

    def take(name: str) -> None:
        nonlocal mark
        now = time.process_time()
        steps[name] = steps.get(name, 0.0) + now - mark
        mark = now

    gc_s = [0.0, 0.0]  # CPU seconds in the cyclic garbage collector; start of the current pass

    def on_gc(phase: str, _info: dict) -> None:
        if phase == "start":
            gc_s[1] = time.process_time()
        else:
            gc_s[0] += time.process_time() - gc_s[1]

    gc.callbacks.append(on_gc)
    from accelsim.cli_dispatch import imports_without_collection

    with imports_without_collection():  # as the accelsim program imports its subcommand
        for mod in THIRD_PARTY:  # what the run path imports, cheapest dependency first
            if mod in sys.modules:
                continue
            importlib.import_module(mod)
            take(f"import {mod}")
        import accelsim.cli.run as run_cli
        from accelsim import jit
        from accelsim.cli.energy_tables import print_energy
        take("import accelsim (rest)")
    aot_in_use = bool(jit._aot_table())  # loads the AOT kernels (accelsim.jit), as the first kernel call would
    take("kernels: AOT build load")
    loads = {"n": 0, "cpu_s": 0.0}
    if not aot_in_use:  # numba's JIT: its import and CPU target, then its cache loads (timed apart)
        with imports_without_collection():
            jit.ready_numba()
        take("kernels: numba import + target init")
        import numba.core.caching as caching

        original = caching.Cache.load_overload

        def timed_load(self, sig, target_context):
            c0 = time.process_time()
            try:
                return original(self, sig, target_context)
            finally:
                loads["n"] += 1
                loads["cpu_s"] += time.process_time() - c0

        caching.Cache.load_overload = timed_load
    arch = run_cli.load_arch(arch_path, {"scheduler.mapping": mapping})
    take("arch")
    workload = run_cli.load_workload(workload_dir)
    take("workload")
    scipy_before = "scipy.linalg" in sys.modules
    c0 = time.process_time()
    result = run_cli.simulate(arch, workload)
    sim_cpu = time.process_time() - c0
    mark = time.process_time()
    if not aot_in_use:
        steps["kernels: numba cache load"] = loads["cpu_s"]
    rest = sim_cpu - loads["cpu_s"]
    wall = dict(result.wall_phases_s)
    total_wall = sum(wall.values()) or 1.0
    for name, key in (("search", "search"), ("plan", "cost_map"), ("engine", "engine"), ("result", "result")):
        steps[name] = rest * wall[key] / total_wall
    result.summary()
    run_cli.check_summary(result.summary(), arch=arch_path, workload=workload_dir, overrides={})
    take("summary + checks")
    with open(os.devnull, "w") as sink:
        console = run_cli.Console(file=sink, width=80)
        run_cli.print_summary(result, console)
        print_energy(result.summary(), console)
    take("printing")
    return {"steps": steps, "numba_functions_loaded": loads["n"], "aot": jit.aot_status(),
            "numba_imported": "numba" in sys.modules,
            "scipy_imported_by_numba": "scipy.linalg" in sys.modules and not scipy_before, "gc_cpu_s": gc_s[0],
            "modules": len(sys.modules), "total_cpu_s": time.process_time()}


def _run_child(args: list[str]) -> dict:
    """The child's figures, plus ``teardown_cpu_s``: the child's CPU after its last figure (its interpreter's
    teardown at exit, which the ``accelsim`` program skips, and the kernel's exit work)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    got["teardown_cpu_s"] = cpu_s - got["total_cpu_s"]
    return got


def _child_cpu(cmd: list[str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default=str(REPO / "arch" / "int4.yaml"))
    ap.add_argument("--workload", default=str(REPO / "workloads" / "rnnt_beam16"))
    ap.add_argument("--mapping", default="search", choices=("search", "naive"))
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--baseline", metavar="DIR", help="also time the whole command with the accelsim package in "
                    "DIR (another commit's, e.g. `git archive ef3bba5 accelsim | tar -x -C DIR`), interleaved")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return 0
    try:
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})  # children inherit it
    except (AttributeError, OSError):
        pass
    _run_child([args.arch, args.workload, args.mapping])  # a fresh checkout compiles numba's cache here
    runs = [_run_child([args.arch, args.workload, args.mapping]) for _ in range(args.repeat)]
    best = min(runs, key=lambda r: r["total_cpu_s"])
    print(f"accelsim run {Path(args.arch).name} {Path(args.workload).name} (mapping {args.mapping}), CPU s of "
          f"the best of {args.repeat} fresh processes:")
    for name, cpu_s in best["steps"].items():
        print(f"  {name:<24} {cpu_s:6.3f}")
    print(f"  {'total':<24} {best['total_cpu_s']:6.3f}   ({best['modules']} modules loaded)")
    print(f"  {'(exit: teardown)':<24} {best['teardown_cpu_s']:6.3f}   (skipped by the accelsim program)")
    print(f"of which in the garbage collector: {best['gc_cpu_s']:.3f} CPU s")
    print(f"kernels: AOT build {best['aot']}; numba imported: {'yes' if best['numba_imported'] else 'no'}")
    if best["numba_imported"]:
        blas = [sys.executable, "-c", "import time, numpy, numba; c = time.process_time(); import scipy.linalg; "
                "print(time.process_time() - c)"]
        blas_s = min(float(subprocess.run(blas, capture_output=True, text=True, check=True).stdout)
                     for _ in range(args.repeat))
        print(f"numba functions loaded from its cache: {best['numba_functions_loaded']}; scipy.linalg imported "
              f"by numba's BLAS check: "
              f"{f'yes, {blas_s:.3f} CPU s of the target init' if best['scipy_imported_by_numba'] else 'no'}")
    cmd = [*ACCELSIM, "run", args.arch, args.workload, "--set", f"scheduler.mapping={args.mapping}"]
    run_s = min(_child_cpu(cmd) for _ in range(args.repeat))
    pass_s = min(_child_cpu([sys.executable, "-c", "pass"]) for _ in range(args.repeat))
    print(f"whole command `accelsim run` CPU s: {run_s:.3f}   (`python3 -c pass`: {pass_s:.3f})")
    if args.baseline:
        _compare(cmd, Path(args.baseline).resolve(), args.repeat, args.arch, args.workload)
    return 0


def _compare(cmd: list[str], baseline: Path, repeat: int, arch: str, workload: str) -> None:
    """The whole command with this checkout's ``accelsim`` and with ``baseline``'s, interleaved ``repeat`` times
    (so that both see the same machine load); each from a neutral working directory. When ``baseline`` also holds
    ``arch/`` and ``workloads/`` files of the same names (an old version reads only its own schema), it runs
    those, without ``--set``."""
    if not (baseline / "accelsim" / "__init__.py").is_file():
        raise SystemExit(f"--baseline {baseline}: expected a folder holding an accelsim package, e.g. from "
                         f"`git archive ef3bba5 accelsim | tar -x -C {baseline}`")
    own_arch, own_workload = baseline / "arch" / Path(arch).name, baseline / "workloads" / Path(workload).name
    base_cmd = cmd
    if own_arch.is_file() and own_workload.is_dir():
        base_cmd = [*ACCELSIM, "run", str(own_arch), str(own_workload)]
    times: dict[str, list[float]] = {"this checkout": [], f"baseline {baseline}": []}
    for _ in range(repeat):
        for (label, ts), root, argv in zip(times.items(), (REPO, baseline), (cmd, base_cmd)):
            env = {**os.environ, "PYTHONPATH": str(root)}
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=env, cwd="/")
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            ts.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    medians = []
    for label, ts in times.items():
        ts.sort()
        medians.append(ts[len(ts) // 2])
        print(f"  {label}: CPU s min {ts[0]:.3f}, median {ts[len(ts) // 2]:.3f} ({repeat} interleaved runs)")
    print(f"  baseline / this checkout (medians): {medians[1] / medians[0]:.2f}x")


if __name__ == "__main__":
    sys.exit(main())
