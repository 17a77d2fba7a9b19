"""Pieces -> ops aggregation (accelsim.sim.aggregate) equals numpy's reductions bit for bit; keyed plans."""

from __future__ import annotations

import numpy as np
import pytest

from accelsim.map.plan import Plan
from accelsim.sim.aggregate import ops_of_pieces, pairwise_sum
from accelsim.sim.engine import play


def test_pairwise_sum_is_numpys_summation_bit_for_bit():
    rng = np.random.default_rng(7)
    for size in [*range(1, 300), 1000, 1024, 1025, 4097, 70_000]:
        a = rng.standard_normal(size) * 10.0 ** rng.integers(-6, 17, size)  # wide magnitudes: rounding shows
        assert pairwise_sum(a, 0, size) == a.sum(), size
        head = a[0] + pairwise_sum(a, 1, size - 1) if size > 1 else a[0]
        assert head == np.add.reduceat(a, [0])[0], size


def test_ops_of_pieces_matches_numpy_reduceat():
    rng = np.random.default_rng(3)
    n_ops, n_load, n_rows = 400, 3, 17
    width = rng.integers(1, 12, n_ops)  # up to 11 pieces per op: the pairwise blocks of 8 are crossed
    p0 = np.concatenate([[0], np.cumsum(width)]).astype(np.int64)
    total = int(p0[-1])
    piece_op = np.concatenate([np.full(n_load, -1), np.repeat(np.arange(n_ops), width)]).astype(np.int32)
    key = np.concatenate([np.arange(n_load), n_load + rng.integers(0, n_rows, total)]).astype(np.int32)
    hit = np.concatenate([np.zeros(n_load, bool), rng.random(total) < 0.3])
    start = rng.random(n_load + total)
    end = start + rng.random(n_load + total)
    blocker = rng.integers(-1, n_load + total, n_load + total)
    busy_k, hit_k = rng.random(n_load + n_rows), rng.random(n_load + n_rows)
    dram_k = rng.random(n_load + n_rows) * 10.0 ** rng.integers(0, 17, n_load + n_rows)
    resident_r = rng.random(n_rows) < 0.5
    macs_r, elem_r = rng.integers(0, 10**9, n_rows), rng.integers(0, 10**6, n_rows)
    got = ops_of_pieces(p0, n_load, key, piece_op, hit, start, end, blocker, busy_k, hit_k, dram_k, resident_r,
                        macs_r, elem_r)
    o_start, o_end, o_busy, o_dram, o_saved, o_res, o_macs, o_elem, o_blk, o_row, p_dram = got
    first = p0[:-1] + n_load
    kp, rp = key[n_load:], key[n_load:] - n_load
    h = hit[n_load:]
    dram = np.where(h, 0.0, dram_k[kp])
    assert np.array_equal(p_dram, np.concatenate([dram_k[:n_load], dram]))
    assert np.array_equal(o_start, np.minimum.reduceat(start, first))
    assert np.array_equal(o_end, np.maximum.reduceat(end, first))
    assert np.array_equal(o_dram, np.add.reduceat(dram, p0[:-1]))
    assert np.array_equal(o_saved, np.add.reduceat(np.where(h, dram_k[kp], 0.0), p0[:-1]))
    assert np.array_equal(o_busy, np.maximum.reduceat(np.where(h, hit_k[kp], busy_k[kp]), p0[:-1]))
    assert np.array_equal(o_res, np.logical_or.reduceat(resident_r[rp] | h, p0[:-1]))
    assert np.array_equal(o_macs, np.add.reduceat(macs_r[rp], p0[:-1]))
    assert np.array_equal(o_elem, np.add.reduceat(elem_r[rp], p0[:-1]))
    bl = blocker[first]
    assert np.array_equal(o_blk, np.where(bl >= n_load, piece_op[np.maximum(bl, 0)], -1))
    assert np.array_equal(o_row, rp[p0[:-1]])


def _keyed_plan(n: int, keys: int, seed: int) -> Plan:
    rng = np.random.default_rng(seed)
    z = np.zeros(keys)
    parents = [rng.choice(i, size=min(i, 2), replace=False) if i else np.zeros(0, int) for i in range(n)]
    ptr = np.concatenate([[0], np.cumsum([len(p) for p in parents])]).astype(np.int64)
    return Plan(piece_op=np.arange(n), unit=rng.integers(0, 3, keys), busy_s=rng.random(keys), lead_s=z,
                compute_s=rng.random(keys), dram_bytes=np.where(rng.random(keys) < 0.5, 1e3 * rng.random(keys), 0.0),
                tiles=np.ones(keys), weight_id=np.full(keys, -1), hit_busy_s=z, dep_ptr=ptr,
                dep_src=np.concatenate(parents).astype(np.int64), dep_delay_s=rng.random(int(ptr[-1])) * 1e-3,
                unit_capacity=np.array([1, 1, 2]), weight_bytes=np.zeros(0), cache_bytes=np.zeros(1),
                bandwidth_Bps=1e6, piece_key=rng.integers(0, keys, n))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_keyed_plan_plays_as_its_expansion(seed):
    plan = _keyed_plan(60, 7, seed)
    plan.check()
    wide = plan.expanded()
    assert wide.piece_key is None and wide.keys == wide.n == plan.n
    for engine in ("fast", "reference"):
        a, b = play(plan, engine), play(wide, engine)
        for name in ("start_s", "end_s", "blocker", "hit"):
            assert np.array_equal(getattr(a, name), getattr(b, name)), (engine, name)


def test_a_key_out_of_range_is_refused():
    plan = _keyed_plan(10, 3, 0)
    bad = Plan(**{**plan.__dict__, "piece_key": np.full(10, 3)})
    with pytest.raises(ValueError, match="piece_key"):
        bad.check()
