"""The results table: one row per finished point, compacted from the journal, written atomically as Parquet + CSV.

Columns: the point's own (``point_index``, ``point_id``, ``arch_file``, ``workload_dir``, one ``arch.<path>`` per
override), then ``status`` (ok | error), ``error``, ``elapsed_s`` (wall time of the evaluation), then the result
keys (the simulator's unit-suffixed summary plus what the evaluator adds). The Parquet file carries the results
format version in its metadata; :func:`read_results` refuses files of another version with a clear message.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from accelsim import __version__
from accelsim.atomic import atomic_write
from accelsim.errors import SweepError
from accelsim.sweep.grid import PointTask
from accelsim.sweep.journal import Outcome

RESULTS_FORMAT_VERSION = 1
RESULTS_FILE = "results.parquet"
CSV_FILE = "results.csv"
TIMELINE_DIR = "timelines"
_META_KEY = b"accelsim.sweep"
BASE_COLUMNS = ("point_index", "point_id", "arch_file", "workload_dir", "status", "error", "elapsed_s")


def build_table(tasks: Iterable[PointTask], outcomes: dict[str, Outcome]) -> pd.DataFrame:
    """Rows for the tasks that have an outcome, in point order; columns as described in the module doc."""
    rows: list[dict[str, Any]] = []
    for task in sorted(tasks, key=lambda t: t.index):
        out = outcomes.get(task.point_id)
        if out is None:
            continue
        row = task.columns()
        row.update(status=out.status, error=out.error, elapsed_s=float(out.elapsed_s))
        for key, value in out.result.items():
            row.setdefault(key, value)
        rows.append(row)
    df = pd.DataFrame(rows, columns=None if rows else list(BASE_COLUMNS))
    for col in df.columns:
        if df[col].dtype == object:
            kinds = {type(v) for v in df[col] if v is not None and not (isinstance(v, float) and pd.isna(v))}
            if len(kinds) > 1 and not kinds <= {int, float}:
                df[col] = df[col].map(lambda v: None if v is None else str(v))
            elif kinds <= {int, float} and kinds:
                df[col] = pd.to_numeric(df[col])
    return df


def write_results(folder: str | Path, df: pd.DataFrame, *, name: str, points_total: int) -> tuple[Path, Path]:
    """Write ``results.parquet`` (with format metadata) and ``results.csv`` atomically; returns their paths."""
    folder = Path(folder)
    meta = {
        "format_version": RESULTS_FORMAT_VERSION,
        "sweep": name,
        "points_total": points_total,
        "points_done": int(len(df)),
        "accelsim_version": __version__,
    }
    table = pa.Table.from_pandas(df, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), _META_KEY: json.dumps(meta).encode()})
    pq_path, csv_path = folder / RESULTS_FILE, folder / CSV_FILE
    atomic_write(pq_path, lambda p: pq.write_table(table, p, compression="zstd"))
    atomic_write(csv_path, lambda p: df.to_csv(p, index=False, float_format="%.9g"))
    return pq_path, csv_path


def results_path(path: str | Path) -> Path:
    """The Parquet results file named by ``path`` (a sweep --out folder or the file itself)."""
    p = Path(path)
    if p.is_dir():
        p = p / RESULTS_FILE
    if p.suffix == ".csv":
        raise SweepError(
            f"{p}: the CSV table is for spreadsheets and carries no format version; give the sweep folder or "
            f"its {RESULTS_FILE}"
        )
    if not p.is_file():
        raise SweepError(f"{p}: results file not found (run `accelsim sweep SPEC.yaml --out DIR` first)")
    return p


def read_results(path: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Load a results table and its metadata; a file of another format version raises SweepError."""
    p = results_path(path)
    try:
        table = pq.read_table(p)
    except (pa.ArrowException, OSError) as exc:
        raise SweepError(f"{p}: cannot read as Parquet ({exc}); the file is corrupt or not a results table") from None
    raw = (table.schema.metadata or {}).get(_META_KEY)
    if raw is None:
        raise SweepError(f"{p}: not an accelsim sweep results file (no '{_META_KEY.decode()}' metadata)")
    try:
        meta = json.loads(raw)
    except json.JSONDecodeError:
        raise SweepError(f"{p}: results metadata is corrupt") from None
    version = meta.get("format_version")
    if version != RESULTS_FORMAT_VERSION:
        raise SweepError(
            f"{p}: results format version {version!r} (written by accelsim {meta.get('accelsim_version', '?')}); "
            f"this accelsim reads version {RESULTS_FORMAT_VERSION}: rerun the sweep with this version "
            "(`accelsim sweep SPEC.yaml --out NEW_DIR`)"
        )
    return table.to_pandas(), meta
