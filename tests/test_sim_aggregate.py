"""Pieces -> ops aggregation (accelsim.sim.aggregate) equals numpy's reductions bit for bit; keyed plans."""

from __future__ import annotations

import numpy as np
import pytest

from accelsim.map.plan import Plan
from accelsim.sim.aggregate import pairwise_sum
from accelsim.sim.play import play
from reference_passes import ops_of_pieces


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


def test_streamed_pairwise_sums_are_numpys_bit_for_bit():
    from accelsim.sim.aggregate import pairwise_streams, stream_add

    rng = np.random.default_rng(11)
    sizes = np.array([0, 1, 7, 8, 9, 127, 128, 129, 300, 1024, 1025, 5000, 70_001])
    values = [rng.standard_normal(k) * 10.0 ** rng.integers(-6, 17, k) for k in sizes]
    state = pairwise_streams(sizes)
    pos = np.zeros(len(sizes), dtype=int)
    order = np.repeat(np.arange(len(sizes)), sizes)
    rng.shuffle(order)  # the streams' values interleaved
    for s in order:
        stream_add(state, s, values[s][pos[s]])
        pos[s] += 1
    for s, v in enumerate(values):
        assert state[7][s] == v.sum() and np.signbit(state[7][s]) == np.signbit(v.sum()), sizes[s]


def _class_plan(seed: int, n_ops: int = 500, n_load: int = 3, n_classes: int = 9, n_rows: int = 12):
    """Random pieces of ops drawn from classes (ops of a class: the same keys), the reuse cache hitting some."""
    rng = np.random.default_rng(seed)
    templates = [n_load + rng.integers(0, n_rows, rng.integers(1, 12)) for _ in range(n_classes)]
    op_class = rng.integers(0, n_classes, n_ops).astype(np.int32)
    op_class[:n_classes] = np.arange(n_classes)  # every class has ops, its first among the first
    width = np.array([len(templates[c]) for c in op_class])
    p0 = np.concatenate([[0], np.cumsum(width)]).astype(np.int64)
    total = int(p0[-1])
    key = np.concatenate([np.arange(n_load), *[templates[c] for c in op_class]]).astype(np.int32)
    piece_op = np.concatenate([np.full(n_load, -1), np.repeat(np.arange(n_ops), width)]).astype(np.int32)
    hit = np.concatenate([np.zeros(n_load, bool), rng.random(total) < 0.2])
    start = rng.random(n_load + total)
    end = start + rng.random(n_load + total)
    blocker = np.concatenate([[-1], np.arange(n_load + total - 1)]) - rng.integers(0, 3, n_load + total)
    blocker = np.maximum(blocker, -1)
    k = n_load + n_rows
    return dict(
        p0=p0, n_load=n_load, key=key, piece_op=piece_op, hit=hit, start=start, end=end, blocker=blocker,
        busy_k=rng.random(k), hit_k=rng.random(k), dram_k=rng.integers(0, 2**20, k) / 8.0,
        key_unit=rng.integers(0, 3, k).astype(np.int8), resident_r=rng.random(n_rows) < 0.3,
        macs_r=rng.integers(0, 10**9, n_rows), elem_r=rng.integers(0, 10**6, n_rows),
        prec_r=rng.integers(0, 2, n_rows).astype(np.int8), op_class=op_class,
        class_first=np.arange(n_classes), op_core=rng.integers(0, 4, n_classes)[op_class].astype(np.int64),
        op_phase=rng.integers(0, 3, n_ops).astype(np.int8), op_kind=rng.integers(0, 4, n_ops).astype(np.int8),
        unit_r=rng.integers(0, 3, n_rows).astype(np.int8))


def _run(c: dict, exact: bool, room: int = 10_000):
    from accelsim.sim.aggregate import run_of_pieces

    n = len(c["p0"]) - 1
    out = np.empty(n), np.empty(n), np.empty(n, np.int32)
    x = np.empty(room, np.int32), np.empty(room), np.empty(room), np.empty(room), np.empty(room, bool)
    got = run_of_pieces(c["p0"], c["n_load"], c["key"], c["piece_op"], c["hit"], c["start"], c["end"],
                        c["blocker"], c["busy_k"], c["hit_k"], c["dram_k"], c["key_unit"], c["resident_r"],
                        c["macs_r"], c["elem_r"], c["prec_r"], 2, c["op_class"], c["class_first"], c["op_core"],
                        c["op_phase"], 3, c["op_kind"], 4, c["unit_r"], 3, *out, *x, exact)
    return got, out, x


@pytest.mark.parametrize("seed", [0, 1])
def test_run_of_pieces_is_the_per_op_aggregation_and_numpys_totals(seed):
    from reference_passes import busy_by_unit_s, use_by_label
    from accelsim.sim.result import OpRun

    c = _class_plan(seed)
    got, (start, end, blk), x = _run(c, exact=True)
    assert got[0]  # every op equals its class in row, MACs, element ops and core
    n_x = got[9]
    ops = OpRun(c["op_class"], c["class_first"], *got[1:9], *(a[:n_x] for a in x))
    want = ops_of_pieces(c["p0"], c["n_load"], c["key"], c["piece_op"], c["hit"], c["start"], c["end"],
                         c["blocker"], c["busy_k"], c["hit_k"], c["dram_k"], c["resident_r"], c["macs_r"],
                         c["elem_r"])
    o_start, o_end, o_busy, o_dram, o_saved, o_res, o_macs, o_elem, o_blk, o_row, p_dram = want
    assert np.array_equal(start, o_start) and np.array_equal(end, o_end) and np.array_equal(blk, o_blk)
    for name, w in (("busy_s", o_busy), ("dram_bytes", o_dram), ("saved_bytes", o_saved), ("resident", o_res),
                    ("macs", o_macs), ("elem_ops", o_elem), ("row", o_row)):
        assert np.array_equal(ops.column(name), w), name
    assert 0 < n_x < len(o_start)  # hits make exceptions, not every op
    unit = c["key_unit"][c["key"]]
    busy, nbytes = use_by_label(c["piece_op"], c["op_phase"], 3, unit, 3, c["start"], c["end"], p_dram)
    assert np.array_equal(got[10], busy) and np.array_equal(got[11], nbytes)
    assert np.array_equal(got[12], busy_by_unit_s(unit, 3, c["start"], c["end"]))
    assert got[13] == p_dram.sum() and got[14] == p_dram[: c["n_load"]].sum() and got[15] == o_saved.sum()
    assert got[16] == np.count_nonzero(o_saved) and got[17] == o_macs.sum() and got[18] == o_elem.sum()
    prec = c["prec_r"][o_row]
    assert [got[19][k] for k in (0, 1)] == [o_macs.astype(float)[prec == k].sum() for k in (0, 1)]
    path, i = [], int(np.argmax(c["end"]))
    while i >= 0:
        path.append(i)
        i = int(c["blocker"][i])
    assert np.array_equal(got[21], c["piece_op"][path])
    blk = c["blocker"][path]
    spans = c["end"][path] - np.where(blk >= 0, c["end"][np.maximum(blk, 0)], 0.0)
    ops_on = c["piece_op"][path]
    for labels, width, t in ((c["op_phase"], 3, got[22]), (c["op_kind"], 4, got[23]), (c["unit_r"][o_row], 3, got[24])):
        lab = np.where(ops_on >= 0, labels[np.maximum(ops_on, 0)], width)
        assert np.array_equal(t, np.bincount(lab, weights=spans, minlength=width + 1))
    # the pairwise streams give the same totals as the exact integer sums
    plain, _out, _x = _run(c, exact=False)
    for a, b in zip(got, plain):
        assert np.array_equal(np.asarray(a), np.asarray(b))


def test_run_of_pieces_reports_an_op_unlike_its_class_and_a_full_exception_list():
    c = _class_plan(3)
    got, _out, _x = _run(c, exact=True, room=2)
    assert got[0] and got[9] > 2  # more exceptions than room: the caller retries with room for got[9]
    c["macs_r"] = c["macs_r"].copy()
    bad = dict(c, op_core=c["op_core"].copy())
    bad["op_core"][-1] += 1  # the last op on another core than its class's first
    assert not _run(bad, exact=True)[0][0]
