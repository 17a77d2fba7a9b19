"""`accelsim sweep SPEC.yaml --out DIR`: run a design-space sweep (docs/sweeps.md)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from accelsim.sweep import BACKENDS, make_backend, run_sweep


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sweep",
        help="run a grid of simulations (precision x beam x architecture) into a results table",
        description="Run every point of SPEC.yaml; write DIR/results.parquet and .csv (one row per point), "
        "DIR/journal.jsonl and DIR/sweep.resolved.yaml. Interrupted sweeps continue with --resume.",
    )
    p.add_argument("spec", type=Path, metavar="SPEC.yaml", help="sweep file (see sweeps/paper.yaml)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: runs/<sweep name>)")
    p.add_argument("--resume", action="store_true", help="continue a sweep in --out; finished points are not rerun")
    p.add_argument("--retry-errors", action="store_true", help="with --resume, also rerun points that failed")
    p.add_argument("--backend", choices=BACKENDS, default="local", help="local process pool or Dask distributed")
    p.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1), help="parallel workers")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="with --backend dask: address of an existing scheduler (default: a local cluster)")
    p.add_argument("--max-points", type=int, default=None, metavar="N",
                   help="refuse grids larger than N points (default 10000, or $ACCELSIM_MAX_SWEEP_POINTS)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (default: shown on a terminal)")
    p.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    from accelsim.sweep.spec import load_sweep

    out = args.out
    if out is None:
        spec, _, _ = load_sweep(args.spec)
        out = Path("runs") / spec.name
    backend = make_backend(args.backend, args.workers, args.scheduler)
    try:
        rep = run_sweep(
            args.spec, out, backend=backend, resume=args.resume, retry_errors=args.retry_errors,
            progress=False if args.no_progress else None, max_points=args.max_points,
        )
    except KeyboardInterrupt:
        print(f"accelsim sweep: interrupted; finished points are kept in {out} (continue with --resume)",
              file=sys.stderr)
        return 130
    print(
        f"{rep.total} points ({rep.reused} reused, {rep.ran} run, {rep.errors} with errors) in {rep.elapsed_s:.1f} s"
        f" -> {out / 'results.parquet'}, {out / 'results.csv'}"
    )
    if rep.stale:
        print(f"note: {rep.stale} journal record(s) match no point of this grid (kept in {out / 'journal.jsonl'})")
    if rep.errors:
        print(f"{rep.errors} point(s) failed: see the error column of {out / 'results.csv'}", file=sys.stderr)
        return 1
    return 0
