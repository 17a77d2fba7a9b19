"""Measured per-op latency tables (``op,dtype,M,K,N,<latency columns in us>``) and their trace-op meaning.

A row is one operator timed on real hardware. ``op`` and ``dtype`` name what ran; ``M, K, N`` its shape:

- ``matmul``: ``(M x K) @ (K x N)`` with weights ``K x N`` (trace kind ``matmul``);
- ``lstm_pointwise``: the LSTM cell update of ``M`` rows from ``K = 4N`` gate pre-activations to ``N`` cells;
- ``sigmoid`` (and the other pointwise functions): the function over ``M x K`` elements (trace ``nonlinear``).

``dtype`` is the torch dtype name (``float32``, ``float16``, ``bfloat16``, ``int8``) or ``w4a16`` (int4 weights,
fp16 activations); :data:`DTYPE_PRECISION` maps it to (weight, activation) precisions.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import numpy as np
import pandas as pd

from accelsim.errors import AccelsimError

MEASURED_COLUMNS = ("op", "dtype", "M", "K", "N")
LATENCY_COLUMNS = ("graph_us", "median_us")

#: torch dtype name -> (weight precision, activation precision)
DTYPE_PRECISION: dict[str, tuple[str, str]] = {
    "float32": ("fp32", "fp32"),
    "tfloat32": ("tf32", "tf32"),
    "float16": ("fp16", "fp16"),
    "bfloat16": ("bf16", "bf16"),
    "float8_e4m3fn": ("fp8", "fp8"),
    "int8": ("int8", "int8"),
    "w4a16": ("int4", "fp16"),
}

#: measured op name -> (trace kind, func)
OP_KIND: dict[str, tuple[str, str]] = {
    "matmul": ("matmul", ""),
    "lstm_pointwise": ("lstm_pointwise", "lstm"),
    "sigmoid": ("nonlinear", "sigmoid"),
    "tanh": ("nonlinear", "tanh"),
    "exp": ("nonlinear", "exp"),
    "relu": ("nonlinear", "relu"),
    "add": ("elementwise", "add"),
    "mul": ("elementwise", "mul"),
}


class MeasuredTableError(AccelsimError):
    """A measured-latency table is missing, malformed, or names an op or dtype the simulator cannot map."""


def _unknown(path, row: int, column: str, value: str, allowed) -> MeasuredTableError:
    close = difflib.get_close_matches(value, list(allowed), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return MeasuredTableError(f"{path}: row {row + 2}: {column} = {value!r} is not known (expected one of "
                              f"{', '.join(allowed)}){hint}")


def read_measured(path: str | Path, measured: str) -> pd.DataFrame:
    """Read and check a measured table; keeps every input column, ``measured`` must be one of them (us)."""
    p = Path(path)
    if not p.is_file():
        raise MeasuredTableError(f"{p}: measured table not found")
    try:
        df = pd.read_csv(p)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise MeasuredTableError(f"{p}: not a readable CSV table ({exc})") from None
    missing = [c for c in (*MEASURED_COLUMNS, measured) if c not in df.columns]
    if missing:
        raise MeasuredTableError(f"{p}: missing column(s) {missing}; expected {list(MEASURED_COLUMNS)} and the "
                                 f"measured latency column {measured!r} (us)")
    if df.empty:
        raise MeasuredTableError(f"{p}: no rows")
    for i, (op, dtype) in enumerate(zip(df["op"].astype(str), df["dtype"].astype(str))):
        if op not in OP_KIND:
            raise _unknown(p, i, "op", op, OP_KIND)
        if dtype not in DTYPE_PRECISION:
            raise _unknown(p, i, "dtype", dtype, DTYPE_PRECISION)
    for col in ("M", "K", "N"):
        values = pd.to_numeric(df[col], errors="coerce")
        bad = np.flatnonzero(~(np.isfinite(values) & (values >= 1) & (values == np.round(values))))
        if len(bad):
            raise MeasuredTableError(f"{p}: row {bad[0] + 2}: {col} = {df[col].iloc[bad[0]]}: expected an "
                                     "integer >= 1")
        df[col] = values.astype(np.int64)
    values = pd.to_numeric(df[measured], errors="coerce")
    bad = np.flatnonzero(~(np.isfinite(values) & (values > 0)))
    if len(bad):
        raise MeasuredTableError(f"{p}: row {bad[0] + 2}: {measured} = {df[measured].iloc[bad[0]]}: expected a "
                                 "finite latency > 0 (us)")
    df[measured] = values.astype(np.float64)
    df["op"] = df["op"].astype(str)
    df["dtype"] = df["dtype"].astype(str)
    return df


def trace_shape(op: str, m: int, k: int, n: int) -> tuple[int, int, int]:
    """(m, k, n) of the trace op a measured row stands for (see the module docstring)."""
    kind = OP_KIND[op][0]
    if kind == "matmul":
        return m, k, n
    if kind == "lstm_pointwise":
        return m, 0, n
    return m, 0, k
