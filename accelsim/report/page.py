"""One self-contained HTML page from a results table: every figure, the summary and the full table, offline.

plotly.js is inlined once (no network access needed); each figure is a ``<div class="plot">`` with a stable id
(:data:`FIGURE_IDS`) so tests and users can find it.
"""

from __future__ import annotations

import html
from collections.abc import Callable

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs

from accelsim import __version__
from accelsim.report.figures_dse import fig_rtf_by_arch_field
from accelsim.report.figures_energy import fig_energy_breakdown, fig_wer_vs_energy
from accelsim.report.figures_hw import fig_gantt, fig_roofline, fig_utilization
from accelsim.report.figures_perf import fig_rtf_vs_beam, fig_speedup_by_phase, fig_wer_vs_rtf
from accelsim.report.tables import results_html_table, speedup_table, to_markdown

#: Section id -> (heading, figure function of the results table).
FIGURES: dict[str, tuple[str, Callable[[pd.DataFrame], go.Figure]]] = {
    "fig-speedup-by-phase": ("Speedup vs FP16 by phase", fig_speedup_by_phase),
    "fig-rtf-vs-beam": ("RTF vs beam width", fig_rtf_vs_beam),
    "fig-wer-vs-rtf": ("WER vs RTF", fig_wer_vs_rtf),
    "fig-wer-vs-energy": ("WER vs energy", fig_wer_vs_energy),
    "fig-energy-breakdown": ("Energy by component", fig_energy_breakdown),
    "fig-rtf-by-arch-field": ("RTF by architecture field", fig_rtf_by_arch_field),
    "fig-utilization": ("Utilization", fig_utilization),
    "fig-roofline": ("Roofline per op class", fig_roofline),
}
GANTT_ID = "fig-gantt"
FIGURE_IDS = (*FIGURES, GANTT_ID)

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1200px;padding:1em 2em;
color:#222} h1{margin-bottom:.2em} .meta{color:#666;margin-top:0} nav a{margin-right:1em}
section{margin:2em 0} table{border-collapse:collapse;font-size:13px} th,td{border:1px solid #ddd;padding:3px 6px;
text-align:right} th{background:#f4f4f4;position:sticky;top:0} tr.error td{background:#fde8e8}
.scroll{max-height:520px;overflow:auto} .md-table td:first-child,.md-table th:first-child{text-align:left}
"""


def _figure_div(fig: go.Figure, div_id: str) -> str:
    return pio.to_html(fig, full_html=False, include_plotlyjs=False, div_id=div_id,
                       config={"displaylogo": False, "responsive": True})


def _markdown_table_html(md: str) -> str:
    """The speedup table's Markdown rendered as a plain HTML table."""
    lines = [ln for ln in md.strip().splitlines() if ln.startswith("|")]
    if len(lines) < 2:
        return f"<p>{html.escape(md.strip().strip('_'))}</p>"
    def cells(line: str) -> list[str]:
        return [html.escape(c.strip()) for c in line.strip().strip("|").split("|")]
    head = "".join(f"<th>{c}</th>" for c in cells(lines[0]))
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in cells(ln)) + "</tr>" for ln in lines[2:])
    return f'<table class="md-table" id="speedup-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def build_page(
    df: pd.DataFrame,
    meta: dict,
    *,
    timeline: pd.DataFrame | None = None,
    timeline_title: str = "",
    source: str = "",
) -> str:
    """The report page as one HTML string (see the module doc). Pure: reads nothing, recomputes nothing."""
    name = html.escape(str(meta.get("sweep", "sweep")))
    done, total = len(df), meta.get("points_total", len(df))
    errors = int((df["status"] == "error").sum()) if "status" in df else 0
    sections = []
    md = to_markdown(speedup_table(df))
    sections.append(f'<section id="summary"><h2>Speedup and RTF</h2>{_markdown_table_html(md)}</section>')
    for div_id, (heading, fn) in FIGURES.items():
        sections.append(f'<section><h2>{heading}</h2>{_figure_div(fn(df), div_id)}</section>')
    gantt = fig_gantt(timeline, title=timeline_title or "Timeline") if timeline is not None else fig_gantt(
        None, title="Timeline: no point of this sweep stored one (add a timeline: selector to the sweep spec)")
    sections.append(f'<section><h2>Timeline</h2>{_figure_div(gantt, GANTT_ID)}</section>')
    sections.append(f'<section><h2>All points</h2><div class="scroll">{results_html_table(df)}</div>'
                    "<p>Every column is in results.csv / results.parquet beside the sweep.</p></section>")
    links = [("summary", "Speedup and RTF"), *((i, h) for i, (h, _) in FIGURES.items()), (GANTT_ID, "Timeline"),
             ("results-table", "All points")]
    nav = " ".join(f'<a href="#{i}">{html.escape(h)}</a>' for i, h in links)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>accelsim report: {name}</title><style>{_CSS}</style>"
        f"<script type=\"text/javascript\">{get_plotlyjs()}</script></head><body>"
        f"<h1>accelsim sweep report: {name}</h1>"
        f'<p class="meta">{done} of {total} points finished, {errors} with errors. Source: '
        f"{html.escape(source)}. accelsim {__version__}.</p>"
        f"<nav>{nav}</nav>{''.join(sections)}</body></html>\n"
    )
