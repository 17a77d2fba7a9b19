"""Performance figures of a sweep: speedup vs FP16 by phase, RTF vs beam, WER vs RTF Pareto front.

Each is a pure function ``results table -> go.Figure``; a table that lacks what a figure needs gives a figure
that says so (never an exception), so one report page serves every sweep.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from accelsim.report.frame import (
    BASELINE_PRECISION,
    PHASE_COLORS,
    PRECISION_COLORS,
    config_label,
    ok_rows,
    override_columns,
    precision_sort_key,
    precisions,
    with_baseline,
)
from accelsim.trace.format import PHASES

PAPER_RTF = 0.06  # Fasoli et al. 2022: INT4 + DR fusion end to end on the simulated IBM chip
REAL_TIME_RTF = 1.0


def empty_figure(title: str, reason: str) -> go.Figure:
    """A figure with no data and the reason in its middle."""
    fig = go.Figure()
    fig.add_annotation(text=reason, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False, font={"size": 14})
    fig.update_layout(title=title, xaxis={"visible": False}, yaxis={"visible": False}, height=300)
    return fig


def fig_speedup_by_phase(df: pd.DataFrame) -> go.Figure:
    """Stacked bars: each phase's critical-path time relative to the FP16 run of the same point.

    The FP16 bar is 1; a bar of height h is a speedup of 1/h, printed above it. Phases come from the simulator's
    critical-path attribution, which tiles the run, so the stack is exactly sim_s / sim_s(FP16).
    """
    title = "Time by phase relative to FP16 (speedup above each bar)"
    data = with_baseline(df)
    if data.empty:
        return empty_figure(title, f"no {BASELINE_PRECISION} baseline point in these results: add arch/fp16.yaml "
                                   "to the sweep to compare precisions")
    data = data.assign(label=config_label(data), order=data["precision_mode"].map(precision_sort_key))
    data = data.sort_values(["beam", "fusion", "label", "order"], kind="stable")
    x = [data["label"].tolist(), data["precision_mode"].astype(str).tolist()]
    fig = go.Figure()
    for phase in PHASES:
        col = f"phase_{phase}_s"
        if col not in data or not (data[col] > 0).any():
            continue
        rel = data[col] / data["base_sim_s"]
        phase_speedup = (data[f"base_{col}"] / data[col]).where(data[col] > 0)
        fig.add_bar(
            x=x, y=rel, name=phase, marker_color=PHASE_COLORS.get(phase),
            customdata=pd.DataFrame({"s": data[col] * 1e3, "sp": phase_speedup}).to_numpy(),
            hovertemplate=f"{phase}: %{{y:.3f}} of FP16 time<br>%{{customdata[0]:.3f}} ms, "
                          "phase speedup %{customdata[1]:.2f}x<extra></extra>",
        )
    total = data["sim_s"] / data["base_sim_s"]
    fig.add_scatter(x=x, y=total, mode="text", text=[f"{s:.2f}x" for s in data["speedup"]], textposition="top center",
                    showlegend=False, hoverinfo="skip")
    fig.update_layout(barmode="stack", title=title, yaxis_title="time / FP16 time", legend_title="phase",
                      height=480, yaxis={"range": [0, 1.15 * float(total.max())]})
    return fig


def fig_rtf_vs_beam(df: pd.DataFrame) -> go.Figure:
    """RTF against beam width, one line per precision (dashed: no LM fusion), with real time and the paper."""
    title = "Real-time factor vs beam width"
    data = ok_rows(df)
    if data.empty or "rtf" not in data:
        return empty_figure(title, "no finished point with an RTF in these results")
    if data["beam"].nunique() < 2:
        return empty_figure(title, f"every point of this sweep decodes with beam {data['beam'].iloc[0]}: see RTF by "
                                   "architecture field")
    fig = go.Figure()
    group_cols = ["precision_mode", "fusion", *[c for c in override_columns(data) if data[c].nunique() > 1]]
    groups = sorted(data.groupby(group_cols, dropna=False), key=lambda g: (precision_sort_key(str(g[0][0])), g[0][1:]))
    for key, grp in groups:
        prec, fusion = str(key[0]), str(key[1])
        extra = ", ".join(f"{c.removeprefix('arch.').split('.')[-1]}={v}" for c, v in zip(group_cols[2:], key[2:]))
        name = f"{prec}, {'DR fusion' if fusion == 'dr' else ('no LM' if fusion == 'none' else fusion)}"
        grp = grp.sort_values("beam")
        fig.add_scatter(
            x=grp["beam"], y=grp["rtf"], mode="lines+markers", name=name + (f", {extra}" if extra else ""),
            line={"color": PRECISION_COLORS.get(prec), "dash": "solid" if fusion != "none" else "dash"},
            hovertemplate="beam %{x}<br>RTF %{y:.4f}<extra>" + name + "</extra>",
        )
    fig.add_hline(y=REAL_TIME_RTF, line={"color": "black", "width": 1}, annotation_text="real time (RTF = 1)",
                  annotation_position="top left")
    fig.add_hline(y=PAPER_RTF, line={"color": "#2ca02c", "dash": "dot"},
                  annotation_text=f"paper: INT4 + DR fusion, RTF {PAPER_RTF}", annotation_position="bottom right")
    beams = sorted(data["beam"].unique())
    fig.update_layout(
        title=title, height=480, legend_title="precision, fusion",
        xaxis={"title": "beam width", "type": "log", "tickvals": beams, "ticktext": [str(b) for b in beams]},
        yaxis={"title": "RTF (processing time / audio time)", "type": "log"},
    )
    return fig


def pareto_front(df: pd.DataFrame, x: str = "rtf", y: str = "wer_percent") -> pd.DataFrame:
    """Rows not dominated in (x, y), both minimized, sorted by x. Ties in both keep the first row."""
    data = df.dropna(subset=[x, y]).sort_values([x, y], kind="stable")
    keep, best = [], float("inf")
    for idx, yv in zip(data.index, data[y]):
        if yv < best:
            keep.append(idx)
            best = yv
    return data.loc[keep]


def fig_wer_vs_rtf(df: pd.DataFrame) -> go.Figure:
    """WER (from each workload's workload.yaml accuracy) against RTF, with the Pareto front."""
    title = "WER vs RTF (Pareto front: no point is both faster and more accurate)"
    data = ok_rows(df)
    if "wer_percent" not in data or data["wer_percent"].notna().sum() == 0:
        return empty_figure(title, "no workload in these results carries a measured accuracy (workload.yaml "
                                   "accuracy.wer_percent); synthetic workloads have none")
    data = data.dropna(subset=["wer_percent", "rtf"]).assign(label=lambda d: config_label(d))
    if "wer_precision" in data:  # which decode each WER was measured with (its own precision, or the float one)
        data = data.assign(label=data["label"] + "<br>WER of the " + data["wer_precision"].fillna("fp32").astype(str)
                           + " decode")
    speech = sorted({str(s) for s in data["speech"].dropna() if s}) if "speech" in data else []
    if speech:
        title += "<br><sub>WER measured on " + "; ".join(speech) + "</sub>"
    fig = go.Figure()
    for prec in precisions(data):
        grp = data[data["precision_mode"].astype(str) == prec]
        fig.add_scatter(x=grp["rtf"], y=grp["wer_percent"], mode="markers", name=prec, text=grp["label"],
                        marker={"color": PRECISION_COLORS.get(prec), "size": 9},
                        hovertemplate="%{text}<br>RTF %{x:.4f}<br>WER %{y:.2f} %<extra>" + prec + "</extra>")
    front = pareto_front(data)
    fig.add_scatter(x=front["rtf"], y=front["wer_percent"], mode="lines", name="Pareto front",
                    line={"color": "black", "shape": "hv", "dash": "dot"}, hoverinfo="skip")
    fig.add_vline(x=REAL_TIME_RTF, line={"color": "black", "width": 1}, annotation_text="real time")
    fig.update_layout(title=title, height=480, xaxis={"title": "RTF", "type": "log"},
                      yaxis_title="WER (%)", legend_title="precision")
    return fig
