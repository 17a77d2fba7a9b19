"""Reports: a sweep's results table in, plotly figures and one self-contained HTML page out.

frame.py (row selection, labels, FP16 pairing) -> figures_perf.py (speedup by phase, RTF vs beam, WER vs RTF) and
figures_dse.py (RTF by arch field), figures_energy.py (energy by component, WER vs energy),
figures_hw.py (utilization, roofline, Gantt) -> tables.py (speedup table, Markdown, HTML) -> page.py (the page);
load.py reads a sweep folder (table + stored timelines). Figures are pure ``fig_x(df) -> go.Figure``.
"""

from accelsim.report.figures_dse import fig_rtf_by_arch_field
from accelsim.report.figures_energy import fig_energy_breakdown, fig_wer_vs_energy
from accelsim.report.figures_hw import fig_gantt, fig_roofline, fig_utilization
from accelsim.report.figures_perf import fig_rtf_vs_beam, fig_speedup_by_phase, fig_wer_vs_rtf, pareto_front
from accelsim.report.load import load_report_inputs
from accelsim.report.page import FIGURE_IDS, build_page
from accelsim.report.tables import speedup_table, to_markdown

__all__ = [
    "FIGURE_IDS",
    "build_page",
    "fig_energy_breakdown",
    "fig_gantt",
    "fig_roofline",
    "fig_rtf_by_arch_field",
    "fig_rtf_vs_beam",
    "fig_speedup_by_phase",
    "fig_utilization",
    "fig_wer_vs_energy",
    "fig_wer_vs_rtf",
    "load_report_inputs",
    "pareto_front",
    "speedup_table",
    "to_markdown",
]
