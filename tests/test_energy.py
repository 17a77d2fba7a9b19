"""Energy model: the configured peak is reproduced by a compute-bound GEMM, energy is linear / additive and never
negative, more DRAM traffic never costs less, zero static power makes energy clock-independent, ERT plug-in,
clear errors, and the CLI tables."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_sim_helpers import ARCH, arch, arch_from_raw, mem_workload, raw_arch

from accelsim.cli import main
from accelsim.cost.energy import (
    COMPONENTS,
    dynamic_pJ,
    op_action_counts,
    op_precisions,
    peak_pJ_per_mac,
    stream_action_counts,
)
from accelsim.errors import SpecError
from accelsim.sim import simulate
from accelsim.sim.energy import load_energy_table
from accelsim.spec.ert import action_names, load_ert
from accelsim.trace import PHASES, TraceBuilder
from accelsim.trace.synthetic import SyntheticConfig, build

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KINDS = ("matmul", "lstm_pointwise", "nonlinear", "elementwise", "softmax", "topk", "gather", "embedding")
PCLASS = {"matmul": "matmul", "lstm_pointwise": "nonlinear", "nonlinear": "nonlinear", "elementwise": "elementwise",
          "softmax": "softmax", "topk": "softmax", "gather": "elementwise", "embedding": "matmul"}
FUNC = {"nonlinear": "tanh", "elementwise": "mul", "lstm_pointwise": "lstm"}


def small_synthetic(beam=4, fusion="dr", seed=0, seconds=0.3):
    tb, _ = build(SyntheticConfig(beam=beam, fusion=fusion, utterances=1, seconds=seconds, seed=seed))
    return mem_workload(tb, seconds=seconds)


def gemm_on_every_core(m: int, k: int, n: int):
    """One INT4-sized GEMM per core (4 streams), weights small enough to stay in the scratchpad."""
    tb = TraceBuilder()
    for c in range(4):
        tb.declare_weight(f"w{c}", (k, n), "matmul")
        tb.matmul("encoder", m=m, k=k, weight=f"w{c}", stream=f"s{c}")
    return mem_workload(tb, seconds=1.0)


def test_configured_peaks_match_the_published_anchors():
    spec = arch("int4")
    table = load_energy_table(spec)
    assert 2 / peak_pJ_per_mac(table, spec, "int4") == pytest.approx(16.5, rel=0.01)  # ISSCC 2021 INT4
    assert 2 / peak_pJ_per_mac(table, spec, "hfp8") == pytest.approx(3.5, rel=0.01)  # ISSCC 2021 HFP8


def test_compute_bound_int4_gemm_reproduces_the_configured_peak():
    spec = arch("int4")
    result = simulate(spec, gemm_on_every_core(8192, 16384, 64))
    s = result.summary()
    assert sorted(result.placement.values()) == [0, 1, 2, 3] and s["dram_bytes"] == 0
    assert s["util_matrix"] > 0.9  # compute-bound, every array busy
    assert s["chip_tops_per_W"] == pytest.approx(s["peak_tops_per_W"], rel=0.05)
    assert s["chip_tops_per_W"] < s["peak_tops_per_W"]  # fill/drain leaves static power a little more per MAC
    assert s["peak_tops_per_W"] == pytest.approx(16.5, rel=0.01)


@SETTINGS
@given(ops=st.lists(st.tuples(st.sampled_from(KINDS), st.integers(1, 64), st.integers(1, 2048),
                              st.integers(1, 2048), st.floats(0, 1e6), st.integers(1, 8)), min_size=1, max_size=6),
       name=st.sampled_from(["fp16", "int8", "int4"]))
def test_energy_is_linear_in_counts_additive_over_ops_and_never_negative(ops, name):
    spec = arch(name)
    table = load_energy_table(spec)
    per_op, summed = [], {}
    for kind, m, k, n, dram, tiles in ops:
        w, a, p = op_precisions(spec, kind, PCLASS[kind], "matmul" if kind in ("matmul", "embedding") else "")
        counts = op_action_counts(kind, FUNC.get(kind, ""), m, min(k, n), n, w, a, p, spec.core.matrix)
        extra = stream_action_counts(np.array([kind]), np.array([dram]), np.array([tiles]), np.array([m * n * 1.0]))
        for key, value in extra.items():
            counts[key] = counts.get(key, 0.0) + float(value[0])
        assert all(v >= 0 for v in counts.values())
        per_op.append(dynamic_pJ(counts, table))
        for key, value in counts.items():
            summed[key] = summed.get(key, 0.0) + value
    whole = dynamic_pJ(summed, table)
    for comp in whole:
        parts = sum(float(e[comp]) for e in per_op)
        assert float(whole[comp]) == pytest.approx(parts, rel=1e-9, abs=1e-9) and parts >= 0


@SETTINGS
@given(name=st.sampled_from(["fp16", "int8", "int4"]), beam=st.sampled_from([1, 4]),
       fusion=st.sampled_from(["none", "dr"]), seed=st.integers(0, 3))
def test_run_energy_families_sum_to_the_total_and_are_non_negative(name, beam, fusion, seed):
    s = simulate(arch(name), small_synthetic(beam=beam, fusion=fusion, seed=seed)).summary()
    comps = [s[f"energy_{c}_J"] for c in COMPONENTS]
    phases = [s[f"energy_phase_{p}_J"] for p in PHASES]
    assert min(comps + phases) >= 0 and np.isfinite(comps + phases).all()
    assert sum(comps) == pytest.approx(s["energy_J"], rel=1e-12)
    assert sum(phases) == pytest.approx(s["energy_J"], rel=1e-9)
    assert s["energy_static_J"] == pytest.approx((4 * 0.19 + 0.19) * s["sim_s"], rel=1e-12)
    assert s["avg_power_W"] == pytest.approx(s["energy_J"] / s["sim_s"])


@SETTINGS
@given(kind=st.sampled_from(["matmul", "embedding"]), base=st.lists(st.floats(0, 1e7), min_size=1, max_size=5),
       more=st.lists(st.floats(0, 1e7), min_size=5, max_size=5), name=st.sampled_from(["fp16", "int4"]))
def test_more_dram_traffic_never_costs_less_energy(kind, base, more, name):
    table = load_energy_table(arch(name))
    dram = np.array(base)
    kinds = np.array([kind] * len(dram))
    tiles = np.ceil(dram / 32768).clip(1)
    more_dram = dram + np.array(more[: len(dram)])
    less = dynamic_pJ(stream_action_counts(kinds, dram, tiles, dram), table)
    extra = dynamic_pJ(stream_action_counts(kinds, more_dram, np.ceil(more_dram / 32768).clip(1), dram), table)
    assert sum(np.sum(extra[c]) for c in extra) >= sum(np.sum(less[c]) for c in less) - 1e-6


@SETTINGS
@given(name=st.sampled_from(["fp16", "int4"]), seed=st.integers(0, 3), fusion=st.sampled_from(["none", "dr"]))
def test_a_run_that_streams_more_never_costs_less(name, seed, fusion):
    wl = small_synthetic(beam=4, fusion=fusion, seed=seed)
    reuse = simulate(arch(name), wl).summary()
    no_reuse = simulate(arch(name, **{"scheduler.weight_reuse": False}), wl).summary()
    assert no_reuse["dram_bytes"] >= reuse["dram_bytes"]
    assert no_reuse["energy_dram_J"] >= reuse["energy_dram_J"]
    assert no_reuse["energy_J"] >= reuse["energy_J"] * (1 - 1e-12)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(["fp16", "int8", "int4"]), seed=st.integers(0, 3),
       clock=st.sampled_from(["0.4 GHz", "0.8 GHz", "3.2 GHz"]))
def test_zero_static_power_makes_energy_independent_of_clock(name, seed, clock):
    wl = small_synthetic(beam=4, fusion="dr", seed=seed)
    zero = {"energy.static_W_per_core": 0.0, "energy.static_W_uncore": 0.0, "scheduler.weight_reuse": False}
    a = simulate(arch(name, **zero), wl).summary()
    b = simulate(arch(name, **zero, clock=clock), wl).summary()
    assert a["sim_s"] != b["sim_s"]
    assert b["energy_J"] == pytest.approx(a["energy_J"], rel=1e-12)
    assert b["energy_static_J"] == 0.0
    static = simulate(arch(name, **{"scheduler.weight_reuse": False}, clock="0.4 GHz"), wl).summary()
    assert static["energy_J"] > a["energy_J"]  # static power x a longer run


def test_accelergy_ert_overrides_actions_without_code_changes(tmp_path):
    raw = raw_arch("int4")
    (tmp_path / "chip.ert.yaml").write_text(
        "ERT:\n  version: 0.3\n  tables:\n"
        "    - name: system.chip.core[0..3].mac\n      actions:\n        - {name: int4, energy: 0.5}\n"
        "    - name: system.dram\n      actions:\n        - {name: byte, energy: 100.0}\n")
    raw["energy"]["ert"] = "chip.ert.yaml"
    plugged = arch_from_raw(raw, str(tmp_path / "arch.yaml"))
    wl = gemm_on_every_core(64, 1024, 64)
    base = simulate(arch("int4"), wl).summary()
    got = simulate(plugged, wl).summary()
    assert got["energy_mac_J"] == pytest.approx(base["energy_mac_J"] * 0.5 / 0.0553, rel=1e-9)
    assert got["energy_sram_J"] == pytest.approx(base["energy_sram_J"], rel=1e-12)
    assert load_ert(tmp_path / "chip.ert.yaml") == {"mac.int4": 0.5, "dram.byte": 100.0}
    (tmp_path / "flat.yaml").write_text("energy_pJ: {sfu.fp16.transcendental: 1.0, ring.byte_hop: 2.0}\n")
    assert load_ert(tmp_path / "flat.yaml") == {"sfu.fp16.transcendental": 1.0, "ring.byte_hop": 2.0}


@pytest.mark.parametrize("text, match", [
    ("energy_pJ: {mac.int5: 1.0}\n", r"'mac.int5' names no action.*did you mean 'mac.int"),
    ("energy_pJ: {mac.int4: -1}\n", r"mac.int4 energy = -1: expected a finite number of pJ >= 0"),
    ("energy_pJ: {mac.int4: 1, x.mac.int4: 2}\n", r"'mac.int4' is given twice"),
    ("tables: []\n", r"expected an Accelergy ERT"),
])
def test_bad_ert_files_get_clear_errors(tmp_path, text, match):
    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(SpecError, match=match):
        load_ert(tmp_path / "bad.yaml")


def test_incomplete_energy_sections_name_what_is_missing(tmp_path):
    raw = raw_arch("int4")
    del raw["energy"]["dram_pJ_per_byte"]
    with pytest.raises(SpecError, match=r"energy lacks \['dram_pJ_per_byte'\]"):
        arch_from_raw(raw)
    raw["energy"]["ert"] = "missing.yaml"
    plugged = arch_from_raw(raw, str(tmp_path / "a.yaml"))
    with pytest.raises(SpecError, match="not found"):
        load_energy_table(plugged)
    (tmp_path / "empty.yaml").write_text("energy_pJ: {}\n")
    raw["energy"]["ert"] = "empty.yaml"
    with pytest.raises(SpecError, match=r"energy lacks dram.byte"):
        load_energy_table(arch_from_raw(raw, str(tmp_path / "a.yaml")))
    raw["energy"]["mac_pJ"]["int4"] = float("nan")
    with pytest.raises(SpecError, match="mac_pJ"):
        arch_from_raw(raw)


def test_an_arch_without_energy_reports_none():
    raw = raw_arch("int4")
    del raw["energy"]
    s = simulate(arch_from_raw(raw), small_synthetic(beam=1, fusion="none")).summary()
    assert not any(k.startswith("energy") for k in s) and "rtf" in s
    assert set(action_names()) >= {"mac.int4", "sfu.fp16.move", "dram.byte", "ring.byte_hop", "dma.setup"}


def test_cli_run_and_compare_show_energy(tmp_path, capsys):
    from accelsim.trace.synthetic import SyntheticConfig, write_synthetic

    wl = tmp_path / "wl"
    write_synthetic(wl, SyntheticConfig(beam=1, fusion="dr", utterances=2, seconds=0.6), command="pytest")
    js = tmp_path / "r.json"
    assert main(["run", str(ARCH / "int4.yaml"), str(wl), "--json", str(js)]) == 0
    out = capsys.readouterr().out
    for text in ("energy per audio second", "average power", "TOPS/W", "DRAM (+ DMA descriptors)", "lm_target"):
        assert text in out
    report = json.loads(js.read_text())
    assert report["summary"]["energy_mJ_per_audio_s"] > 0 and report["energy_counts"]["mac.int4"] > 0
    cj = tmp_path / "c.json"
    assert main(["compare", str(ARCH / "fp16.yaml"), str(ARCH / "int4.yaml"), str(wl), "--json", str(cj)]) == 0
    assert "energy mJ/audio-s" in capsys.readouterr().out
    cmp = json.loads(cj.read_text())["comparison"]
    assert cmp["energy_ratio"] == pytest.approx(cmp["energy_a_J"] / cmp["energy_b_J"]) and cmp["energy_ratio"] > 1


@pytest.mark.parametrize("name", ["int4", "fp16"])
def test_exact_count_sums_are_the_pairwise_sums(name, monkeypatch):
    """The run's byte counts summed as integers of eighths give what pairwise float sums in op order give."""
    import accelsim.sim.energy as energy_mod
    from accelsim.trace import load_workload

    wl = load_workload(str(Path(__file__).resolve().parents[1] / "workloads" / "small_beam16"))
    r = simulate(arch(name), wl)
    exact = r.summary()
    assert energy_mod._exact_counts(r, np.ones((4, 4)))  # byte counts of this run are multiples of 1/8
    monkeypatch.setattr(energy_mod, "_exact_counts", lambda result, hops: False)
    plain = simulate(arch(name), wl)
    assert plain.summary() == exact and plain.energy.counts == r.energy.counts
