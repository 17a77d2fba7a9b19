"""Energy figures of a sweep: energy per audio second by component, and WER vs energy with its Pareto front.

Pure ``results table -> go.Figure`` functions over the summary's ``energy_*`` columns (``accelsim.sim.energy``);
a table without them gives a figure that says so.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from accelsim.cost.energy import COMPONENTS
from accelsim.report.figures_perf import empty_figure, pareto_front
from accelsim.report.frame import PRECISION_COLORS, config_label, ok_rows, precision_sort_key, precisions

COMPONENT_COLORS = {"mac": "#4c78a8", "sfu": "#f58518", "sram": "#72b7b2", "dram": "#e45756", "ring": "#b279a2",
                    "static": "#9d9d9d"}
NO_ENERGY = "no energy columns in these results: the architectures have no energy: section"


def fig_energy_breakdown(df: pd.DataFrame) -> go.Figure:
    """Stacked bars: each point's energy per audio second (mJ) by component; total and average power on top."""
    title = "Energy per audio second by component (mJ; average power above each bar)"
    data = ok_rows(df)
    if data.empty or "energy_J" not in data or data["energy_J"].isna().all():
        return empty_figure(title, NO_ENERGY)
    data = data.dropna(subset=["energy_J"])
    data = data.assign(label=config_label(data), order=data["precision_mode"].astype(str).map(precision_sort_key))
    data = data.sort_values(["beam", "fusion", "label", "order"], kind="stable")
    x = [data["label"].tolist(), data["precision_mode"].astype(str).tolist()]
    fig = go.Figure()
    for comp in COMPONENTS:
        col = f"energy_{comp}_J"
        if col not in data:
            continue
        per_audio = data[col] / data["audio_s"] * 1e3
        fig.add_bar(x=x, y=per_audio, name=comp, marker_color=COMPONENT_COLORS[comp],
                    customdata=(data[col] / data["energy_J"]).to_numpy(),
                    hovertemplate=f"{comp}: %{{y:.3f}} mJ per audio s (%{{customdata:.1%}})<extra></extra>")
    total = data["energy_mJ_per_audio_s"]
    fig.add_scatter(x=x, y=total, mode="text", text=[f"{w:.2f} W" for w in data["avg_power_W"]],
                    textposition="top center", showlegend=False, hoverinfo="skip")
    fig.update_layout(barmode="stack", title=title, yaxis_title="mJ per second of audio", legend_title="component",
                      height=480, yaxis={"range": [0, 1.15 * float(total.max())]})
    return fig


def fig_wer_vs_energy(df: pd.DataFrame) -> go.Figure:
    """WER (workload accuracy) against energy per audio second, with the Pareto front (beside WER vs RTF)."""
    title = "WER vs energy (Pareto front: no point is both cheaper and more accurate)"
    data = ok_rows(df)
    if "energy_mJ_per_audio_s" not in data or data["energy_mJ_per_audio_s"].isna().all():
        return empty_figure(title, NO_ENERGY)
    if "wer_percent" not in data or data["wer_percent"].notna().sum() == 0:
        return empty_figure(title, "no workload in these results carries a measured accuracy (workload.yaml "
                                   "accuracy.wer_percent); synthetic workloads have none")
    x = "energy_mJ_per_audio_s"
    data = data.dropna(subset=["wer_percent", x]).assign(label=lambda d: config_label(d))
    fig = go.Figure()
    for prec in precisions(data):
        grp = data[data["precision_mode"].astype(str) == prec]
        fig.add_scatter(x=grp[x], y=grp["wer_percent"], mode="markers", name=prec, text=grp["label"],
                        marker={"color": PRECISION_COLORS.get(prec), "size": 9},
                        hovertemplate="%{text}<br>%{x:.2f} mJ per audio s<br>WER %{y:.2f} %<extra>" + prec
                        + "</extra>")
    front = pareto_front(data, x=x)
    fig.add_scatter(x=front[x], y=front["wer_percent"], mode="lines", name="Pareto front",
                    line={"color": "black", "shape": "hv", "dash": "dot"}, hoverinfo="skip")
    fig.update_layout(title=title, height=480, xaxis={"title": "energy (mJ per second of audio)", "type": "log"},
                      yaxis_title="WER (%)", legend_title="precision")
    return fig
