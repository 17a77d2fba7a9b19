"""Shared views of a results table for the figures: which rows are usable, how to label and pair points.

Nothing here recomputes a simulation; it selects, labels and pairs rows the sweep already wrote.
"""

from __future__ import annotations

import pandas as pd

BASELINE_PRECISION = "fp16"
PRECISION_ORDER = ("fp32", "fp16", "hfp8", "int8", "int4", "int2")
PRECISION_COLORS = {"fp32": "#7f7f7f", "fp16": "#1f77b4", "hfp8": "#17becf", "int8": "#ff7f0e", "int4": "#2ca02c",
                    "int2": "#9467bd"}
PHASE_COLORS = {"encoder": "#4c78a8", "prediction": "#f58518", "joint": "#e45756", "lm_target": "#72b7b2",
                "lm_source": "#54a24b", "search": "#b279a2"}


def ok_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Rows whose point finished without error (figures show these; the table shows all)."""
    if "status" not in df.columns:
        return df
    return df[df["status"] == "ok"]


def override_columns(df: pd.DataFrame) -> list[str]:
    """The ``arch.<path>`` columns: the architecture fields the sweep varied."""
    return [c for c in df.columns if c.startswith("arch.")]


def config_columns(df: pd.DataFrame) -> list[str]:
    """Columns that define a point apart from its precision: workload and architecture overrides."""
    return ["workload_dir", *override_columns(df)]


def precision_sort_key(p: str) -> tuple[int, str]:
    return (PRECISION_ORDER.index(p) if p in PRECISION_ORDER else len(PRECISION_ORDER), p)


def precisions(df: pd.DataFrame) -> list[str]:
    return sorted(df["precision_mode"].astype(str).unique(), key=precision_sort_key) if len(df) else []


def config_label(df: pd.DataFrame) -> pd.Series:
    """A short human label per row: workload (beam, fusion) plus the values of varied arch fields."""
    parts = df["beam"].map(lambda b: f"beam {b}") + " " + df["fusion"].astype(str).map(
        lambda f: "DR fusion" if f == "dr" else ("no LM" if f == "none" else f"{f} fusion"))
    for col in override_columns(df):
        if df[col].nunique(dropna=False) > 1:
            parts = parts + ", " + col.removeprefix("arch.").split(".")[-1] + "=" + df[col].astype(str)
    return parts


def with_baseline(df: pd.DataFrame) -> pd.DataFrame:
    """Rows joined with their FP16 baseline (same workload and overrides): adds ``base_<col>`` columns.

    Rows without a baseline point in the table are dropped. ``speedup`` is baseline sim_s / sim_s.
    """
    rows = ok_rows(df)
    keys = config_columns(rows)
    base = rows[rows["precision_mode"].astype(str) == BASELINE_PRECISION]
    if base.empty:
        return rows.iloc[0:0].assign(speedup=pd.Series(dtype=float))
    base = base.drop_duplicates(subset=keys, keep="first")
    value_cols = ["sim_s", *[c for c in rows.columns if c.startswith("phase_") and c.endswith("_s")]]
    renamed = base[keys + value_cols].rename(columns={c: f"base_{c}" for c in value_cols})
    merged = rows.merge(renamed, on=keys, how="inner")
    return merged.assign(speedup=merged["base_sim_s"] / merged["sim_s"])
