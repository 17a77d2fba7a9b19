"""Print (or write into the docs) the simulator's headline tables.

    python3 scripts/sim_results.py            # print every table (Markdown)
    python3 scripts/sim_results.py --write    # replace the marked tables in docs/simulator.md, docs/results.md

Each table sits in the docs between ``<!-- sim_results:NAME -->`` and ``<!-- /sim_results:NAME -->``;
tests/test_map_docs.py fails when one is stale. Tables: ``headline`` (FP16 / INT8 / INT4 on
workloads/rnnt_beam16, naive vs searched mapping, overlapped vs summed per-op latencies), ``bandwidth`` (the
unpublished off-chip bandwidth), ``cores`` (core-count sweep 1..8, INT4), ``pes`` (PE-array sweep, INT4),
``ledger`` (which assumption sets bring both the paper's 3.4x and its INT4 RTF 0.06 within 15 %).
"""

from __future__ import annotations

import re
import sys
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from accelsim.sim import simulate  # noqa: E402
from accelsim.spec import load_arch  # noqa: E402
from accelsim.trace import load_workload  # noqa: E402

MODES = ("fp16", "int8", "int4")
DOCS = (ROOT / "docs" / "simulator.md", ROOT / "docs" / "results.md")
PAPER_SPEEDUP, PAPER_INT4_RTF = 3.4, 0.06


@lru_cache(maxsize=None)
def _workload(name: str):
    return load_workload(ROOT / "workloads" / name)


@lru_cache(maxsize=None)
def run(mode: str, workload: str = "rnnt_beam16", **overrides) -> dict:
    """Summary of one run; overrides are dotted paths with '__' for '.'."""
    ov = {k.replace("__", "."): v for k, v in overrides.items()}
    return simulate(load_arch(ROOT / "arch" / f"{mode}.yaml", ov or None), _workload(workload)).summary()


VARIANTS = (("naive, overlapped", {"scheduler__mapping": "naive"}),
            ("searched, overlapped", {}),
            ("naive, summed (paper method)", {"scheduler__mapping": "naive", "scheduler__overlap": "none"}),
            ("searched, summed (paper method)", {"scheduler__overlap": "none"}))


def headline() -> str:
    out = ["| mapping, schedule | FP16 RTF | INT8 RTF | INT4 RTF | INT8 speedup | INT4 speedup |",
           "|---|---|---|---|---|---|"]
    for label, ov in VARIANTS:
        rows = {m: run(m, **ov) for m in MODES}
        fp16 = rows["fp16"]["sim_s"]
        out.append(f"| {label} | " + " | ".join(f"{rows[m]['rtf']:.4f}" for m in MODES) + " | "
                   + " | ".join(f"{fp16 / rows[m]['sim_s']:.2f}x" for m in ("int8", "int4")) + " |")
    out.append(f"| paper | ~0.2 | | {PAPER_INT4_RTF} | | {PAPER_SPEEDUP}x |")
    out.append("")
    out.append("| searched, overlapped: critical path (resources used) | FP16 | INT8 | INT4 |")
    out.append("|---|---|---|---|")
    rows = {m: run(m) for m in MODES}
    for phase in ("encoder", "prediction", "lm_target", "lm_source", "joint", "search", "load"):
        cells = " | ".join(f"{rows[m][f'phase_{phase}_s'] * 1e3:.1f} ms ({rows[m][f'use_{phase}_dram_bytes'] / 1e9:.2f}"
                           f" GB, {rows[m][f'use_{phase}_channel_s'] * 1e3:.0f} ms channel)" for m in MODES)
        out.append(f"| {phase} | {cells} |")
    out.append("| mapping chosen | " + " | ".join(f"`{rows[m]['mapping']}`" for m in MODES) + " |")
    return "\n".join(out)


def bandwidth() -> str:
    names = ("rnnt_beam16", "rnnt_nolm_beam16", "rnnt_beam1")
    out = ["| DRAM | mapping | FP16 RTF | INT4 RTF | speedup DR b16 | no LM b16 | DR b1 |", "|---|---|---|---|---|---|---|"]
    for bw in ("64 GB/s", "200 GB/s", "1 TB/s"):
        for label, ov in (("naive", {"scheduler__mapping": "naive"}), ("searched", {})):
            sp = {n: (run("fp16", n, offchip__bandwidth=bw, **ov), run("int4", n, offchip__bandwidth=bw, **ov))
                  for n in names}
            a, b = sp["rnnt_beam16"]
            out.append(f"| {bw} | {label} | {a['rtf']:.4f} | {b['rtf']:.4f} | "
                       + " | ".join(f"{sp[n][0]['sim_s'] / sp[n][1]['sim_s']:.2f}x" for n in names) + " |")
    return "\n".join(out)


def cores() -> str:
    out = ["| cores | " + " | ".join(str(c) for c in range(1, 9)) + " |", "|---" * 9 + "|"]
    for label, ov in (("naive", {"scheduler__mapping": "naive"}), ("searched", {})):
        out.append(f"| INT4 RTF, {label} | " + " | ".join(f"{run('int4', cores=c, **ov)['rtf']:.4f}"
                                                          for c in range(1, 9)) + " |")
    return "\n".join(out)


PE_POINTS = ((8, 8, "os"), (16, 16, "os"), (32, 32, "os"), (8, 8, "ws"), (16, 8, "ws"), (32, 8, "ws"))


def pes() -> str:
    out = ["| array (rows x cols, dataflow) | " + " | ".join(f"{r}x{c} {d}" for r, c, d in PE_POINTS) + " |",
           "|---" * (len(PE_POINTS) + 1) + "|"]
    for label, ov in (("naive", {"scheduler__mapping": "naive"}), ("searched", {})):
        cells = [run("int4", core__matrix__rows=r, core__matrix__cols=c, core__matrix__dataflow=d, **ov)["rtf"]
                 for r, c, d in PE_POINTS]
        out.append(f"| INT4 RTF, {label} | " + " | ".join(f"{x:.4f}" for x in cells) + " |")
    return "\n".join(out)


LEDGER = (
    ("64 GB/s, naive, overlapped (the old default)", {"scheduler__mapping": "naive"}),
    ("64 GB/s, searched, overlapped (default)", {}),
    ("64 GB/s, searched, summed", {"scheduler__overlap": "none"}),
    ("32 GB/s, searched, summed", {"offchip__bandwidth": "32 GB/s", "scheduler__overlap": "none"}),
    ("200 GB/s, searched, summed", {"offchip__bandwidth": "200 GB/s", "scheduler__overlap": "none"}),
    ("1 TB/s, searched, overlapped", {"offchip__bandwidth": "1 TB/s"}),
    ("1 TB/s, searched, summed", {"offchip__bandwidth": "1 TB/s", "scheduler__overlap": "none"}),
    ("64 GB/s, searched, summed, 1000-cycle dispatch", {"scheduler__overlap": "none",
                                                         "overheads__dispatch_cycles": 1000}),
)


def ledger() -> str:
    out = ["| assumption set | FP16 RTF | INT4 RTF | speedup | 3.4x within 15 % | RTF 0.06 within 15 % |",
           "|---|---|---|---|---|---|"]
    for label, ov in LEDGER:
        a, b = run("fp16", **ov), run("int4", **ov)
        sp = a["sim_s"] / b["sim_s"]
        ok_sp = abs(sp / PAPER_SPEEDUP - 1) <= 0.15
        ok_rtf = abs(b["rtf"] / PAPER_INT4_RTF - 1) <= 0.15
        out.append(f"| {label} | {a['rtf']:.4f} | {b['rtf']:.4f} | {sp:.2f}x | {'yes' if ok_sp else 'no'} | "
                   f"{'yes' if ok_rtf else 'no'} |")
    return "\n".join(out)


TABLES = {"headline": headline, "bandwidth": bandwidth, "cores": cores, "pes": pes, "ledger": ledger}


def block(name: str, text: str) -> str:
    return f"<!-- sim_results:{name} -->\n{text}\n<!-- /sim_results:{name} -->"


def render() -> dict[str, str]:
    return {name: fn() for name, fn in TABLES.items()}


def replace_blocks(doc: str, tables: dict[str, str]) -> str:
    for name, text in tables.items():
        doc = re.sub(rf"<!-- sim_results:{name} -->.*?<!-- /sim_results:{name} -->", lambda _m: block(name, text),
                     doc, flags=re.S)
    return doc


if __name__ == "__main__":
    tables = render()
    if "--write" in sys.argv:
        from accelsim.atomic import atomic_write_text

        for path in DOCS:
            atomic_write_text(path, replace_blocks(path.read_text(), tables))
            print(f"updated {path}")
    else:
        for name, text in tables.items():
            print(block(name, text) + "\n")
