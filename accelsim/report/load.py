"""Read what a report needs from a sweep folder: the results table and, for the Gantt view, one stored timeline."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from accelsim.errors import SweepError
from accelsim.sweep.results import BASE_COLUMNS, read_results, results_path
from accelsim.trace.format import PHASES
from accelsim.validation import abbreviate

#: Columns every results table has; the report also needs these result columns when any point is ok.
_BASE_REQUIRED = BASE_COLUMNS
_OK_REQUIRED = ("precision_mode", "workload", "beam", "fusion", "rtf", "sim_s", "audio_s",
                "core_peak_matrix_macs_per_s", "core_peak_vector_elems_per_s", "offchip_bytes_per_s",
                *(f"phase_{p}_s" for p in PHASES))
#: Result columns that must be finite and >= 0 in every ok row (NaN elsewhere means "not measured").
_OK_FINITE = ("rtf", "sim_s", "audio_s", "beam")
#: Columns that hold text; every other result column must be numeric.
TEXT_COLUMNS = ("point_id", "arch_file", "workload_dir", "status", "error", "arch", "workload", "precision_mode",
                "fusion", "synthetic", "test_set", "recipe", "timeline_file",
                "wer_precision", "speech",  # which decode a WER came from, on which speech
                "mapping", "overlap")  # the mapping a point ran (accelsim.map) and its overlap mode


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
    check_results_table(df, source)
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
    if Path(str(row["timeline_file"])).is_absolute() or not tl_path.resolve().is_relative_to(source.parent.resolve()):
        raise SweepError(f"{source}: point {row['point_id']}: timeline_file = {abbreviate(row['timeline_file'])} "
                         f"must name a file inside {source.parent} (no absolute path, no ..)")
    try:
        timeline = pd.read_parquet(tl_path)
    except (OSError, pa.ArrowException) as exc:
        raise SweepError(f"{tl_path}: cannot read the timeline of point {row['point_id']} ({exc})") from None
    title = f"Timeline of point {row['point_id']}: {row.get('arch', '')} on {row.get('workload', '')}"
    return ReportInputs(df, meta, source, timeline, title)


def check_results_table(df: pd.DataFrame, source: Path) -> None:
    """Refuse a results table the report cannot draw truthfully: missing columns, unknown statuses, impossible
    numbers (NaN/inf/negative time, RTF, beam) in rows marked ok, or negative/infinite values in any number column."""
    missing = [c for c in _BASE_REQUIRED if c not in df.columns]
    if missing:
        raise SweepError(f"{source}: results table lacks column(s) {', '.join(missing)}; regenerate it with "
                         "`accelsim sweep SPEC.yaml --out DIR`")
    status = df["status"].astype(str)
    bad_status = sorted(set(status) - {"ok", "error"})
    if bad_status:
        raise SweepError(f"{source}: column status holds {abbreviate(bad_status)}; expected ok or error")
    ok = df[status == "ok"]
    if ok.empty:
        return
    missing = [c for c in _OK_REQUIRED if c not in df.columns]
    if missing:
        raise SweepError(f"{source}: results table lacks column(s) {', '.join(missing)} needed by the report")
    problems = []
    for col in ("point_id", "precision_mode", "workload", "fusion"):
        bad = ~ok[col].map(lambda v: isinstance(v, str) and v != "")
        if bad.any():
            problems.append(f"point {ok['point_id'].iloc[int(np.argmax(bad.to_numpy()))]}: {col} = "
                            f"{abbreviate(ok[col][bad].iloc[0])}; expected text")
    for col in df.columns:
        if col.startswith("arch.") or col in ("point_index", "elapsed_s"):
            continue
        if col in TEXT_COLUMNS:
            continue
        values = pd.to_numeric(ok[col], errors="coerce") if col in _OK_FINITE else ok[col]
        if values.isna().all() and col not in _OK_FINITE:
            continue  # a result not measured for these points
        if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            problems.append(f"column {col} holds {abbreviate(ok[col].dropna().iloc[0])}; expected numbers")
            continue
        arr = values.to_numpy(dtype=np.float64)
        bad = ~np.isfinite(arr) if col in _OK_FINITE else (np.isinf(arr) | (arr < 0))
        bad |= arr < 0
        if bad.any():
            i = int(np.argmax(bad))
            problems.append(f"point {ok['point_id'].iloc[i]}: {col} = {float(arr[i])!r}")
    if problems:
        raise SweepError(
            f"{source}: {len(problems)} impossible value(s) in rows marked ok (a time, RTF or count must be finite "
            f"and >= 0): " + "; ".join(problems[:10]) + ("; ..." if len(problems) > 10 else "")
        )


def check_markers(path: Path, document: str) -> None:
    """Raise SweepError when ``document`` holds a speedup-table marker but not a start/end pair in order."""
    from accelsim.report.tables import TABLE_END, TABLE_START

    lines = [ln.strip() for ln in document.splitlines()]
    has_start, has_end = TABLE_START in lines, TABLE_END in lines
    if has_start or has_end:
        what = ("only the start marker" if not has_end else "only the end marker" if not has_start
                else "the end marker before the start marker")
        raise SweepError(
            f"--markdown {path}: holds {what}; put '{TABLE_START}' and then '{TABLE_END}' on their own lines "
            "(the table goes between them); the file was left as it is"
        )
