"""How long the mapping search takes: ``simulate()`` on workloads/rnnt_beam16 with the naive mapping, with the
searched one, the search alone, and ``accelsim run`` end to end with each (issue 10's limit: the search may
not make ``accelsim run`` slower than 2x its end-to-end time before the mapper existed, 1.44 CPU s on the
2-core build machine at commit ae0ebbc, recorded there with ``time accelsim run arch/int4.yaml
workloads/rnnt_beam16``).

    python3 benchmarks/map_search.py [--repeat 3] [--arch arch/int4.yaml]

Prints the best of ``--repeat`` runs of each, split into search (ranking and verification) / plan (the chosen
mapping's full plan) / engine / result. Times grow when the machine is loaded.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from accelsim.sim import simulate  # noqa: E402
from accelsim.spec import load_arch  # noqa: E402
from accelsim.trace import load_workload  # noqa: E402


BEFORE_MAPPER_RUN_CPU_S = 1.44  # recorded at commit ae0ebbc (module docstring)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--arch", default=str(ROOT / "arch" / "int4.yaml"))
    ap.add_argument("--workload", default=str(ROOT / "workloads" / "rnnt_beam16"))
    args = ap.parse_args()
    t0 = time.perf_counter()
    workload = load_workload(args.workload)
    load_s = time.perf_counter() - t0
    print(f"{workload.name}: {workload.n_ops:,} ops, loaded in {load_s:.2f} s")
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
    print(f"searched / naive simulate() time: {best['search'][0] / best['naive'][0]:.2f}x; search alone: "
          f"{best['search'][1]['search']:.2f} s")
    for mapping in ("naive", "search"):
        cpu = []
        for _ in range(args.repeat):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run([sys.executable, "-c", "import sys; from accelsim.cli import main; sys.exit(main())",
                            "run", args.arch, args.workload, "--set", f"scheduler.mapping={mapping}"],
                           check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        print(f"accelsim run ({mapping}): {min(cpu):.2f} CPU s" + (
            f" = {min(cpu) / BEFORE_MAPPER_RUN_CPU_S:.2f}x the pre-mapper {BEFORE_MAPPER_RUN_CPU_S} s (limit 2x)"
            if mapping == "search" else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
