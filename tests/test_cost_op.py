"""Pure op costs: vector passes, streaming, bytes per precision, memoized tables equal direct calls."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_sim_helpers import arch

from accelsim.cost import op_cost, streamed_seconds, tensor_bytes, vector_cycles
from accelsim.cost.op import cost_arrays
from accelsim.cost.vector import LSTM_PASSES
from accelsim.errors import SpecError
from accelsim.trace.synthetic import SyntheticConfig, build


def test_bytes_per_precision():
    assert tensor_bytes(10, "fp16") == 20
    assert tensor_bytes(10, "int4") == 5
    assert tensor_bytes(8, "int2") == 2


def test_lstm_pointwise_passes():
    spec = arch("fp16")
    v = spec.core.vector
    lat = v.latency_cycles
    expected = sum(-(-mult * 640 // v.lanes) + lat[f] for f, mult in LSTM_PASSES)
    assert vector_cycles("lstm_pointwise", "lstm", 1, 640, 0, v, "fp16") == expected


def test_vector_work_does_not_depend_on_matmul_precision():
    a = op_cost("lstm_pointwise", "lstm", "nonlinear", 16, 0, 1024, "", True, arch("fp16"))
    b = op_cost("lstm_pointwise", "lstm", "nonlinear", 16, 0, 1024, "", True, arch("int4"))
    assert a.busy_s == b.busy_s and a.precision == "fp16"


@settings(max_examples=200, deadline=None)
@given(c=st.floats(1e-9, 1e-3), nbytes=st.floats(1, 1e8), tiles=st.integers(1, 1000), bw=st.floats(1e9, 1e12),
       first=st.floats(0, 1e-6))
def test_streaming_is_bounded_by_compute_and_bandwidth(c, nbytes, tiles, bw, first):
    t = streamed_seconds(c, nbytes, tiles, bw, first)
    assert t >= max(c, nbytes / bw) + first - 1e-15
    assert t <= c + nbytes / bw + first + 1e-12  # double buffering never worse than serial


@settings(max_examples=60, deadline=None)
@given(m=st.integers(1, 64), k=st.integers(1, 2048), n=st.integers(1, 4096), name=st.sampled_from(["fp16", "int8", "int4"]))
def test_streamed_matmul_reads_weight_bytes_at_precision(m, k, n, name):
    spec = arch(name)
    c = op_cost("matmul", "", "matmul", m, k, n, "matmul", False, spec)
    assert c.dram_bytes == tensor_bytes(k * n, spec.precision.matmul.weights)
    resident = op_cost("matmul", "", "matmul", m, k, n, "matmul", True, spec)
    assert resident.dram_bytes == 0 and c.busy_s >= resident.busy_s
    assert c.busy_s >= c.dram_bytes / spec.offchip.bandwidth


def test_unsupported_precision_at_cost_time():
    spec = arch("int4", **{"precision.elementwise": "fp32"})
    with pytest.raises(SpecError, match=r"matmul of precision class 'elementwise' needs fp32.*macs_per_pe_cycle"):
        op_cost("matmul", "", "elementwise", 2, 2, 2, "", True, spec)


def test_cost_table_equals_direct_calls():
    spec = arch("int4")
    tb, _ = build(SyntheticConfig(beam=4, utterances=1, seconds=0.5))
    ops = tb.to_frame()
    wclass = {w: meta.pclass for w, meta in tb.weights.items()}
    rng = np.random.default_rng(0)
    resident = rng.random(len(ops)) < 0.5
    table = cost_arrays(ops, spec, wclass, resident)
    for i in rng.choice(len(ops), 200, replace=False):
        row = ops.iloc[i]
        w = str(row["weight"])
        c = op_cost(str(row["kind"]), str(row["func"]), str(row["pclass"]), int(row["m"]), int(row["k"]),
                    int(row["n"]), wclass.get(w, ""), bool(resident[i]) or not w, spec)
        assert table["busy_s"][i] == c.busy_s and table["dram_bytes"][i] == c.dram_bytes
    assert table["distinct_keys"][0] < len(ops) / 10  # memoized: few distinct shapes


def _factorize_by_sorting(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reference: distinct values in order of first appearance, by numpy's sort."""
    uniq, first, inverse = np.unique(values, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")  # sorted uniques -> first-appearance order
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank[inverse.reshape(-1)], uniq[order]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-2**63, 2**63 - 1), max_size=300), st.integers(1, 40))
def test_factorize_codes_values_in_order_of_first_appearance(pool, repeat):
    from accelsim.cost.op import factorize

    values = np.array((pool * repeat)[::3] + pool, dtype=np.int64)  # repeats, growth past the table's size
    codes, uniques = factorize(values)
    want_codes, want_uniques = _factorize_by_sorting(values)
    assert codes.dtype == np.int64 and uniques.dtype == np.int64
    assert codes.tolist() == want_codes.tolist() and uniques.tolist() == want_uniques.tolist()
    assert uniques[codes].tolist() == values.tolist()
