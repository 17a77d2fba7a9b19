"""Fold timing equals SCALE-Sim's closed forms; matmul cycles respect the compute roofline."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_sim_helpers import arch

from accelsim.cost import array_cycles, fold_schedule, matmul_cycles, os_cycles, schedule_cycles, ws_cycles
from accelsim.cost.matmul import peak_macs_per_cycle

dims = st.integers(1, 300)
arr = st.integers(1, 32)


@settings(max_examples=100, deadline=None)
@given(sr=st.integers(1, 120), sc=st.integers(1, 120), t=dims, r=arr, c=arr)
def test_tile_level_schedule_equals_closed_forms(sr, sc, t, r, c):
    folds = math.ceil(sr / r) * math.ceil(sc / c)
    # output stationary: Sr = M, Sc = N, T = K
    assert schedule_cycles(sr, sc, t, r, c, "os") == folds * (t + r + c - 2) - 1 == os_cycles(sr, t, sc, r, c)
    # weight stationary: Sr = K, Sc = N, T = M
    assert schedule_cycles(sr, sc, t, r, c, "ws") == folds * (t + 2 * r + c - 2) - 1 == ws_cycles(t, sr, sc, r, c)
    tiles = list(fold_schedule(sr, sc, t, r, c, "os"))
    assert len(tiles) == folds
    assert all(b.start == a.end for a, b in zip(tiles, tiles[1:]))  # back to back
    # the folds tile the spatial problem: every (row, col) lies in exactly one fold
    assert sorted({f.row0 for f in tiles}) == list(range(0, sr, r))
    assert sorted({f.col0 for f in tiles}) == list(range(0, sc, c))


def test_known_values():
    # 8x8 array, GEMM 16x32 @ 32x24 (OS): folds = 2 * 3 = 6, each 32 + 8 + 8 - 2 = 46 cycles
    assert os_cycles(16, 32, 24, 8, 8) == 6 * 46 - 1
    # WS: Sr = K = 32 -> 4 row folds, Sc = 24 -> 3: 12 folds of 16 + 16 + 8 - 2 = 38
    assert ws_cycles(16, 32, 24, 8, 8) == 12 * 38 - 1
    assert os_cycles(1, 1, 1, 1, 1) == 0


@settings(max_examples=60, deadline=None)
@given(m=st.integers(1, 512), k=st.integers(1, 4096), n=st.integers(1, 4096),
       prec=st.sampled_from(["fp16", "int8", "int4"]), flow=st.sampled_from(["os", "ws"]))
def test_matmul_never_beats_the_compute_roofline(m, k, n, prec, flow):
    spec = arch("int4", **{"core.matrix.dataflow": flow})
    cycles = matmul_cycles(m, k, n, spec.core.matrix, spec.core.scratchpad, prec, prec, prec)
    assert cycles >= m * k * n / peak_macs_per_cycle(spec.core.matrix, prec) - 1


@settings(max_examples=50, deadline=None)
@given(m=st.integers(1, 256), k=st.integers(1, 4096), n=st.integers(1, 4096), flow=st.sampled_from(["os", "ws"]))
def test_lower_precision_is_never_slower_on_the_array(m, k, n, flow):
    mat = arch("int4", **{"core.matrix.dataflow": flow}).core.matrix
    fp16, int8, int4 = (array_cycles(m, k, n, mat, p) for p in ("fp16", "int8", "int4"))
    assert fp16 >= int8 >= int4
    assert fp16 <= 8 * int4 + 8 * 64  # and no better than the 8:1 peak ratio allows (plus fill/drain)


def test_batch_one_gemv_is_fill_drain_bound_at_int4():
    """The latency-bound recurrence: a 1 x 640 @ 640 x 2560 LSTM step gains far less than 8x from INT4."""
    mat = arch("int4").core.matrix
    ratio = array_cycles(1, 640, 2560, mat, "fp16") / array_cycles(1, 640, 2560, mat, "int4")
    assert 3.0 < ratio < 5.0
    long_k = array_cycles(1, 8192, 2560, mat, "fp16") / array_cycles(1, 8192, 2560, mat, "int4")
    assert long_k > ratio  # a longer reduction amortizes the fixed fill/drain of each fold
    # and one row of eight does the work: at most 1/8 of peak for m = 1
    macs_per_cycle = 640 * 2560 / array_cycles(1, 640, 2560, mat, "int4")
    assert macs_per_cycle <= mat.pes * mat.macs_per_pe_cycle["int4"] / 8


def test_bigger_arrays_can_slow_a_gemv():
    """Documented non-monotonicity: more rows lengthen fill/drain without helping an m = 1 GEMV."""
    small = arch("int4").core.matrix
    tall = arch("int4", **{"core.matrix.rows": 32}).core.matrix
    assert array_cycles(1, 640, 16, tall, "int4") > array_cycles(1, 640, 16, small, "int4")


@pytest.mark.parametrize("flow", ["os", "ws"])
def test_more_simd_lanes_never_slower(flow):
    base = arch("int4", **{"core.matrix.dataflow": flow}).core.matrix
    wide = arch("int4", **{"core.matrix.dataflow": flow, "core.matrix.macs_per_pe_cycle.int4": 128}).core.matrix
    for m, k, n in [(1, 640, 2560), (16, 1280, 4096), (200, 240, 2560), (3, 7, 5)]:
        assert array_cycles(m, k, n, wide, "int4") <= array_cycles(m, k, n, base, "int4")
