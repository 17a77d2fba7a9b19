"""Cost of loading a workload: CPU seconds, resident memory per op, bytes the loaded arrays hold per op.

    python3 benchmarks/load_workload.py [WORKLOAD ...] [--repeat 3]
        (default: the 5 min and 1 h workloads of benchmarks/sim_speed.py under /tmp/accelsim_sim_speed)

Each repetition is a fresh process pinned to one CPU where possible (imports done before the clock starts):

- ``load CPU s``: ``load_workload`` plus the integer view the simulator reads (``op_codes``), CPU seconds;
- ``RSS B/op``: resident memory after the load minus before, over the op count (it includes freed temporaries
  that the process keeps for what follows, accelsim.hostmem);
- ``held B/op``: bytes of the arrays the workload keeps (the integer view and ``step``), over the op count;
- whether pandas was imported (the simulator's path never needs it).

Prints the best of ``--repeat`` and the range. Numbers depend on the machine and its load; CPU seconds are
the robust figure on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT = ["/tmp/accelsim_sim_speed/beam16_dr_30x10s", "/tmp/accelsim_sim_speed/beam16_dr_360x10s"]


def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def child(workload_dir: str) -> dict:
    """One measured load in this fresh process."""
    from accelsim.trace import load_workload
    from accelsim.trace.coded import TEXT_COLUMNS, op_codes

    rss0, c0 = _rss_bytes(), time.process_time()
    workload = load_workload(workload_dir)
    oc = op_codes(workload)
    cpu = time.process_time() - c0
    n = max(workload.n_ops, 1)
    held = sum(getattr(oc, c).codes.nbytes for c in TEXT_COLUMNS)
    held += sum(a.nbytes for a in (oc.m, oc.k, oc.n, oc.utt, oc.dep_ptr, oc.dep_src, workload.step))
    return {"ops": workload.n_ops, "cpu_s": cpu, "rss_per_op": (_rss_bytes() - rss0) / n, "held_per_op": held / n,
            "pandas": "pandas" in sys.modules}


def _run_child(workload_dir: str) -> dict:
    cmd = [sys.executable, __file__, "--child", workload_dir]
    if hasattr(os, "sched_setaffinity"):
        cmd = ["taskset", "-c", str(min(os.sched_getaffinity(0))), *cmd]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workloads", nargs="*", default=DEFAULT)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        import numpy  # noqa: F401 - imported before the clock, as the CLI has them by then
        import pyarrow.parquet  # noqa: F401
        import pydantic  # noqa: F401

        print(json.dumps(child(args.child)))
        return 0
    print(f"{'workload':28s} {'ops':>11} {'load CPU s':>10} {'(range)':>11} {'RSS B/op':>9} {'held B/op':>9} pandas")
    for wl in args.workloads:
        runs = [_run_child(wl) for _ in range(args.repeat)]
        cpu = sorted(r["cpu_s"] for r in runs)
        best = min(runs, key=lambda r: r["cpu_s"])
        print(f"{Path(wl).name:28s} {best['ops']:>11,} {cpu[0]:>10.2f} {f'({cpu[0]:.2f}-{cpu[-1]:.2f})':>11} "
              f"{best['rss_per_op']:9.1f} {best['held_per_op']:9.1f} {'yes' if best['pandas'] else 'no'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
