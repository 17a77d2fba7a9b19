"""Report figures and tables on a small *real* sweep (the simulator on short synthetic workloads), the Pareto front
as a property, the messages for what a report cannot show, and that a report never runs the simulator."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.cli import main
from accelsim.report import (
    FIGURE_IDS,
    fig_gantt,
    fig_roofline,
    fig_rtf_by_arch_field,
    fig_rtf_vs_beam,
    fig_speedup_by_phase,
    fig_utilization,
    fig_wer_vs_rtf,
    load_report_inputs,
    pareto_front,
    speedup_table,
    to_markdown,
)
from accelsim.sweep import read_results
from accelsim.trace import PHASES



@pytest.fixture(scope="module")
def results(real_sweep) -> pd.DataFrame:
    df, _ = read_results(real_sweep)
    assert df["status"].eq("ok").all(), df["error"].tolist()
    return df


def test_speedup_by_phase_stacks_to_time_relative_to_fp16(results):
    fig = fig_speedup_by_phase(results)
    bars = [t for t in fig.data if t.type == "bar"]
    assert "encoder" in {t.name for t in bars} and {t.name for t in bars} <= set(PHASES)
    stacked = np.sum([np.asarray(t.y, dtype=float) for t in bars], axis=0)
    labels = list(zip(*bars[0].x))
    for (config, prec), height in zip(labels, stacked):
        row = results[(results["precision_mode"] == prec) & (results["beam"] == (4 if "beam 4" in config else 1))]
        base = results[(results["precision_mode"] == "fp16") & (results["beam"] == row["beam"].iloc[0])]
        assert height == pytest.approx(row["sim_s"].iloc[0] / base["sim_s"].iloc[0], rel=1e-9)
    text = [t for t in fig.data if t.type == "scatter"][0].text
    assert "1.00x" in text and all(s.endswith("x") for s in text)


def test_rtf_vs_beam_has_real_time_and_paper_lines(results):
    fig = fig_rtf_vs_beam(results)
    names = {t.name for t in fig.data}
    assert names == {f"{p}, {f}" for p in ("fp16", "int8", "int4")
                     for f in ("no LM, bandwidth=64 GB/s", "DR fusion, bandwidth=128 GB/s")}
    assert sorted(s.y0 for s in fig.layout.shapes) == [0.06, 1.0]
    assert {a.text for a in fig.layout.annotations} == {"real time (RTF = 1)", "paper: INT4 + DR fusion, RTF 0.06"}
    one_beam = fig_rtf_vs_beam(results[results["beam"] == 4])
    assert not one_beam.data and "beam 4" in one_beam.layout.annotations[0].text


def test_speedup_table_and_markdown_match_the_results(results):
    table = speedup_table(results)
    assert list(table.columns) == ["fusion", "beam", "arch.offchip.bandwidth", "rtf_fp16", "rtf_int8", "rtf_int4",
                                   "speedup_int8", "speedup_int4"]
    assert list(table["fusion"]) == ["dr", "none"]
    r = results.set_index(["precision_mode", "beam"])
    assert table.loc[0, "rtf_int4"] == r.loc[("int4", 4), "rtf"]
    assert table.loc[0, "speedup_int4"] == pytest.approx(r.loc[("fp16", 4), "sim_s"] / r.loc[("int4", 4), "sim_s"])
    md = to_markdown(table)
    assert md.splitlines()[0] == ("| LM fusion | beam | offchip.bandwidth | RTF FP16 | RTF INT8 | RTF INT4 | "
                                  "INT8 speedup | INT4 speedup |")
    assert f"{table.loc[0, 'speedup_int4']:.2f}x" in md.splitlines()[2]


def test_utilization_roofline_and_gantt(results, real_sweep):
    util = fig_utilization(results)
    assert [t.name for t in util.data] == ["matrix (MAC arrays)", "SFU / vector", "off-chip DRAM"]
    assert len(util.data[0].x) == len(results)
    roof = fig_roofline(results)
    mm = [t for t in roof.data if t.name and t.name.startswith("matmul (")]
    assert len(mm) == 3
    int4 = results[(results["precision_mode"] == "int4") & (results["beam"] == 4)].iloc[0]
    pt = [t for t in mm if t.name == "matmul (int4)"][0]
    expect_x = int4["kind_matmul_work_ops"] / int4["kind_matmul_dram_bytes"]
    assert any(x == pytest.approx(expect_x, rel=1e-12) for x in pt.x)
    # achieved throughput never beats the per-core roof it is drawn under
    assert all(y <= int4["core_peak_matrix_macs_per_s"] * (1 + 1e-9) for y in pt.y)
    inputs = load_report_inputs(real_sweep)
    assert inputs.timeline is not None and "int4" in inputs.timeline_title
    gantt = fig_gantt(inputs.timeline, title="t", max_ops=50)
    assert sum(len(t.x) for t in gantt.data) == 50 and "50 of" in gantt.layout.title.text
    lanes = set(np.concatenate([np.asarray(t.y) for t in gantt.data]))
    assert all(lane.startswith("core ") for lane in lanes)


def test_rtf_by_arch_field_panels(results):
    fig = fig_rtf_by_arch_field(results)
    assert [a.text for a in fig.layout.annotations] == ["offchip.bandwidth"]
    dots = [t for t in fig.data if t.mode == "markers"]
    assert sum(len(t.y) for t in dots) == len(results)
    best = {t.legendgroup: list(t.y) for t in fig.data if t.mode == "lines"}
    for prec, ys in best.items():
        grp = results[results["precision_mode"] == prec].sort_values("point_index")
        assert ys == list(grp.groupby("arch.offchip.bandwidth", sort=False)["rtf"].min())
    assert not fig_rtf_by_arch_field(results.drop(columns=["arch.offchip.bandwidth"])).data
    two = results.assign(**{"arch.cores": np.where(results["precision_mode"] == "int8", 2, 4)})
    fig2 = fig_rtf_by_arch_field(two)
    assert fig2.layout.yaxis.type == fig2.layout.yaxis2.type == "log"


def test_wer_pareto_uses_workload_accuracy_or_says_why_not(results):
    assert sorted(results["wer_percent"].unique()) == [11.5, 14.0]  # from each workload.yaml's accuracy
    fig = fig_wer_vs_rtf(results)
    front = [t for t in fig.data if t.name == "Pareto front"][0]
    # fastest point (int4, no LM) and the most accurate fast one (int4, DR fusion) form the front
    int4 = results[results["precision_mode"] == "int4"].sort_values("rtf")
    assert list(front.x) == list(int4["rtf"]) and list(front.y) == list(int4["wer_percent"])
    empty = fig_wer_vs_rtf(results.assign(wer_percent=np.nan))
    assert not empty.data and "accuracy" in empty.layout.annotations[0].text


def test_figures_without_baseline_or_data_explain_themselves(results):
    no_fp16 = results[results["precision_mode"] != "fp16"]
    fig = fig_speedup_by_phase(no_fp16)
    assert not fig.data and "no fp16 baseline" in fig.layout.annotations[0].text
    assert speedup_table(no_fp16).empty and "no FP16 baseline" in to_markdown(speedup_table(no_fp16))
    errored = results.assign(status="error")
    for fn in (fig_rtf_vs_beam, fig_utilization, fig_roofline):
        assert not fn(errored).data


points = st.lists(st.tuples(st.floats(0.01, 10), st.floats(0, 50)), min_size=1, max_size=30)


@settings(max_examples=80, deadline=None)
@given(points)
def test_pareto_front_is_exactly_the_non_dominated_points(pts):
    df = pd.DataFrame(pts, columns=["rtf", "wer_percent"])
    front = pareto_front(df)
    def dominated(a, b):  # b dominates a
        return b[0] <= a[0] and b[1] <= a[1] and (b[0] < a[0] or b[1] < a[1])
    all_pts = list(df.itertuples(index=False, name=None))
    for p in front.itertuples(index=False, name=None):
        assert not any(dominated(p, q) for q in all_pts)
    for p in all_pts:
        assert p in set(front.itertuples(index=False, name=None)) or any(
            dominated(p, q) or p == q for q in front.itertuples(index=False, name=None))


def test_report_cli_never_simulates_and_checks_gantt_choice(real_sweep, tmp_path, monkeypatch, capsys):
    import accelsim.sim

    def no_sim(*a, **k):
        raise AssertionError("the report ran the simulator")

    monkeypatch.setattr(accelsim.sim, "simulate", no_sim)
    out, md = tmp_path / "r.html", tmp_path / "t.md"
    assert main(["report", str(real_sweep), "-o", str(out), "--markdown", str(md)]) == 0
    page = out.read_text()
    assert all(f'id="{i}"' in page for i in FIGURE_IDS) and 'id="results-table"' in page
    assert md.read_text().startswith("| LM fusion")
    doc = tmp_path / "doc.md"  # a document with markers keeps its text and gets the table between them
    doc.write_text("intro `<!-- accelsim:speedup-table:start -->`\n<!-- accelsim:speedup-table:start -->\nold\n"
                   "<!-- accelsim:speedup-table:end -->\nend\n")
    for _ in range(2):  # idempotent
        assert main(["report", str(real_sweep), "-o", str(out), "--markdown", str(doc)]) == 0
        text = doc.read_text()
        assert text.startswith("intro `<!-- accelsim:speedup-table:start -->`\n<!-- accelsim:speedup-table:start -->\n"
                               "| LM fusion") and text.endswith(
            md.read_text() + "<!-- accelsim:speedup-table:end -->\nend\n") and "old" not in text
    df, _ = read_results(real_sweep)
    no_tl = df.loc[df["timeline_file"].isna(), "point_id"].iloc[0]
    assert main(["report", str(real_sweep), "-o", str(out), "--gantt", no_tl]) == 2
    assert "stored no timeline" in capsys.readouterr().err
    assert main(["report", str(real_sweep), "-o", str(out), "--gantt", "zzz"]) == 2
    assert "matches 0 points" in capsys.readouterr().err
