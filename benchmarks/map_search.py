"""How long the mapping search takes: ``simulate()`` on workloads/rnnt_beam16 with the naive mapping, with the
searched one, and the search alone (host seconds; the issue's limit: searched <= 2x naive end to end).

    python3 benchmarks/map_search.py [--repeat 3] [--arch arch/int4.yaml]

Prints the best of ``--repeat`` runs of each, and the search's share split into search / plan / engine.
Wall times grow when the machine is loaded.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from accelsim.sim import simulate  # noqa: E402
from accelsim.spec import load_arch  # noqa: E402
from accelsim.trace import load_workload  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--arch", default=str(ROOT / "arch" / "int4.yaml"))
    ap.add_argument("--workload", default=str(ROOT / "workloads" / "rnnt_beam16"))
    args = ap.parse_args()
    t0 = time.perf_counter()
    workload = load_workload(args.workload)
    load_s = time.perf_counter() - t0
    print(f"{workload.name}: {len(workload.ops):,} ops, loaded in {load_s:.2f} s")
    best = {}
    for mapping in ("naive", "search"):
        arch = load_arch(args.arch, {"scheduler.mapping": mapping})
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            result = simulate(arch, workload)
            times.append((time.perf_counter() - t, result.wall_phases_s, result.sim_s, result.mapping.name))
        best[mapping] = min(times, key=lambda x: x[0])
    for mapping, (wall, phases, sim_s, name) in best.items():
        split = ", ".join(f"{k} {v:.2f} s" for k, v in phases.items())
        print(f"{mapping:>6}: simulate() {wall:.2f} s ({split}); simulated {sim_s * 1e3:.1f} ms with {name}")
    ratio = best["search"][0] / best["naive"][0]
    print(f"searched / naive simulate() time: {ratio:.2f}x (limit 2x); search alone: "
          f"{best['search'][1]['search']:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
