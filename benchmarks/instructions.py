"""Instructions executed by one short ``accelsim run``, counted by valgrind: this checkout against another version.

    python3 -m accelsim.aot build --cpu generic       # valgrind cannot decode the host build's AVX-512 code
    python3 benchmarks/instructions.py --baseline DIR [--arch arch/int4.yaml] [--workload workloads/rnnt_beam16]
    python3 -m accelsim.aot build                     # back to the host build

CPU seconds of a sub-second command drift by a quarter on a shared machine; the instruction count of a
deterministic process does not (``valgrind --tool=callgrind``, ``PYTHONHASHSEED=0``: the same count to about
0.5 %). This counts, for the whole command (interpreter start-up to exit, the ``accelsim`` program's own
path), this checkout's ``accelsim run ARCH WORKLOAD`` with the search and with the naive mapping, and, with
``--baseline DIR``, the same run of the version in DIR (e.g. ``git archive 3078feb~1 accelsim arch
workloads/rnnt_beam16 | tar -x -C DIR``: it runs DIR's own ``arch/`` and ``workloads/`` files of the same
names, as an old version reads only its own schema, with no ``--set``). Both versions' modules are
byte-compiled first (as installed packages are), a numba JIT is warmed up once and compiled for a generic CPU
(``NUMBA_CPU_NAME=generic``), and the ratio baseline / this is printed. Instructions are not seconds (the
two versions' mixes differ), but they rank and scale changes reproducibly.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROGRAM = "import sys; from accelsim.cli import main; sys.exit(main())"


def count_instructions(root: Path, argv: list[str]) -> int:
    """Instructions of ``accelsim ARGV`` run with the accelsim package in ``root`` (after one warm-up run)."""
    env = {**os.environ, "PYTHONPATH": str(root), "PYTHONHASHSEED": "0", "NUMBA_CPU_NAME": "generic"}
    cmd = [sys.executable, "-c", PROGRAM, *argv]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env, cwd="/")  # numba's cache, if any
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/cg.out", *cmd],
                             capture_output=True, text=True, env=env, cwd="/")
    if out.returncode != 0:
        raise SystemExit(f"valgrind run of {' '.join(argv)} failed ({out.returncode}): {out.stderr[-800:]}")
    found = re.search(r"Collected : (\d+)", out.stderr)
    if found is None:
        raise SystemExit(f"no instruction count in valgrind's output: {out.stderr[-800:]}")
    return int(found.group(1))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="arch/int4.yaml")
    ap.add_argument("--workload", default="workloads/rnnt_beam16")
    ap.add_argument("--baseline", metavar="DIR", help="a folder with another version's accelsim/, arch/ and "
                    "workloads/ (module docstring)")
    args = ap.parse_args()
    if shutil.which("valgrind") is None:
        print("benchmarks/instructions.py: needs valgrind (apt-get install valgrind)", file=sys.stderr)
        return 2
    manifest = REPO / "accelsim" / "_kernels_aot.json"
    if manifest.is_file() and json.loads(manifest.read_text()).get("cpu", "host") != "generic":
        print("benchmarks/instructions.py: the AOT kernels are built for the host CPU, whose instructions valgrind "
              "may not decode: python3 -m accelsim.aot build --cpu generic first", file=sys.stderr)
        return 2
    roots = {"this checkout": REPO}
    if args.baseline:
        roots[f"baseline {args.baseline}"] = Path(args.baseline).resolve()
    for root in roots.values():
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(root / "accelsim")], check=True)
    runs = {}
    for mapping in ("search", "naive"):
        runs[f"this checkout, {mapping}"] = count_instructions(
            REPO, ["run", str(REPO / args.arch), str(REPO / args.workload), "--set", f"scheduler.mapping={mapping}"])
    if args.baseline:
        base = roots[f"baseline {args.baseline}"]
        runs["baseline"] = count_instructions(base, ["run", str(base / args.arch), str(base / args.workload)])
    print(f"accelsim run {args.arch} {args.workload}: instructions of the whole command (valgrind)")
    for label, n in runs.items():
        ratio = f"   baseline / this: {runs['baseline'] / n:.2f}x" if "baseline" in runs and label != "baseline" else ""
        print(f"  {label:<26} {n / 1e9:6.3f} G{ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
