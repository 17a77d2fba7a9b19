"""Tables of a sweep: the paper-style speedup/RTF summary (also as Markdown) and the full results as HTML."""

from __future__ import annotations

import html
import re

import pandas as pd

from accelsim.report.frame import BASELINE_PRECISION, config_label, override_columns, precisions, with_baseline

#: Columns of the results table shown on the page, in this order when present (results.csv has them all).
PAGE_COLUMNS = ("point_index", "point_id", "status", "precision_mode", "workload", "beam", "fusion", "rtf", "sim_s",
                "util_matrix", "util_sfu", "util_dram", "dram_bytes", "wer_percent", "arch_file", "error")


def speedup_table(df: pd.DataFrame) -> pd.DataFrame:
    """One row per configuration (fusion, beam, varied arch fields): RTF of each precision and its speedup vs FP16.

    Column names: ``rtf_<precision>`` and ``speedup_<precision>`` (FP16 sim_s / this sim_s).
    """
    data = with_baseline(df)
    if data.empty:
        return pd.DataFrame()
    keys = ["fusion", "beam", *[c for c in override_columns(data) if data[c].nunique() > 1]]
    precs = precisions(data)
    rtf = data.pivot_table(index=keys, columns="precision_mode", values="rtf", aggfunc="first")
    speed = data.pivot_table(index=keys, columns="precision_mode", values="speedup", aggfunc="first")
    out = pd.concat(
        [rtf[precs].add_prefix("rtf_"), speed[[p for p in precs if p != BASELINE_PRECISION]].add_prefix("speedup_")],
        axis=1,
    ).reset_index()
    out["fusion"] = pd.Categorical(out["fusion"], categories=["dr", "shallow", "none"], ordered=True)
    out = out.sort_values(["fusion", *keys[1:]]).reset_index(drop=True)
    out["fusion"] = out["fusion"].astype(str)
    return out


def to_markdown(table: pd.DataFrame) -> str:
    """GitHub Markdown for a speedup table: RTF to 4 significant digits, speedups as ``3.41x``."""
    if table.empty:
        return "_no FP16 baseline in these results: nothing to compare_\n"
    def title(col: str) -> str:
        if col.startswith("rtf_"):
            return "RTF " + col[4:].upper()
        if col.startswith("speedup_"):
            return col[8:].upper() + " speedup"
        return {"fusion": "LM fusion"}.get(col, col.removeprefix("arch."))

    header = [title(c) for c in table.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if i else "---" for i in range(len(header))) + "|"]
    for _, row in table.iterrows():
        cells = []
        for col in table.columns:
            v = row[col]
            if col == "fusion":
                cells.append({"dr": "DR (2 LMs)", "none": "none", "shallow": "shallow"}.get(v, str(v)))
            elif col.startswith("rtf_"):
                cells.append("" if pd.isna(v) else f"{v:.4g}")
            elif col.startswith("speedup_"):
                cells.append("" if pd.isna(v) else f"{v:.2f}x")
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


TABLE_START = "<!-- accelsim:speedup-table:start -->"
TABLE_END = "<!-- accelsim:speedup-table:end -->"


def embed_markdown(document: str, table_md: str) -> str | None:
    """``document`` with the text between its speedup-table markers replaced by ``table_md``; None without markers.

    Markers count only alone on their own line (so prose may mention them)."""
    start = re.search(rf"^{re.escape(TABLE_START)}[ \t]*$", document, flags=re.M)
    end = re.search(rf"^{re.escape(TABLE_END)}[ \t]*$", document, flags=re.M)
    if start is None or end is None or end.start() < start.end():
        return None
    return document[: start.end()] + "\n" + table_md + document[end.start():]


def _fmt(col: str, v: object) -> str:
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return ""
    if col.startswith("util_") and isinstance(v, float):
        return f"{v:.1%}"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def results_html_table(df: pd.DataFrame, table_id: str = "results-table") -> str:
    """The results as an HTML table (key columns, one row per point; errors highlighted). Escaped."""
    cols = [c for c in PAGE_COLUMNS if c in df.columns] + [c for c in override_columns(df)]
    data = df.assign(config=config_label(df)) if {"beam", "fusion"} <= set(df.columns) and len(df) else df
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = []
    for _, row in data.iterrows():
        cls = ' class="error"' if row.get("status") == "error" else ""
        cells = "".join(f"<td>{html.escape(_fmt(c, row[c]))}</td>" for c in cols)
        body.append(f"<tr{cls}>{cells}</tr>")
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
