"""``accelsim compare ARCH_A ARCH_B WORKLOAD``: speedup of B over A, overall and per phase."""

from __future__ import annotations

import argparse
import json

from rich.console import Console
from rich.table import Table

from accelsim.atomic import atomic_write_text
from accelsim.cli.energy_tables import add_energy_rows, energy_comparison
from accelsim.cli.run import add_common, parse_overrides
from accelsim.sim import simulate
from accelsim.spec import load_arch
from accelsim.trace import PHASES, load_workload
from accelsim.validation import check_summary


def _ratio(a: float, b: float) -> float | None:
    return a / b if b > 0 else None


def compare_summaries(a: dict, b: dict) -> dict:
    """Speedup ``A -> B`` (time_A / time_B) overall and per phase; None where B spends no time."""
    out = {"arch_a": a["arch"], "arch_b": b["arch"], "workload": a["workload"], "rtf_a": a["rtf"], "rtf_b": b["rtf"],
           "sim_a_s": a["sim_s"], "sim_b_s": b["sim_s"], "speedup": _ratio(a["sim_s"], b["sim_s"])}
    for p in PHASES:
        out[f"phase_{p}_a_s"] = a[f"phase_{p}_s"]
        out[f"phase_{p}_b_s"] = b[f"phase_{p}_s"]
        out[f"speedup_{p}"] = _ratio(a[f"phase_{p}_s"], b[f"phase_{p}_s"])
    out["dram_bytes_ratio"] = _ratio(a["dram_bytes"], b["dram_bytes"])
    out.update(energy_comparison(a, b))
    return out


def handle(args: argparse.Namespace) -> int:
    overrides = parse_overrides(args.overrides)
    arch_a = load_arch(args.arch_a, overrides)
    arch_b = load_arch(args.arch_b, overrides)
    workload = load_workload(args.workload)
    a = check_summary(simulate(arch_a, workload).summary(), arch=args.arch_a, workload=args.workload, overrides=overrides)
    b = check_summary(simulate(arch_b, workload).summary(), arch=args.arch_b, workload=args.workload, overrides=overrides)
    cmp = compare_summaries(a, b)
    table = Table(title=f"accelsim compare on {workload.name}: {a['arch']} -> {b['arch']}")
    for col in ("", f"A: {a['arch']} ms", f"B: {b['arch']} ms", "speedup A -> B"):
        table.add_column(col, justify="left" if not col else "right")
    fmt = lambda x: "-" if x is None else f"{x:.2f}x"  # noqa: E731
    table.add_row("total", f"{a['sim_s'] * 1e3:.2f}", f"{b['sim_s'] * 1e3:.2f}", fmt(cmp["speedup"]), style="bold")
    for p in PHASES:
        ta, tb = a[f"phase_{p}_s"], b[f"phase_{p}_s"]
        table.add_row(f"  {p}", f"{ta * 1e3:.2f}", f"{tb * 1e3:.2f}", fmt(cmp[f"speedup_{p}"]))
    table.add_row("RTF", f"{a['rtf']:.4f}", f"{b['rtf']:.4f}", "")
    table.add_row("bytes from DRAM (MB)", f"{a['dram_bytes'] / 1e6:.1f}", f"{b['dram_bytes'] / 1e6:.1f}",
                  fmt(cmp["dram_bytes_ratio"]))
    add_energy_rows(table, a, b, cmp)
    Console().print(table)
    print("phase times are critical-path attributions; per-phase speedups compare those shares")
    if args.json:
        atomic_write_text(args.json, json.dumps({"comparison": cmp, "a": a, "b": b}, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("compare", help="speedup of architecture B over A on one workload, overall and per phase",
                       description=__doc__)
    p.add_argument("arch_a", help="baseline architecture YAML (e.g. arch/fp16.yaml)")
    p.add_argument("arch_b", help="architecture YAML to compare (e.g. arch/int4.yaml)")
    p.add_argument("workload", help="workload directory")
    p.add_argument("--json", metavar="FILE", help="write both summaries and the speedups as JSON")
    add_common(p)
    p.set_defaults(func=handle)
