"""The mapper's compiled and array paths against plain-Python statements of the same rules: the integer view of
a workload, sub-workloads, the piece edges (all-gathers, reduces, ``after`` streams, ``overlap: none``,
start-up loads, ring delays), the weight uses that rank residency, and the cost model's LRU replay."""

from __future__ import annotations

import math
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.cost.transfer import ring_hops
from accelsim.map.build import REDUCE, build_plan, weight_bytes_of
from accelsim.map.estimate import longest_path_end_s, lru_hits
from accelsim.map.mapping import Mapping, StreamMap
from accelsim.map.search import _weight_uses, choose_pinned, phase_groups, sub_workload
from accelsim.spec import load_arch
from accelsim.trace.coded import frame_codes, op_codes
from accelsim.trace.synthetic import SyntheticConfig, write_synthetic

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wl(tmp_path_factory):
    return write_synthetic(tmp_path_factory.mktemp("internals") / "wl",
                           SyntheticConfig(beam=2, utterances=2, seconds=0.1, enc_layers=2, seed=3), command="tests")


def _arch(**overrides):
    return load_arch(REPO / "arch" / "int4.yaml", overrides or None)


def test_op_codes_match_the_pandas_table(wl):
    oc = op_codes(wl)
    assert op_codes(wl) is oc  # computed once
    for col in ("kind", "func", "pclass", "weight", "stream", "phase"):
        got = [getattr(oc, col).names[c] for c in getattr(oc, col).codes]
        assert got == wl.ops[col].astype(str).tolist()
    for col in ("m", "k", "n", "utt"):
        assert getattr(oc, col).tolist() == wl.ops[col].tolist()
    assert [oc.dep_src[oc.dep_ptr[i]:oc.dep_ptr[i + 1]].tolist() for i in range(len(oc))] == \
        [list(d) for d in wl.ops["deps"]]


def test_sub_workload_keeps_its_ops_and_drops_outside_deps(wl):
    keep = wl.ops["utt"].to_numpy() == wl.ops["utt"].max()
    sub = sub_workload(wl, keep)
    ids = np.flatnonzero(keep)
    new = {int(o): i for i, o in enumerate(ids)}
    want = [[new[p] for p in wl.ops["deps"].iloc[o] if p in new] for o in ids]
    assert [list(d) for d in sub.ops["deps"]] == want
    assert sub.ops["id"].tolist() == list(range(len(ids)))
    fresh, cached = frame_codes(sub.ops), op_codes(sub)
    for col in ("kind", "stream", "weight"):
        assert [getattr(fresh, col).names[c] for c in getattr(fresh, col).codes] == \
            [getattr(cached, col).names[c] for c in getattr(cached, col).codes]
    assert np.array_equal(fresh.dep_ptr, cached.dep_ptr) and np.array_equal(fresh.dep_src, cached.dep_src)


def _reference_edges(arch, workload, mapping, built, overlap):
    """Every piece's parents and delays, from the documented rules, one piece at a time."""
    ops = workload.ops
    plan = built.plan
    nl = built.loads
    pieces_of: dict[int, list[int]] = {}
    for p, o in enumerate(plan.piece_op.tolist()):
        if o >= 0:
            pieces_of.setdefault(o, []).append(p)
    role = built.role

    def outputs(o):  # what a consumer waits for: the reduce piece, else every piece
        ps = pieces_of[o]
        return [ps[-1]] if role[ps[-1]] == REDUCE else ps

    def inputs(o):
        return [p for p in pieces_of[o] if role[p] != REDUCE]

    stream = ops["stream"].astype(str).tolist()
    kind = ops["kind"].astype(str).tolist()
    deps = [list(d) for d in ops["deps"]]
    vector = ("lstm_pointwise", "nonlinear", "elementwise")

    def sliced(o):  # an n-split (column slices) op
        sm = mapping.streams[stream[o]]
        return sm.split == "n" and kind[o] in ("matmul", *vector)

    parents: dict[int, list[int]] = {p: [] for p in range(plan.n)}
    utt = ops["utt"].tolist()
    for o in range(len(ops)):
        ins = inputs(o)
        for s in deps[o]:
            local = (sliced(s) and sliced(o) and kind[o] != "matmul" and stream[s] == stream[o]
                     and len(pieces_of[s]) == len(pieces_of[o]) > 1)
            for b, q in enumerate(ins):
                parents[q] += [pieces_of[s][b]] if local else outputs(s)
        after = mapping.streams[stream[o]].after
        if after and not any(stream[s] == stream[o] for s in deps[o]):
            last = [x for x in range(len(ops)) if stream[x] == after and utt[x] == utt[o]]
            if last and last[-1] < o:
                for q in ins:
                    parents[q] += pieces_of[last[-1]]
        if overlap == "none" and o > 0:
            for q in ins:
                parents[q] += pieces_of[o - 1]
        if role[pieces_of[o][-1]] == REDUCE:
            parents[pieces_of[o][-1]] += pieces_of[o][:-1]
    # a first-utterance reader of a pinned weight waits for the load of that weight (slice) onto its core;
    # loads come first, one per (weight, core), in weight-label then core order
    wnames = op_codes(workload).weight.names
    loads = sorted((wnames.index(w), c) for w, cs in mapping.pinned.items() if w in wnames for c in cs)
    assert len(loads) == nl
    wop = ops["weight"].astype(str).tolist()
    first = min(utt)
    for p in range(nl, plan.n):
        o = int(plan.piece_op[p])
        if role[p] != REDUCE and wop[o] and built.resident[p - nl] and utt[o] == first:
            key = (wnames.index(wop[o]), int(built.core[p]))
            if key in loads:
                parents[p].append(loads.index(key))
    ic = arch.interconnect
    delays = {}
    for q, ps in parents.items():
        for p in ps:
            a, b = built.core[p], built.core[q]
            cyc = arch.overheads.sync_cycles + ring_hops(a, b, arch.cores) * ic.hop_cycles + \
                math.ceil(built_out_bytes(built, p) / ic.bytes_per_cycle)
            delays[(p, q)] = 0.0 if a == b else cyc / arch.clock
    return parents, delays


def built_out_bytes(built, p):
    return 0.0 if p < built.loads else float(built.costs["out_bytes"][p - built.loads])


@pytest.mark.parametrize("shape", ["split_n", "split_k", "serial", "loads"])
@pytest.mark.parametrize("overlap", ["full", "none"])
def test_piece_edges_follow_the_documented_rules(wl, shape, overlap):
    arch = _arch()
    enc, dec = phase_groups(wl)
    if shape == "serial":  # one direction of each layer after the other, on all cores
        streams = {}
        for s in enc:
            other = s[:-3] + "fwd"
            streams[s] = StreamMap((0, 1, 2, 3), "n", other if s.endswith("bwd") and other in enc else "")
        streams.update({s: StreamMap((0, 1), "n") for s in dec})
    else:
        axis = "k" if shape == "split_k" else "n"
        streams = {s: StreamMap((0, 1, 2), axis) for s in enc} | {s: StreamMap((3, 1), axis) for s in dec}
    pinned = choose_pinned(arch, wl, streams, True) if shape == "loads" else {}
    mapping = Mapping(name="t", streams=streams, pinned=pinned, charge_load=bool(pinned))
    built = build_plan(arch, wl, mapping, overlap=overlap).per_piece()  # per-key arrays per piece
    plan = built.plan
    if shape == "loads":
        assert built.loads > 0
    parents, delays = _reference_edges(arch, wl, mapping, built, overlap)
    edges = plan.edges()
    for q in range(plan.n):
        lo, hi = edges.ptr[q], edges.ptr[q + 1]
        assert edges.src[lo:hi].tolist() == parents[q], q
        for e in range(lo, hi):
            assert edges.delay_s[e] == delays[(int(edges.src[e]), q)]


def test_weight_uses_match_a_plain_count(wl):
    home, fetches, bursty = _weight_uses(wl)
    ops = wl.ops
    w, s, k = (ops[c].astype(str).tolist() for c in ("weight", "stream", "kind"))
    for name in {x for x in w if x}:
        reads = {}
        for wi, si in zip(w, s):
            if wi == name:
                reads[si] = reads.get(si, 0) + 1
        best = sorted(reads, key=lambda x: (-reads[x], x))[0]
        assert home[name] == best
        seq = [wi for wi, si, ki in zip(w, s, k) if si == best and ki == "matmul"]
        runs = sum(1 for i, x in enumerate(seq) if x == name and (i == 0 or seq[i - 1] != name))
        uses = seq.count(name)
        rows = sum(int(m) * int(n) for wi, ki, m, n in zip(w, k, ops["m"], ops["n"]) if wi == name and ki == "embedding")
        want = (runs if uses else 0) + rows / wl.meta.weights[name].elements
        assert fetches[name] == pytest.approx(want, rel=1e-12)
        if uses:
            assert bursty[name] == (uses >= 2 * runs)


@settings(max_examples=60, deadline=None)
@given(reads=st.lists(st.tuples(st.integers(0, 1), st.integers(0, 5)), min_size=1, max_size=60),
       sizes=st.lists(st.sampled_from([1.0, 2.0, 3.0, 5.0]), min_size=6, max_size=6),
       caps=st.lists(st.sampled_from([0.0, 2.0, 4.0, 7.0]), min_size=2, max_size=2))
def test_lru_replay_matches_an_ordered_dict(reads, sizes, caps):
    core = np.array([c for c, _ in reads], dtype=np.int64)
    wid = np.array([w for _, w in reads], dtype=np.int64)
    got = lru_hits(np.arange(len(reads), dtype=np.int64), core, wid, np.array(sizes), np.array(caps), 2)
    caches = [OrderedDict(), OrderedDict()]
    want = []
    for c, w in reads:
        cache = caches[c]
        if w in cache:
            cache.move_to_end(w)
            want.append(True)
            continue
        want.append(False)
        if sizes[w] <= caps[c]:
            while sum(cache.values()) + sizes[w] > caps[c]:
                cache.popitem(last=False)
            cache[w] = sizes[w]
    assert got.tolist() == want


def test_longest_path_is_parents_plus_delay_plus_own_time():
    ptr = np.array([0, 0, 1, 3], dtype=np.int64)
    src = np.array([0, 0, 1], dtype=np.int64)
    delay = np.array([0.5, 0.0, 0.25])
    busy = np.array([1.0, 2.0, 4.0])
    assert longest_path_end_s(ptr, src, delay, busy).tolist() == [1.0, 3.5, 7.75]


@pytest.mark.parametrize("axis,cores", [("n", (0, 1, 2)), ("k", (1, 2, 3)), ("n", (2,))])
def test_held_slices_are_what_the_plan_pins(wl, axis, cores):
    """The search budgets each core by the slices build_plan will really hold (uneven cuts included)."""
    from accelsim.map.search import held_slices

    arch = _arch()
    enc, dec = phase_groups(wl)
    streams = {s: StreamMap(cores, axis) for s in enc + dec}
    pinned = choose_pinned(arch, wl, streams, False)
    assert pinned
    built = build_plan(arch, wl, Mapping(name="t", streams=streams, pinned=pinned))
    home, _f, _b = _weight_uses(wl)
    wbytes = weight_bytes_of(arch, wl)
    want = np.zeros(arch.cores)
    for w in pinned:
        for c, b in held_slices(wl, w, streams[home[w]], wbytes[w]).items():
            want[c] += b
    assert built.pinned_bytes.tolist() == pytest.approx(want.tolist(), rel=1e-12)


def test_uneven_slices_never_overflow_a_core():
    """Regression: INT8 on 8 cores split a 1.5 MiB-budget core's slices unevenly and the plan refused it."""
    from accelsim.sim import simulate
    from accelsim.trace import load_workload

    r = simulate(load_arch(REPO / "arch" / "int8.yaml", {"cores": 8}), load_workload(REPO / "workloads" / "rnnt_beam16"))
    assert r.sim_s > 0 and (r.residency.held_bytes is None or
                            max(r.residency.held_bytes) <= r.arch.core.scratchpad.size * r.arch.core.scratchpad.weight_fraction)
