"""Engine properties: exact lone-op cost, rooflines, monotonicity, DRAM bytes, scaling, determinism."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_sim_helpers import arch, mem_workload

from accelsim.cost import op_cost, tensor_bytes
from accelsim.cost.matmul import peak_macs_per_cycle
from accelsim.sim import simulate
from accelsim.sim.placement import weight_precision
from accelsim.trace import PHASES, TraceBuilder
from accelsim.trace.synthetic import SyntheticConfig, build

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ARCH_NAMES = st.sampled_from(["fp16", "int8", "int4"])


def small_synthetic(beam=4, fusion="dr", utterances=1, seconds=0.3, seed=0, **dims):
    cfg = SyntheticConfig(beam=beam, fusion=fusion, utterances=utterances, seconds=seconds, seed=seed, **dims)
    tb, _ = build(cfg)
    return mem_workload(tb, seconds=seconds * utterances)


@SETTINGS
@given(name=ARCH_NAMES, kind=st.sampled_from(["matmul", "lstm_pointwise", "nonlinear", "elementwise", "softmax",
                                              "topk", "gather", "embedding"]),
       m=st.integers(1, 64), k=st.integers(1, 3000), n=st.integers(1, 3000))
def test_a_lone_op_takes_exactly_its_pure_cost(name, kind, m, k, n):
    spec = arch(name)
    tb = TraceBuilder()
    pclass = {"matmul": "matmul", "lstm_pointwise": "nonlinear", "nonlinear": "nonlinear",
              "elementwise": "elementwise", "softmax": "softmax", "topk": "softmax", "gather": "elementwise",
              "embedding": "matmul"}[kind]
    func = {"nonlinear": "tanh", "elementwise": "add", "lstm_pointwise": "lstm"}.get(kind, "")
    if kind == "matmul":
        tb.declare_weight("w", (k, n), "matmul")
        tb.matmul("encoder", m=m, k=k, weight="w", stream="s")
    elif kind == "embedding":
        tb.declare_weight("w", (k, n), "matmul")
        tb.add("embedding", "prediction", m=m, n=n, pclass="matmul", weight="w", stream="s")
    else:
        tb.add(kind, "search", m=m, k=min(k, n), n=n, pclass=pclass, func=func, stream="s")
    result = simulate(spec, mem_workload(tb))
    budget = spec.core.scratchpad.size * spec.core.scratchpad.weight_fraction
    resident = kind not in ("matmul", "embedding") or tensor_bytes(k * n, spec.precision.matmul.weights) <= budget
    pure = op_cost(kind, func, pclass, m, min(k, n) if kind not in ("matmul", "embedding") else k, n,
                   "matmul" if kind in ("matmul", "embedding") else "", resident, spec)
    assert result.sim_s == pytest.approx(pure.busy_s, rel=1e-12, abs=1e-18)
    assert bool(result.resident[0]) == resident


@SETTINGS
@given(name=ARCH_NAMES, beam=st.sampled_from([1, 4, 16]), fusion=st.sampled_from(["none", "dr"]),
       seed=st.integers(0, 5), bw=st.sampled_from(["16 GB/s", "64 GB/s", "400 GB/s"]))
def test_never_faster_than_any_roofline(name, beam, fusion, seed, bw):
    spec = arch(name, **{"offchip.bandwidth": bw})
    wl = small_synthetic(beam=beam, fusion=fusion, seed=seed, seconds=0.2, lm_cells=256, enc_cells=128)
    r = simulate(spec, wl)
    dur = r.end_s - r.start_s
    eps = 1e-12
    # per op: at least its pure (uncontended) cost, its compute ceiling and its bytes over the bandwidth
    assert np.all(dur >= r.costs["busy_s"] * (1 - 1e-9) - eps)
    mat = spec.core.matrix
    peak = np.array([peak_macs_per_cycle(mat, p) if p in mat.macs_per_pe_cycle else np.inf for p in r.costs["precision"]])
    assert np.all(dur >= r.costs["macs"] / peak / spec.clock - eps)
    assert np.all(dur >= r.costs["dram_bytes"] / spec.offchip.bandwidth - eps)
    # whole trace: all bytes over the bandwidth, all MACs over every core's peak
    assert r.sim_s >= r.costs["dram_bytes"].sum() / spec.offchip.bandwidth - eps
    assert r.sim_s >= (r.costs["macs"] / peak).sum() / spec.cores / spec.clock - eps
    # dependencies honoured
    for i, deps in enumerate(wl.ops["deps"]):
        for d in deps:
            assert r.start_s[i] >= r.end_s[d] - eps


@SETTINGS
@given(name=ARCH_NAMES, beam=st.sampled_from([1, 4, 16]), seed=st.integers(0, 3),
       bws=st.lists(st.floats(4e9, 2e12), min_size=2, max_size=2, unique=True))
def test_more_bandwidth_never_slower(name, beam, seed, bws):
    wl = small_synthetic(beam=beam, seed=seed, seconds=0.2, lm_cells=512, enc_cells=256)
    lo, hi = sorted(bws)
    slow = simulate(arch(name, **{"offchip.bandwidth": lo}), wl).sim_s
    fast = simulate(arch(name, **{"offchip.bandwidth": hi}), wl).sim_s
    assert fast <= slow * (1 + 1e-9)


@SETTINGS
@given(name=ARCH_NAMES, beam=st.sampled_from([1, 4, 16]), seed=st.integers(0, 3), factor=st.sampled_from([2, 4]),
       field=st.sampled_from(["macs", "arrays", "lanes"]))
def test_more_compute_never_slower(name, beam, seed, factor, field):
    wl = small_synthetic(beam=beam, seed=seed, seconds=0.2, lm_cells=512, enc_cells=256)
    base = arch(name)
    if field == "macs":
        more = {"core.matrix.macs_per_pe_cycle": {p: v * factor for p, v in base.core.matrix.macs_per_pe_cycle.items()}}
    elif field == "arrays":
        more = {"core.matrix.arrays": base.core.matrix.arrays * factor}
    else:
        more = {"core.vector.lanes": base.core.vector.lanes * factor}
    assert simulate(arch(name, **more), wl).sim_s <= simulate(base, wl).sim_s * (1 + 1e-9)


def _replay_dram_bytes(spec, wl, r) -> float:
    """DRAM bytes the residency policy implies, recomputed independently of the engine: pinned weights cost
    nothing; other matmul weights are fetched unless an LRU copy (in the space pinning left free) survives from
    an earlier use on the same core, replayed in the order the ops started; embeddings fetch their rows."""
    from collections import OrderedDict

    budget = spec.core.scratchpad.size * spec.core.scratchpad.weight_fraction
    free = [budget - sum(r.residency.weight_bytes[w] for w in p) for p in r.residency.pinned]
    caches = [OrderedDict() for _ in range(spec.cores)]
    total = 0.0
    ops = wl.ops
    for i in sorted(range(len(ops)), key=lambda j: (r.start_s[j], j)):
        w = str(ops["weight"].iloc[i])
        c = int(r.core[i])
        if not w or w in r.residency.pinned[c]:
            continue
        meta = wl.meta.weights[w]
        size = tensor_bytes(meta.elements, weight_precision(spec, meta.pclass))
        if str(ops["kind"].iloc[i]) != "matmul":
            total += tensor_bytes(int(ops["m"].iloc[i]) * int(ops["n"].iloc[i]), weight_precision(spec, meta.pclass))
            continue
        cache = caches[c]
        if spec.scheduler.weight_reuse and w in cache:
            cache.move_to_end(w)
            continue
        total += size
        if spec.scheduler.weight_reuse and size <= free[c]:
            while sum(cache.values()) + size > free[c]:
                cache.popitem(last=False)
            cache[w] = size
    return total


@pytest.mark.parametrize("name", ["fp16", "int8", "int4"])
@pytest.mark.parametrize("reuse", [True, False])
def test_dram_bytes_equal_what_the_residency_policy_implies(name, reuse):
    spec = arch(name, **{"scheduler.weight_reuse": reuse})
    wl = small_synthetic(beam=8, seconds=0.3, utterances=2)
    r = simulate(spec, wl)
    assert r.summary()["dram_bytes"] == pytest.approx(_replay_dram_bytes(spec, wl, r), rel=1e-12)
    # pinned weights fit every core's budget, and a weight is pinned on at most one core
    budget = spec.core.scratchpad.size * spec.core.scratchpad.weight_fraction
    for pinned in r.residency.pinned:
        assert sum(r.residency.weight_bytes[w] for w in pinned) <= budget
    assert sum(len(p) for p in r.residency.pinned) == len(set().union(*r.residency.pinned))


def test_int4_recurrent_weights_are_reused_across_frames_fp16_ones_stream():
    """The precision-dependent residency: an encoder layer's recurrent weights (640 x 2560) take 0.8 MB in INT4,
    which fits a core's free scratchpad and is fetched once per utterance; in FP16 (3.3 MB) every frame."""
    wl = small_synthetic(beam=1, seconds=0.3, fusion="none")
    enc_rec = ((wl.ops["phase"] == "encoder") & (wl.ops["m"] == 1) & (wl.ops["kind"] == "matmul")).to_numpy()
    int4 = simulate(arch("int4"), wl)
    fp16 = simulate(arch("fp16"), wl)
    assert int4.resident[enc_rec].mean() > 0.9
    assert fp16.resident[enc_rec].mean() == 0.0
    no_reuse = simulate(arch("int4", **{"scheduler.weight_reuse": False}), wl)
    assert no_reuse.sim_s > int4.sim_s


def _independent(n_ops: int, streams: int, k: int, n: int):
    tb = TraceBuilder()
    for s in range(streams):
        tb.declare_weight(f"w{s}", (k, n), "matmul")
    for i in range(n_ops):
        s = i % streams
        tb.matmul("encoder", m=1, k=k, weight=f"w{s}", stream=f"encoder.s{s}")
    return mem_workload(tb)


@pytest.mark.parametrize("n_ops", [1, 3, 8])
def test_independent_identical_ops_serialise_on_one_unit(n_ops):
    spec = arch("int4", **{"scheduler.weight_reuse": False})  # the weight is simply pinned
    one = simulate(spec, _independent(1, 1, 640, 2560)).sim_s
    assert simulate(spec, _independent(n_ops, 1, 640, 2560)).sim_s == pytest.approx(n_ops * one, rel=1e-12)


@pytest.mark.parametrize("n_ops", [2, 5])
def test_a_reused_weight_is_fetched_once(n_ops):
    """With weight reuse, the weight read in a burst is kept in reserved space: one fetch, then on-chip reads."""
    spec = arch("int4")
    r = simulate(spec, _independent(n_ops, 1, 640, 2560))
    streamed = op_cost("matmul", "", "matmul", 1, 640, 2560, "matmul", False, spec).busy_s
    on_chip = op_cost("matmul", "", "matmul", 1, 640, 2560, "matmul", True, spec).busy_s
    assert r.sim_s == pytest.approx(streamed + (n_ops - 1) * on_chip, rel=1e-12)
    assert r.summary()["dram_bytes"] == tensor_bytes(640 * 2560, "int4")


def test_independent_streams_run_in_parallel_on_separate_cores():
    spec = arch("int4")
    one = simulate(spec, _independent(1, 1, 640, 2560)).sim_s  # resident: compute only
    r = simulate(spec, _independent(4, 4, 640, 2560))
    assert sorted(r.core.tolist()) == [0, 1, 2, 3]
    assert r.sim_s == pytest.approx(one, rel=1e-12)


def test_streams_that_share_dram_contend():
    spec = arch("int4")
    k, n = 4096, 4096  # 8 MiB of INT4 weights each: streamed, bandwidth-bound
    one = simulate(spec, _independent(1, 1, k, n))
    four = simulate(spec, _independent(4, 4, k, n))
    nbytes = tensor_bytes(k * n, "int4")
    assert one.costs["dram_bytes"][0] == nbytes
    assert four.sim_s >= 4 * nbytes / spec.offchip.bandwidth
    assert four.sim_s > 3.5 * one.sim_s  # four cores, one DRAM channel: little parallel speedup


def test_deterministic_and_phase_attribution_sums_to_sim_time():
    spec = arch("int4")
    wl = small_synthetic(beam=16, utterances=2, seconds=0.25)
    a, b = simulate(spec, wl), simulate(spec, wl)
    assert np.array_equal(a.start_s, b.start_s) and np.array_equal(a.end_s, b.end_s)
    assert a.summary() == b.summary()
    s = a.summary()
    assert sum(s[f"phase_{p}_s"] for p in PHASES) == pytest.approx(s["sim_s"], rel=1e-12)
    assert sum(v for k, v in s.items() if k.startswith("kind_")) == pytest.approx(s["sim_s"], rel=1e-12)
    assert sum(v for k, v in s.items() if k.startswith("unit_")) == pytest.approx(s["sim_s"], rel=1e-12)
    for key in ("util_matrix", "util_sfu", "util_dram"):
        assert 0 <= s[key] <= 1


def test_utterances_run_one_after_another_unless_overlapped():
    spec = arch("int4")
    one = simulate(spec, small_synthetic(beam=4, utterances=1, seconds=0.2, seed=1)).sim_s
    tb, _ = build(SyntheticConfig(beam=4, utterances=1, seconds=0.2, seed=1))
    twice = TraceBuilder()
    twice.weights.update(tb.weights)
    frame = tb.to_frame()
    for utt in range(2):
        offset = len(twice)
        for row in frame.itertuples(index=False):
            twice.add(str(row.kind), str(row.phase), m=int(row.m), k=int(row.k), n=int(row.n), pclass=str(row.pclass),
                      func=str(row.func), weight=str(row.weight), stream=str(row.stream), utt=utt, step=int(row.step),
                      deps=[d + offset for d in row.deps])
    wl = mem_workload(twice)
    assert simulate(spec, wl).sim_s == pytest.approx(2 * one, rel=1e-9)
    overlapped = simulate(arch("int4", **{"scheduler.utterances": "overlapped"}), wl).sim_s
    assert one <= overlapped < 2 * one


def test_single_core_placement_is_never_faster_here():
    wl = small_synthetic(beam=16, seconds=0.3)
    spread = simulate(arch("int4"), wl)
    single = simulate(arch("int4", **{"scheduler.placement": "single_core"}), wl)
    assert set(single.core.tolist()) == {0}
    assert len(set(spread.core.tolist())) == 4
    assert spread.sim_s < single.sim_s


def test_timeline_and_chrome_trace():
    from accelsim.errors import AccelsimError
    from accelsim.sim import to_chrome_trace

    wl = small_synthetic(beam=2, seconds=0.2)
    r = simulate(arch("int4"), wl, record_timeline=True)
    tl = r.timeline
    assert list(tl.columns[:8]) == ["op_id", "core", "unit", "phase", "kind", "stream", "start_s", "end_s"]
    assert len(tl) == len(wl.ops) and (tl["end_s"] >= tl["start_s"]).all()
    # one unit never runs two ops at once (matrix and vector have capacity 1)
    for (_core, unit), grp in tl.groupby(["core", "unit"], observed=True):
        if unit != "dma":
            g = grp.sort_values("start_s")
            assert (g["start_s"].to_numpy()[1:] >= g["end_s"].to_numpy()[:-1] - 1e-15).all()
    events = to_chrome_trace(r)["traceEvents"]
    assert sum(e["ph"] == "X" for e in events) == len(wl.ops)
    with pytest.raises(AccelsimError, match="record_timeline"):
        to_chrome_trace(simulate(arch("int4"), wl))


def test_a_dependency_across_cores_pays_the_interconnect():
    spec = arch("int4")
    tb = TraceBuilder()
    tb.declare_weight("wa", (640, 2560), "matmul")
    tb.declare_weight("wb", (640, 2560), "matmul")
    a = tb.matmul("encoder", m=4, k=640, weight="wa", stream="encoder.a")
    tb.matmul("encoder", m=4, k=640, weight="wb", stream="encoder.b", deps=[a])
    r = simulate(spec, mem_workload(tb))
    assert r.core.tolist() == [0, 1]  # equal work: LPT puts the two streams on different cores
    pure = op_cost("matmul", "", "matmul", 4, 640, 2560, "matmul", True, spec)
    ic = spec.interconnect
    hop = (spec.overheads.sync_cycles + 1 * ic.hop_cycles + -(-pure.out_bytes // ic.bytes_per_cycle)) / spec.clock
    assert r.start_s[1] == pytest.approx(pure.busy_s + hop, rel=1e-12)
    assert r.sim_s == pytest.approx(2 * pure.busy_s + hop, rel=1e-12)
    # the critical path charges the wait for the transfer to the consumer
    assert r.by_kind["matmul"] == pytest.approx(r.sim_s, rel=1e-12)


@pytest.mark.parametrize("flow", ["os", "ws"])
def test_dataflow_choice_reaches_the_engine(flow):
    spec = arch("int4", **{"core.matrix.dataflow": flow})
    r = simulate(spec, _independent(1, 1, 640, 2560))
    assert r.sim_s == pytest.approx(op_cost("matmul", "", "matmul", 1, 640, 2560, "matmul", True, spec).busy_s)


def test_weights_must_fit_in_dram():
    from accelsim.errors import SpecError

    wl = small_synthetic(beam=2, seconds=0.2)
    with pytest.raises(SpecError, match=r"int4.yaml: offchip.capacity = 1000000 bytes cannot hold the \d+ bytes"):
        simulate(arch("int4", **{"offchip.capacity": "1 MB"}), wl)
