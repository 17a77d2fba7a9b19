"""Hardware figures: unit utilization per point, a roofline per op class, and a Gantt timeline of one run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from accelsim.report.figures_perf import empty_figure
from accelsim.report.frame import PHASE_COLORS, PRECISION_COLORS, config_label, ok_rows, precision_sort_key

UTIL_COLUMNS = {"util_matrix": "matrix (MAC arrays)", "util_sfu": "SFU / vector", "util_dram": "off-chip DRAM"}
KIND_SYMBOLS = {"matmul": "circle", "lstm_pointwise": "square", "nonlinear": "diamond", "elementwise": "cross",
                "softmax": "triangle-up", "topk": "x", "gather": "star", "embedding": "hexagon"}


def _point_names(df: pd.DataFrame) -> pd.Series:
    return df["precision_mode"].astype(str) + " | " + config_label(df)


def fig_utilization(df: pd.DataFrame) -> go.Figure:
    """Achieved / peak work of each unit type over the whole run, per point (grouped bars)."""
    title = "Utilization per unit (achieved work / peak over the run, all cores)"
    data = ok_rows(df)
    cols = [c for c in UTIL_COLUMNS if c in data]
    if data.empty or not cols:
        return empty_figure(title, "no finished point with utilization columns in these results")
    data = data.assign(name=_point_names(data), order=data["precision_mode"].map(precision_sort_key))
    data = data.sort_values(["beam", "fusion", "order"], kind="stable")
    fig = go.Figure()
    for col in cols:
        fig.add_bar(x=data["name"], y=data[col], name=UTIL_COLUMNS[col],
                    hovertemplate="%{x}<br>" + UTIL_COLUMNS[col] + " %{y:.1%}<extra></extra>")
    fig.update_layout(barmode="group", title=title, height=480, yaxis={"title": "utilization", "tickformat": ".0%"},
                      xaxis={"tickangle": -40}, legend_title="unit")
    return fig


def roofline_points(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (point, op kind) with work, DRAM bytes and busy time (from the sweep's kind_* columns)."""
    data = ok_rows(df)
    kinds = sorted({c[len("kind_"):-len("_work_ops")] for c in data.columns
                    if c.startswith("kind_") and c.endswith("_work_ops")})
    rows = []
    names = _point_names(data) if len(data) else pd.Series(dtype=str)
    for kind in kinds:
        work, dram, busy = (data.get(f"kind_{kind}_{s}") for s in ("work_ops", "dram_bytes", "busy_s"))
        if work is None or dram is None or busy is None:
            continue
        rows.append(pd.DataFrame({
            "point": names, "precision_mode": data["precision_mode"].astype(str), "kind": kind,
            "work_ops": work, "dram_bytes": dram, "busy_s": busy,
            "peak": data["core_peak_matrix_macs_per_s" if kind == "matmul" else "core_peak_vector_elems_per_s"],
            "bandwidth": data["offchip_bytes_per_s"],
        }))
    if not rows:
        return pd.DataFrame(columns=["point", "precision_mode", "kind", "work_ops", "dram_bytes", "busy_s"])
    out = pd.concat(rows, ignore_index=True)
    out = out[(out["work_ops"] > 0) & (out["busy_s"] > 0)]
    return out.assign(intensity=out["work_ops"] / out["dram_bytes"].where(out["dram_bytes"] > 0),
                      throughput=out["work_ops"] / out["busy_s"])


def fig_roofline(df: pd.DataFrame) -> go.Figure:
    """Roofline per op class: throughput while running vs work per DRAM byte, under one core's roofs.

    Matmuls count MACs (roof: the MAC arrays at the matmul precision), other kinds SFU element operations (roof:
    the vector unit); the slanted roof is the off-chip bandwidth. Kinds that read nothing from DRAM (weights
    resident on chip) have no intensity and are listed in the title instead.
    """
    title = "Roofline per op class (one core's roofs)"
    pts = roofline_points(df)
    if pts.empty:
        return empty_figure(title, "no per-kind work/bytes/time columns (kind_*_work_ops) in these results")
    on_chip = sorted(set(pts.loc[pts["intensity"].isna(), "kind"]) - set(pts.loc[pts["intensity"].notna(), "kind"]))
    shown = pts.dropna(subset=["intensity"])
    fig = go.Figure()
    if shown.empty:
        return empty_figure(title, "every op class ran from on-chip memory only (no DRAM bytes): nothing to place")
    xs = np.logspace(np.log10(shown["intensity"].min() / 10), np.log10(shown["intensity"].max() * 10), 60)
    roofs = pts[["precision_mode", "peak", "bandwidth", "kind"]].assign(unit=lambda d: np.where(
        d["kind"] == "matmul", "MAC arrays", "vector")).drop_duplicates(["precision_mode", "peak", "bandwidth", "unit"])
    for _, roof in roofs.sort_values("peak").iterrows():
        prec = roof["precision_mode"]
        fig.add_scatter(x=xs, y=np.minimum(roof["peak"], roof["bandwidth"] * xs), mode="lines",
                        name=f"roof: {roof['unit']} {prec}, {roof['bandwidth'] / 1e9:g} GB/s",
                        line={"color": PRECISION_COLORS.get(prec, "#444"), "width": 1,
                              "dash": "solid" if roof["unit"] == "MAC arrays" else "dot"}, hoverinfo="skip")
    groups = sorted(shown.groupby(["kind", "precision_mode"]), key=lambda g: (g[0][0], precision_sort_key(g[0][1])))
    for (kind, prec), grp in groups:
        fig.add_scatter(x=grp["intensity"], y=grp["throughput"], mode="markers", name=f"{kind} ({prec})",
                        text=grp["point"], marker={"symbol": KIND_SYMBOLS.get(kind, "circle"), "size": 10,
                                                   "color": PRECISION_COLORS.get(prec)},
                        hovertemplate="%{text}<br>" + kind + ": %{x:.3g} ops/B, %{y:.3g} ops/s<extra></extra>")
    if on_chip:
        title += f"<br><sup>on-chip only (no DRAM traffic, not placed): {', '.join(on_chip)}</sup>"
    fig.update_layout(title=title, height=520, xaxis={"title": "work per DRAM byte (MAC or element op / B)",
                                                      "type": "log"},
                      yaxis={"title": "throughput while running (ops/s)", "type": "log"}, legend_title="op class")
    return fig


def fig_gantt(timeline: pd.DataFrame, title: str = "Timeline", max_ops: int = 4000) -> go.Figure:
    """Gantt view of one run: one row per core and unit, bars coloured by phase.

    Only the first ``max_ops`` ops (by start time) are drawn, to keep the page light; the title says how much
    of the run is shown. Times in milliseconds.
    """
    if timeline is None or timeline.empty:
        return empty_figure(title, "no timeline stored for this run")
    tl = timeline.sort_values(["start_s", "op_id"], kind="stable")
    total_ops, end_s = len(tl), float(tl["end_s"].max())
    if total_ops > max_ops:
        tl = tl.iloc[:max_ops]
        title += (f"<br><sup>first {float(tl['end_s'].max()) * 1e3:.2f} ms of {end_s * 1e3:.2f} ms "
                  f"({max_ops} of {total_ops} ops)</sup>")
    lane = "core " + tl["core"].astype(str) + " " + tl["unit"].astype(str)
    lanes = sorted(lane.unique(), key=lambda s: (int(s.split()[1]), s), reverse=True)
    fig = go.Figure()
    for phase in [p for p in PHASE_COLORS if p in set(tl["phase"].astype(str))]:
        sel = (tl["phase"].astype(str) == phase).to_numpy()
        sub = tl[sel]
        text = sub["kind"].astype(str) + (" " + sub["stream"].astype(str) if "stream" in sub else "")
        fig.add_bar(
            y=lane[sel], x=(sub["end_s"] - sub["start_s"]) * 1e3, base=sub["start_s"] * 1e3, orientation="h",
            name=phase, marker_color=PHASE_COLORS[phase], text=text, textposition="none",
            customdata=np.stack([sub["op_id"], sub["start_s"] * 1e3, sub["end_s"] * 1e3], axis=1),
            hovertemplate="op %{customdata[0]} %{text}<br>%{customdata[1]:.4f}-%{customdata[2]:.4f} ms<extra>"
                          + phase + "</extra>",
        )
    fig.update_layout(title=title, barmode="overlay", height=max(300, 40 * len(lanes) + 150),
                      xaxis_title="time (ms)", yaxis={"categoryorder": "array", "categoryarray": lanes},
                      legend_title="phase", bargap=0.2)
    return fig
