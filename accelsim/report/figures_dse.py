"""Design-space figure: RTF against each architecture field the sweep varied (one panel per field)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from accelsim.report.figures_perf import REAL_TIME_RTF, empty_figure
from accelsim.report.frame import PRECISION_COLORS, ok_rows, override_columns, precisions


def varied_fields(df: pd.DataFrame) -> list[str]:
    """``arch.<path>`` columns that take more than one value among the finished points."""
    data = ok_rows(df)
    return [c for c in override_columns(data) if data[c].nunique(dropna=False) > 1]


def fig_rtf_by_arch_field(df: pd.DataFrame) -> go.Figure:
    """One panel per varied arch field: every point's RTF at each value of that field (values in sweep order).

    Points of the same value spread over the other fields; the panel's line joins the best (lowest) RTF at each
    value, which is what that field alone can buy when the others are chosen well.
    """
    title = "RTF by architecture field (each dot a point; line: best RTF at each value)"
    data = ok_rows(df)
    fields = varied_fields(data)
    if data.empty or not fields:
        return empty_figure(title, "this sweep varies no architecture field (arch.<path> keys): see the precision "
                                   "and beam figures")
    data = data.sort_values("point_index")
    fig = make_subplots(rows=1, cols=len(fields), shared_yaxes=True,
                        subplot_titles=[f.removeprefix("arch.") for f in fields])
    shown: set[str] = set()
    for col, field in enumerate(fields, start=1):
        order = list(dict.fromkeys(data[field].astype(str)))  # the sweep's own value order
        for prec in precisions(data):
            grp = data[data["precision_mode"].astype(str) == prec]
            fig.add_scatter(x=grp[field].astype(str), y=grp["rtf"], mode="markers", name=prec, legendgroup=prec,
                            showlegend=prec not in shown, marker={"color": PRECISION_COLORS.get(prec), "size": 8,
                                                                  "opacity": 0.7},
                            text=grp["point_id"], hovertemplate="%{x}<br>RTF %{y:.4f}<br>point %{text}<extra>"
                            + prec + "</extra>", row=1, col=col)
            best = grp.groupby(grp[field].astype(str))["rtf"].min().reindex(order).dropna()
            fig.add_scatter(x=best.index, y=best.values, mode="lines", line={"color": PRECISION_COLORS.get(prec)},
                            legendgroup=prec, showlegend=False, hoverinfo="skip", row=1, col=col)
            shown.add(prec)
        fig.update_xaxes(type="category", categoryorder="array", categoryarray=order, row=1, col=col)
    fig.add_hline(y=REAL_TIME_RTF, line={"color": "black", "width": 1})
    fig.update_yaxes(type="log")  # every panel: shared axes must share the type too
    fig.update_yaxes(title_text="RTF", row=1, col=1)
    fig.update_layout(title=title, height=460, legend_title="precision")
    return fig
