"""Error tables of predicted vs measured op latencies: MAPE per (op, dtype) group, worst rows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from accelsim.spec.schema import ArchSpec
from accelsim.validate.predict import predict_plain


def with_mode(arch: ArchSpec, mode: str) -> ArchSpec:
    """``arch`` with its GPU launch mode set to ``graph`` or ``eager`` (unchanged for a non-GPU arch)."""
    if arch.gpu is None:
        return arch
    gpu = arch.gpu.model_copy(update={"launch": arch.gpu.launch.model_copy(update={"mode": mode})})
    return arch.model_copy(update={"gpu": gpu})


def ape(pred_us: np.ndarray, measured_us: np.ndarray) -> np.ndarray:
    """Absolute percentage error of each row, as a fraction."""
    return np.abs(np.asarray(pred_us) - np.asarray(measured_us)) / np.asarray(measured_us)


def group_table(df: pd.DataFrame, measured: str, pred: str = "pred_us") -> pd.DataFrame:
    """Rows, MAPE, median and worst APE per (op, dtype), plus an ``all`` row; percentages rounded to 0.1."""
    err = ape(df[pred], df[measured])
    frame = df.assign(ape=err)
    rows = []
    for (op, dtype), g in frame.groupby(["op", "dtype"], sort=True):
        rows.append((op, dtype, len(g), g["ape"].mean(), g["ape"].median(), g["ape"].max()))
    rows.append(("all", "", len(frame), frame["ape"].mean(), frame["ape"].median(), frame["ape"].max()))
    out = pd.DataFrame(rows, columns=["op", "dtype", "rows", "mape_pct", "median_ape_pct", "worst_ape_pct"])
    for c in ("mape_pct", "median_ape_pct", "worst_ape_pct"):
        out[c] = (out[c] * 100).round(1)
    return out


def group_errors(arch: ArchSpec, df: pd.DataFrame, mode: str, measured: str) -> pd.DataFrame:
    """:func:`group_table` of ``arch`` (in ``mode``) predicting ``df[measured]`` through ``op_cost``."""
    pred = predict_plain(df, with_mode(arch, mode)) * 1e6
    return group_table(df.assign(pred_us=pred), measured)


def worst_rows(df: pd.DataFrame, measured: str, per_group: int = 1, pred: str = "pred_us") -> pd.DataFrame:
    """The ``per_group`` rows with the largest APE in each (op, dtype) group."""
    frame = df.assign(ape_pct=(ape(df[pred], df[measured]) * 100).round(1))
    frame = frame.sort_values(["op", "dtype", "ape_pct", "M", "K", "N"],
                              ascending=[True, True, False, True, True, True])
    return frame.groupby(["op", "dtype"], sort=True).head(per_group)[
        ["op", "dtype", "M", "K", "N", measured, pred, "ape_pct"]]
