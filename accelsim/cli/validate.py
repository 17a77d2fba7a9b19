"""``accelsim validate ARCH MEASURED.csv --measured graph_us|median_us``: predicted vs measured op latencies."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from accelsim.atomic import atomic_write_text
from accelsim.cli.run import add_common, parse_overrides
from accelsim.spec import load_arch
from accelsim.validate.measured import LATENCY_COLUMNS, read_measured
from accelsim.validate.predict import predict_plain
from accelsim.validate.report import group_table, worst_rows


def handle(args: argparse.Namespace) -> int:
    arch = load_arch(args.arch, parse_overrides(args.overrides))
    df = read_measured(args.measured_csv, args.measured)
    df = df.assign(pred_us=predict_plain(df, arch) * 1e6)
    console = Console()
    mode = f", {arch.gpu.launch.mode} launches" if arch.gpu is not None else ""
    groups = group_table(df, args.measured)
    table = Table(title=f"accelsim validate: {arch.name}{mode} vs {args.measured} of {args.measured_csv}")
    for col in ("op", "dtype", "rows", "MAPE %", "median APE %", "worst APE %"):
        table.add_column(col, justify="left" if col in ("op", "dtype") else "right")
    for r in groups.itertuples(index=False):
        table.add_row(r.op, r.dtype, str(r.rows), f"{r.mape_pct:.1f}", f"{r.median_ape_pct:.1f}",
                      f"{r.worst_ape_pct:.1f}", style="bold" if r.op == "all" else None)
    console.print(table)
    worst = worst_rows(df, args.measured, per_group=args.worst)
    wt = Table(title=f"worst {args.worst} row(s) per (op, dtype)")
    for col in ("op", "dtype", "M", "K", "N", f"{args.measured}", "pred_us", "APE %"):
        wt.add_column(col, justify="left" if col in ("op", "dtype") else "right")
    for r in worst.itertuples(index=False):
        wt.add_row(r[0], r[1], str(r[2]), str(r[3]), str(r[4]), f"{r[5]:.3f}", f"{r[6]:.3f}", f"{r[7]:.1f}")
    console.print(wt)
    if args.out:
        atomic_write_text(args.out, df.to_csv(index=False, float_format="%.6g"))
        print(f"wrote {args.out}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("validate", help="predict measured op latencies with the cost path; MAPE per (op, dtype)",
                       description=__doc__)
    p.add_argument("arch", help="architecture YAML (e.g. arch/h100.yaml)")
    p.add_argument("measured_csv", metavar="MEASURED.csv", help="op,dtype,M,K,N and latency columns (us)")
    p.add_argument("--measured", choices=LATENCY_COLUMNS, default="graph_us",
                   help="which latency column to compare with (default graph_us)")
    p.add_argument("--out", metavar="PRED.csv", help="write the input rows with a pred_us column")
    p.add_argument("--worst", type=int, default=1, metavar="N", help="worst rows shown per group (default 1)")
    add_common(p)
    p.set_defaults(func=handle)
