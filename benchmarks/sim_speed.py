"""Simulator speed: trace ops simulated per second on one core (target >= 200,000 ops/s for rnnt_beam16).

    python3 benchmarks/sim_speed.py [--workload workloads/rnnt_beam16] [--arch arch/int4.yaml] [--repeat 5]

Times a whole ``simulate()`` call (cost tables, placement, residency, the discrete-event run, critical path
and summary) after one warm-up run; loading the workload is timed separately. Reports wall and process CPU
time (the CPU figure is robust to other jobs on a shared machine). Pins itself to one CPU where possible.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from accelsim.sim import simulate
from accelsim.spec import load_arch
from accelsim.trace import load_workload

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workload", default=str(REPO / "workloads" / "rnnt_beam16"))
    ap.add_argument("--arch", action="append", default=None, help="repeatable; default fp16 and int4")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    t0 = time.perf_counter()
    workload = load_workload(args.workload)
    load_s = time.perf_counter() - t0
    n = len(workload.ops)
    print(f"workload {workload.name}: {n:,} ops, {workload.audio_seconds:.2f} s audio, loaded in {load_s:.3f} s")
    for path in args.arch or [str(REPO / "arch" / "fp16.yaml"), str(REPO / "arch" / "int4.yaml")]:
        arch = load_arch(path)
        simulate(arch, workload).summary()  # warm-up
        walls, cpus = [], []
        for _ in range(args.repeat):
            w0, c0 = time.perf_counter(), time.process_time()
            result = simulate(arch, workload)
            result.summary()
            walls.append(time.perf_counter() - w0)
            cpus.append(time.process_time() - c0)
        best_cpu, med_wall = min(cpus), statistics.median(walls)
        print(f"{arch.name:14s} RTF {result.rtf:.4f}  wall median {med_wall:.3f} s ({n / med_wall:,.0f} ops/s)  "
              f"CPU best {best_cpu:.3f} s ({n / best_cpu:,.0f} ops/s)  distinct op costs "
              f"{int(result.costs['distinct_keys'][0])}")


if __name__ == "__main__":
    main()
