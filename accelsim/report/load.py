"""Read what a report needs from a sweep folder: the results table and, for the Gantt view, one stored timeline."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa

from accelsim.errors import SweepError
from accelsim.sweep.results import read_results, results_path


@dataclass(frozen=True)
class ReportInputs:
    results: pd.DataFrame
    meta: dict
    source: Path
    timeline: pd.DataFrame | None
    timeline_title: str


def _with_timelines(df: pd.DataFrame) -> pd.DataFrame:
    if "timeline_file" not in df:
        return df.iloc[0:0]
    return df[df["timeline_file"].fillna("").astype(str) != ""]


def load_report_inputs(path: str | Path, gantt: str | None = None) -> ReportInputs:
    """The results at ``path`` and the timeline of point ``gantt`` (a point id, an id prefix or a point index;
    default: the first point that stored one). Asking for a point without a stored timeline raises SweepError."""
    source = results_path(path)
    df, meta = read_results(source)
    have = _with_timelines(df)
    row = None
    if gantt is not None:
        pick = df[df["point_id"].astype(str).str.startswith(gantt)]
        if pick.empty and gantt.isdigit():
            pick = df[df["point_index"] == int(gantt)]
        if len(pick) != 1:
            raise SweepError(f"--gantt {gantt}: matches {len(pick)} points of {source}; give a point id or index "
                             f"(points with a stored timeline: {', '.join(have['point_id'].astype(str)) or 'none'})")
        if pick.index[0] not in have.index:
            raise SweepError(
                f"--gantt {gantt}: point {pick['point_id'].iloc[0]} stored no timeline; reports never rerun the "
                "simulator: add a timeline: selector for it to the sweep spec and rerun the sweep with --resume "
                f"(points with a stored timeline: {', '.join(have['point_id'].astype(str)) or 'none'})"
            )
        row = pick.iloc[0]
    elif len(have):
        row = have.iloc[0]
    if row is None:
        return ReportInputs(df, meta, source, None, "")
    tl_path = source.parent / str(row["timeline_file"])
    try:
        timeline = pd.read_parquet(tl_path)
    except (OSError, pa.ArrowException) as exc:
        raise SweepError(f"{tl_path}: cannot read the timeline of point {row['point_id']} ({exc})") from None
    title = f"Timeline of point {row['point_id']}: {row.get('arch', '')} on {row.get('workload', '')}"
    return ReportInputs(df, meta, source, timeline, title)
