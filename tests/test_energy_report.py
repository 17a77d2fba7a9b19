"""Energy in sweeps and on the report page: the columns flow from the summary, the figures show exactly them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from accelsim.cost.energy import COMPONENTS
from accelsim.report import FIGURE_IDS, build_page, fig_energy_breakdown, fig_wer_vs_energy, pareto_front
from accelsim.sweep import read_results


@pytest.fixture(scope="module")
def results(real_sweep) -> pd.DataFrame:
    df, _ = read_results(real_sweep)
    assert df["status"].eq("ok").all(), df["error"].tolist()
    return df


def test_sweep_rows_carry_the_energy_columns(results):
    for col in ("energy_J", "energy_mJ_per_audio_s", "avg_power_W", "effective_tops_per_W", "chip_tops_per_W",
                *(f"energy_{c}_J" for c in COMPONENTS)):
        assert col in results and (results[col] >= 0).all() and results[col].notna().all()
    parts = results[[f"energy_{c}_J" for c in COMPONENTS]].sum(axis=1)
    assert np.allclose(parts, results["energy_J"], rtol=1e-12)
    # at each point INT4 spends less energy than FP16 (same work, fewer bytes, shorter run)
    for _, grp in results.groupby("workload_dir"):
        e = grp.set_index("precision_mode")["energy_J"]
        assert e["int4"] < e["int8"] < e["fp16"]


def test_energy_breakdown_stacks_to_each_points_energy_per_audio_second(results):
    fig = fig_energy_breakdown(results)
    bars = [t for t in fig.data if t.type == "bar"]
    assert [t.name for t in bars] == list(COMPONENTS)
    stacked = np.sum([np.asarray(t.y, dtype=float) for t in bars], axis=0)
    labels = list(zip(*bars[0].x))
    for (config, prec), height in zip(labels, stacked):
        beam = 4 if "beam 4" in config else 1
        row = results[(results["precision_mode"] == prec) & (results["beam"] == beam)].iloc[0]
        assert height == pytest.approx(row["energy_mJ_per_audio_s"], rel=1e-9)
    assert all(t.endswith(" W") for t in [t for t in fig.data if t.type == "scatter"][0].text)


def test_wer_vs_energy_front_is_the_non_dominated_points(results):
    fig = fig_wer_vs_energy(results)
    front = [t for t in fig.data if t.name == "Pareto front"][0]
    expect = pareto_front(results, x="energy_mJ_per_audio_s")
    assert list(front.x) == list(expect["energy_mJ_per_audio_s"]) and list(front.y) == list(expect["wer_percent"])
    assert {t.name for t in fig.data} == {"fp16", "int8", "int4", "Pareto front"}


def test_energy_figures_explain_missing_columns_and_join_the_page(results):
    bare = results.drop(columns=[c for c in results.columns if c.startswith("energy")])
    for fn in (fig_energy_breakdown, fig_wer_vs_energy):
        fig = fn(bare)
        assert not fig.data and "energy" in fig.layout.annotations[0].text
    no_wer = fig_wer_vs_energy(results.assign(wer_percent=np.nan))
    assert not no_wer.data and "accuracy" in no_wer.layout.annotations[0].text
    assert {"fig-energy-breakdown", "fig-wer-vs-energy"} <= set(FIGURE_IDS)
    page = build_page(results, {"sweep": "mini", "points_total": len(results)})
    assert 'id="fig-energy-breakdown"' in page and 'id="fig-wer-vs-energy"' in page
