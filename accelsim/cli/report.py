"""`accelsim report RESULTS -o report.html`: one self-contained interactive page from a sweep's results."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from accelsim.atomic import atomic_write_text


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="turn a sweep's results into one self-contained interactive HTML page",
        description="Read RESULTS (a sweep --out folder or its results.parquet) and write an offline HTML page: "
        "speedup by phase, RTF vs beam, WER vs RTF, utilization, roofline, a Gantt timeline and the table. "
        "Nothing is simulated again.",
    )
    p.add_argument("results", type=Path, metavar="RESULTS", help="sweep folder or results.parquet")
    p.add_argument("-o", "--out", type=Path, required=True, help="HTML file to write")
    p.add_argument("--gantt", default=None, metavar="POINT",
                   help="point id (or prefix, or index) whose stored timeline to draw (default: the first stored)")
    p.add_argument("--markdown", type=Path, default=None, metavar="FILE",
                   help="also write the speedup/RTF table as Markdown; a FILE holding the markers "
                   "'<!-- accelsim:speedup-table:start/end -->' keeps its text and gets the table between them "
                   "(this is how docs/sweeps.md is refreshed)")
    p.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    from accelsim.report import build_page, load_report_inputs, speedup_table, to_markdown
    from accelsim.report.load import check_markers
    from accelsim.report.tables import embed_markdown

    inputs = load_report_inputs(args.results, args.gantt)
    page = build_page(inputs.results, inputs.meta, timeline=inputs.timeline, timeline_title=inputs.timeline_title,
                      source=str(inputs.source))
    atomic_write_text(args.out, page)
    print(f"wrote {args.out} ({len(page) / 1e6:.1f} MB, {len(inputs.results)} points)")
    if args.markdown:
        table = to_markdown(speedup_table(inputs.results))
        old = args.markdown.read_text(encoding="utf-8") if args.markdown.is_file() else ""
        embedded = embed_markdown(old, table)
        if embedded is None:
            check_markers(args.markdown, old)  # one marker alone: never overwrite the user's whole document
        mode = args.markdown.stat().st_mode & 0o777 if args.markdown.is_file() else None
        atomic_write_text(args.markdown, table if embedded is None else embedded)
        if mode is not None:  # an edited document (docs/sweeps.md) keeps its permissions
            os.chmod(args.markdown, mode)
        print(f"wrote {args.markdown}" + ("" if embedded is None else " (table between its markers)"))
    return 0
