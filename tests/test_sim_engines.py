"""The fast (compiled) engine and the simpy reference engine play every plan identically, bit for bit."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_sim_helpers import REPO, arch, mem_workload

from accelsim.map.build import build_plan
from accelsim.map.plan import DMA_LOCAL_UNIT, UNITS_PER_CORE, Links, Plan
from accelsim.sim import simulate
from accelsim.sim.play import play
from accelsim.sim.simulate import choose_mapping
from accelsim.trace import Workload, load_workload
from accelsim.trace.synthetic import SyntheticConfig, build

WORKLOADS = sorted(p.name for p in (REPO / "workloads").iterdir() if (p / "workload.yaml").is_file())
FIELDS = ("start_s", "end_s", "blocker", "hit")


def assert_identical(a, b) -> None:
    for name in FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and np.array_equal(x, y), f"{name} differs at {np.flatnonzero(x != y)[:5]}"


def assert_runs_identical(a, b) -> None:
    for name in ("start_s", "end_s", "blocker", "resident"):
        x, y = getattr(a, name), getattr(b, name)
        assert np.array_equal(x, y), f"{name} differs at {np.flatnonzero(x != y)[:5]}"
    assert a.summary() == b.summary()


def first_utterances(workload, count: int):
    """The ops of the workload's first ``count`` utterances, renumbered (their dependencies stay inside)."""
    utt = workload.ops["utt"].to_numpy()
    keep = np.isin(utt, np.unique(utt)[:count])
    ops = workload.ops.loc[keep].reset_index(drop=True).copy()
    assert int(workload.ops["id"].iloc[int(keep.sum()) - 1]) == int(keep.sum()) - 1  # a prefix: ids unchanged
    return Workload(workload.path, workload.meta, ops)  # views derived from the whole ops do not carry over


@pytest.mark.parametrize("mapping", ["naive", "search"])
@pytest.mark.parametrize("name", ["int4", "fp16"])
def test_engines_agree_on_every_shipped_workload(name, mapping):
    """The plan the mapping builds for each shipped workload's first utterance (two for the small ones, so
    utterance gating is played too), played by both engines (a whole workload: the test below)."""
    fast = arch(name, **{"scheduler.engine": "fast", "scheduler.mapping": mapping})
    assert arch(name).scheduler.engine == "fast"  # the default
    # the search costs about a second per workload: fp16 searches one workload of each kind (DR, no LM, small)
    names = ["rnnt_beam16", "rnnt_nolm_beam1", "small_beam16"] if (name, mapping) == ("fp16", "search") else WORKLOADS
    for wl_name in names:
        wl = first_utterances(load_workload(REPO / "workloads" / wl_name), 2 if wl_name.startswith("small") else 1)
        _mapping, built, played = choose_mapping(fast, wl)
        if built is None:
            built = build_plan(fast, wl, _mapping, overlap=fast.scheduler.overlap)
            played = play(built.plan, "fast")
        assert_identical(play(built.plan, "reference"), played)


def test_engines_agree_on_a_whole_shipped_workload():
    wl = load_workload(REPO / "workloads" / "small_beam16")
    fast, ref = arch("int4", **{"scheduler.engine": "fast"}), arch("int4", **{"scheduler.engine": "reference"})
    assert_runs_identical(simulate(fast, wl), simulate(ref, wl))


@st.composite
def plans(draw) -> Plan:
    """Small plans that provoke every corner: ties (times on a coarse grid), streamed pieces sharing DRAM, the
    reuse cache (few weights, small caches), multi-slot units, sequential utterances, any DAG order of ids."""
    n = draw(st.integers(1, 40))
    cores = draw(st.integers(1, 3))
    grid = st.integers(0, 4).map(lambda k: k * 0.5)
    unit_capacity = np.array(draw(st.lists(st.integers(1, 3), min_size=cores * UNITS_PER_CORE,
                                           max_size=cores * UNITS_PER_CORE)), dtype=np.int64)
    unit = np.array(draw(st.lists(st.integers(0, cores * UNITS_PER_CORE - 1), min_size=n, max_size=n)), np.int64)
    streamed = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    dram_bytes = np.where(streamed, np.array(draw(st.lists(st.sampled_from([1.0, 2.0, 4.0, 1000.0, 3e6]),
                                                           min_size=n, max_size=n))), 0.0)
    n_weights = draw(st.integers(0, 4))
    weight_id = np.array(draw(st.lists(st.integers(-1, n_weights - 1), min_size=n, max_size=n)), np.int64)
    weight_id = np.where(streamed, weight_id, -1)
    # dependencies: a random DAG whose topological order is a random permutation of the piece ids
    order = np.array(draw(st.permutations(list(range(n)))) if draw(st.booleans()) else range(n), dtype=np.int64)
    deps = []
    for pos in range(n):
        k = draw(st.integers(0, min(pos, 3)))
        parents = draw(st.lists(st.integers(0, pos - 1), min_size=k, max_size=k)) if pos else []
        deps.append((order[pos], [int(order[p]) for p in parents]))
    deps.sort()
    lens = np.array([len(p) for _, p in deps], dtype=np.int64)
    dep_ptr = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    dep_src = np.array([p for _, ps in deps for p in ps], dtype=np.int64)
    dep_delay = np.array(draw(st.lists(grid, min_size=len(dep_src), max_size=len(dep_src))), dtype=np.float64)
    # links besides: ranges of children waiting for ranges of parents (all of them, or the same index when
    # diagonal), each drawn range pair kept when every parent comes before every child it feeds in the DAG
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(n)
    rows = []
    for _ in range(draw(st.integers(0, 6))):
        cc, pc = draw(st.integers(1, 3)), draw(st.integers(1, 3))
        diag = draw(st.booleans())
        pc = cc if diag else pc
        if cc > n or pc > n:
            continue
        c = draw(st.integers(0, n - cc))
        p = draw(st.integers(0, n - pc)) if draw(st.booleans()) or c < pc else draw(st.integers(0, c - pc))
        cp, pp = pos[c:c + cc], pos[p:p + pc]
        if (diag and (pp < cp).all()) or (not diag and pp.max() < cp.min()):
            rows.append((c, cc, p, pc, diag))
    links = Links(child_lo=np.array([r[0] for r in rows], np.int64), child_cnt=np.array([r[1] for r in rows], np.int32),
                  parent_lo=np.array([r[2] for r in rows], np.int64),
                  parent_cnt=np.array([r[3] for r in rows], np.int32), diagonal=np.array([r[4] for r in rows], bool),
                  out_cycles=np.array(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)), np.float64),
                  link_cycles=np.array(draw(st.lists(st.integers(0, 2), min_size=cores * cores,
                                                     max_size=cores * cores)), np.float64).reshape(cores, cores),
                  clock_hz=draw(st.sampled_from([1.0, 2.0, 4.0])))
    utt_rank = None
    if draw(st.booleans()):
        cuts = sorted(draw(st.lists(st.integers(0, n), max_size=3)))
        by_pos = np.searchsorted(np.array(cuts), np.arange(n), side="right")  # parents never of a later rank
        by_pos = np.searchsorted(np.unique(by_pos), by_pos)  # dense ranks
        utt_rank = np.empty(n, dtype=np.int64)
        utt_rank[order] = by_pos
    return Plan(
        piece_op=np.arange(n, dtype=np.int64), unit=unit,
        busy_s=np.array(draw(st.lists(grid, min_size=n, max_size=n))),
        lead_s=np.array(draw(st.lists(grid, min_size=n, max_size=n))),
        compute_s=np.array(draw(st.lists(grid, min_size=n, max_size=n))),
        dram_bytes=dram_bytes,
        tiles=np.array(draw(st.lists(st.sampled_from([1.0, 2.0, 3.0]), min_size=n, max_size=n))),
        weight_id=weight_id,
        hit_busy_s=np.array(draw(st.lists(grid, min_size=n, max_size=n))),
        dep_ptr=dep_ptr, dep_src=dep_src, dep_delay_s=dep_delay, unit_capacity=unit_capacity,
        weight_bytes=np.array(draw(st.lists(st.sampled_from([1.0, 2.0, 4.0, 3e6]), min_size=n_weights,
                                            max_size=n_weights)), dtype=np.float64),
        cache_bytes=np.array(draw(st.lists(st.sampled_from([0.0, 2.0, 5.0, 1e7]), min_size=cores, max_size=cores))),
        bandwidth_Bps=draw(st.sampled_from([1.0, 2.0, 3.0, 1e9])), utt_rank=utt_rank, links=links)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(plan=plans())
def test_engines_agree_on_random_plans(plan):
    ref = play(plan, "reference")
    assert_identical(play(plan, "fast"), ref)
    # links are played exactly as the explicit edges they stand for
    edges = plan.edges()
    expanded = dataclasses.replace(plan, dep_ptr=edges.ptr, dep_src=edges.src, dep_delay_s=edges.delay_s, links=None)
    assert_identical(play(expanded, "fast"), ref)
    # what the plan says an engine must do, on the reference's result
    for i in range(plan.n):
        for e in range(edges.ptr[i], edges.ptr[i + 1]):
            assert ref.start_s[i] >= ref.end_s[edges.src[e]] + edges.delay_s[e] - 1e-9
    assert np.all(ref.end_s >= ref.start_s)
    # issue order (rule 1): when a piece starts, no lower-id piece of its unit that was ready before that
    # instant waits on (one that became ready at it, behind a zero-time piece, may come after)
    ready = np.zeros(plan.n)
    for i in range(plan.n):
        lo, hi = edges.ptr[i], edges.ptr[i + 1]
        if hi > lo:
            ready[i] = (ref.end_s[edges.src[lo:hi]] + edges.delay_s[lo:hi]).max()
        elif plan.utt_rank is not None and plan.utt_rank[i] > 0:
            ready[i] = ref.end_s[plan.utt_rank == plan.utt_rank[i] - 1].max()
    assert np.all(ref.start_s >= ready)
    for k in range(plan.n):
        waiting = (plan.unit == plan.unit[k]) & (ready < ref.start_s[k]) & (ref.start_s > ref.start_s[k])
        assert not waiting[:k].any(), (k, np.flatnonzero(waiting[:k]))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(plan=plans())
def test_engines_agree_when_the_fast_engine_starts_with_the_least_room(plan):
    """The fast engine's event heap and ready list start small and grow where its loop stops to ask (it
    resumes where it stopped): with the least room to start with they grow often, and nothing changes."""
    from accelsim.sim import fast

    before = fast.MIN_BUFFER
    fast.MIN_BUFFER = 1
    try:
        assert_identical(play(plan, "fast"), play(plan, "reference"))
    finally:
        fast.MIN_BUFFER = before


def test_the_event_heap_grows_past_its_first_room():
    """A chain of 20 pieces on one unit, each with a child on another core 100 s away: 20 arrivals pending at
    once, past the room the heap starts with (what one event can schedule, 7 here, plus the one piece ready
    at 0)."""
    from accelsim.sim import fast

    n = 40
    z = np.zeros(n)
    unit = np.array([0] * 20 + [UNITS_PER_CORE] * 20, np.int64)
    lk = Links(child_lo=np.arange(20, 40, dtype=np.int32), child_cnt=np.ones(20, np.int16),
               parent_lo=np.arange(20, dtype=np.int32), parent_cnt=np.ones(20, np.int16), diagonal=np.zeros(20, bool),
               out_cycles=z, link_cycles=np.array([[0.0, 100.0], [100.0, 0.0]]), clock_hz=1.0)
    plan = Plan(piece_op=np.arange(n), unit=unit, busy_s=np.ones(n), lead_s=z, compute_s=z, dram_bytes=z,
                tiles=np.ones(n), weight_id=np.full(n, -1), hit_busy_s=z,
                dep_ptr=np.array([0, *range(20), *[19] * 20], np.int64), dep_src=np.arange(19, dtype=np.int64),
                dep_delay_s=np.zeros(19), unit_capacity=np.ones(6, np.int64),
                weight_bytes=np.zeros(0), cache_bytes=np.zeros(2), bandwidth_Bps=1.0, links=lk)
    before = fast.MIN_BUFFER
    fast.MIN_BUFFER = 1
    try:
        got = play(plan, "fast")
    finally:
        fast.MIN_BUFFER = before
    assert_identical(got, play(plan, "reference"))
    assert list(got.start_s[20:]) == [101.0 + k for k in range(20)] and list(got.blocker[20:]) == list(range(20))


def test_random_plans_reach_the_corners():
    """The strategy above does produce contended DRAM, cache hits, multi-slot DMA units and utterance gating."""
    seen = {"hit": 0, "overlap": 0, "dma_multi": 0, "gated": 0, "gather": 0, "diagonal": 0, "cross_core": 0}

    @settings(max_examples=150, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(plan=plans())
    def probe(plan):
        got = play(plan, "fast")
        seen["hit"] += int(got.hit.any())
        s = np.flatnonzero(plan.dram_bytes > 0)
        if len(s) > 1:
            a, b = got.start_s[s], got.end_s[s]
            seen["overlap"] += int(((a[:, None] < b[None, :]) & (a[None, :] < b[:, None])).sum() > len(s))
        dma = np.arange(len(plan.unit_capacity)) % UNITS_PER_CORE == DMA_LOCAL_UNIT
        seen["dma_multi"] += int((plan.unit_capacity[dma] > 1).any())
        seen["gated"] += int(plan.utt_rank is not None and plan.utt_rank.max() > 0)
        lk = plan.links
        seen["gather"] += int((~lk.diagonal & (lk.child_cnt > 1) & (lk.parent_cnt > 1)).any())
        seen["diagonal"] += int((lk.diagonal & (lk.child_cnt > 1)).any())
        only_links = dataclasses.replace(plan, dep_ptr=np.zeros(plan.n + 1, np.int64), dep_src=np.zeros(0, np.int64),
                                         dep_delay_s=np.zeros(0))
        seen["cross_core"] += int((only_links.edges().delay_s > 0).any())

    probe()
    assert all(v > 0 for v in seen.values()), seen


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(["fp16", "int8", "int4"]), beam=st.sampled_from([1, 4, 16]),
       fusion=st.sampled_from(["none", "dr"]), utterances=st.integers(1, 3), seed=st.integers(0, 5),
       bw=st.sampled_from(["8 GB/s", "64 GB/s", "400 GB/s"]), engines=st.integers(1, 3), cores=st.integers(1, 4),
       mode=st.sampled_from(["sequential", "overlapped"]), reuse=st.booleans())
def test_engines_agree_on_random_traces(name, beam, fusion, utterances, seed, bw, engines, cores, mode, reuse):
    cfg = SyntheticConfig(beam=beam, fusion=fusion, utterances=utterances, seconds=0.15, seed=seed,
                          lm_cells=256, enc_cells=128)
    wl = mem_workload(build(cfg)[0], seconds=0.15 * utterances)
    over = {"offchip.bandwidth": bw, "core.dma.engines": engines, "cores": cores, "scheduler.utterances": mode,
            "scheduler.weight_reuse": reuse}
    assert_runs_identical(simulate(arch(name, **over, **{"scheduler.engine": "fast"}), wl),
                          simulate(arch(name, **over, **{"scheduler.engine": "reference"}), wl))


def _chain(n: int, cyclic: bool) -> Plan:
    z = np.zeros(n)
    src = np.array([n - 1] + list(range(n - 1)) if cyclic else list(range(n - 1)), dtype=np.int64)
    ptr = np.array([0, 1, *range(2, n + 1)] if cyclic else [0, 0, *range(1, n)], dtype=np.int64)
    return Plan(piece_op=np.arange(n), unit=np.zeros(n, np.int64), busy_s=np.ones(n), lead_s=z, compute_s=z,
                dram_bytes=z, tiles=np.ones(n), weight_id=np.full(n, -1), hit_busy_s=z, dep_ptr=ptr, dep_src=src,
                dep_delay_s=np.zeros(len(src)), unit_capacity=np.ones(3, np.int64), weight_bytes=np.zeros(0),
                cache_bytes=np.zeros(1), bandwidth_Bps=1e9)


def _linked(rows, n=4, cores=1) -> Plan:
    """A 4-piece chain plan plus links ``rows`` of (child_lo, child_cnt, parent_lo, parent_cnt, diagonal)."""
    plan = _chain(n, cyclic=False)
    lk = Links(child_lo=np.array([r[0] for r in rows], np.int64), child_cnt=np.array([r[1] for r in rows], np.int32),
               parent_lo=np.array([r[2] for r in rows], np.int64), parent_cnt=np.array([r[3] for r in rows], np.int32),
               diagonal=np.array([r[4] for r in rows], bool), out_cycles=np.zeros(n),
               link_cycles=np.zeros((cores, cores)), clock_hz=1.0)
    return dataclasses.replace(plan, links=lk)


@pytest.mark.parametrize("rows, match", [([(3, 2, 0, 1, False)], "does not exist"),
                                         ([(2, 2, 0, 1, True)], "as many parents"),
                                         ([(2, 0, 0, 1, False)], ">= 1 child")])
def test_bad_links_are_refused(rows, match):
    with pytest.raises(ValueError, match=match):
        _linked(rows).check()


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_a_link_waits_for_every_parent(engine):
    """Pieces 2-3 wait for pieces 0-1 (all of them): on one unit the chain 0 -> 1 -> 2 -> 3 runs as before,
    and piece 2's blocker is piece 1, the parent that ended last; a diagonal link pairs parents and children."""
    got = play(_linked([(2, 2, 0, 2, False)]), engine)
    assert list(got.end_s) == [1.0, 2.0, 3.0, 4.0] and got.blocker[2] == 1
    diag = _linked([(2, 2, 0, 2, True)]).edges()
    assert diag.src.tolist() == [0, 1, 0, 2, 1]
    edges = _linked([(2, 2, 0, 2, False)]).edges()  # per child: its explicit edge, then the link's
    assert edges.ptr.tolist() == [0, 0, 1, 4, 7] and edges.src.tolist() == [0, 1, 0, 1, 2, 0, 1]


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_both_engines_refuse_a_dependency_cycle(engine):
    assert np.array_equal(play(_chain(4, cyclic=False), engine).end_s, [1.0, 2.0, 3.0, 4.0])
    with pytest.raises(RuntimeError, match="stalled"):
        play(_chain(4, cyclic=True), engine)


def test_unknown_engine_is_refused():
    with pytest.raises(ValueError, match="fast, reference"):
        play(_chain(2, cyclic=False), "turbo")


def test_critical_path_walk_is_the_same_compiled_or_not():
    from accelsim.map.build import build_plan
    from accelsim.sim.fast import blocker_chain

    wl = load_workload(REPO / "workloads" / "small_beam1")
    spec = arch("int4")
    r = simulate(spec, wl)
    built = build_plan(spec, wl, r.mapping, overlap=spec.scheduler.overlap)
    played = play(built.plan, spec.scheduler.engine)
    path, i = [], int(np.argmax(played.end_s))  # the plain walk over the pieces' blocker links
    while i >= 0:
        path.append(i)
        i = int(played.blocker[i])
    assert np.array_equal(blocker_chain(played.blocker, int(np.argmax(played.end_s))), path)
    compiled = r.critical_path  # the result's walk (accelsim.sim.aggregate.run_of_pieces)
    assert np.array_equal(compiled, np.asarray(built.plan.piece_op)[path])
    assert compiled[-1] >= 0 and r.blocker[compiled[-1]] == -1


def _plan(unit, busy, parents, *, dram=None, tiles=None, compute=None, cores=1, bandwidth_Bps=1.0) -> Plan:
    """A hand-made plan: ``parents[i]`` lists piece i's parents (no transfer delays); no reuse cache."""
    n = len(unit)
    z = np.zeros(n)
    src = np.array([p for ps in parents for p in ps], dtype=np.int64)
    ptr = np.concatenate([[0], np.cumsum([len(ps) for ps in parents])]).astype(np.int64)
    return Plan(piece_op=np.arange(n), unit=np.array(unit, np.int64), busy_s=np.array(busy, float), lead_s=z,
                compute_s=z if compute is None else np.array(compute, float),
                dram_bytes=z if dram is None else np.array(dram, float),
                tiles=np.ones(n) if tiles is None else np.array(tiles, float), weight_id=np.full(n, -1),
                hit_busy_s=z, dep_ptr=ptr, dep_src=src, dep_delay_s=np.zeros(len(src)),
                unit_capacity=np.ones(cores * UNITS_PER_CORE, np.int64), weight_bytes=np.zeros(0),
                cache_bytes=np.zeros(cores), bandwidth_Bps=bandwidth_Bps)


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_same_time_ties_follow_the_documented_rules(engine):
    """The tie rules of the Plan docstring, each on a plan where event-queue order would decide otherwise."""
    # rule 1a: pieces 2 and 3 become ready on the free matrix unit at t = 1 (3's parent, piece 0, has the
    # lower id): the lower piece id starts first
    got = play(_plan([1, 2, 0, 0], [1, 1, 1, 1], [[], [], [1], [0]]), engine)
    assert list(got.start_s) == [0, 0, 1, 2] and got.blocker[3] == 2
    # rule 1b: piece 3 waits for the matrix unit from t = 1; at t = 2 piece 0 frees it and its child, piece 2,
    # becomes ready: the slot goes to the lowest id waiting, the newly ready piece 2
    got = play(_plan([0, 1, 0, 0], [2, 1, 1, 1], [[], [], [0], [1]]), engine)
    assert list(got.start_s) == [0, 0, 2, 3] and list(got.blocker) == [-1, -1, 0, 2]
    # rule 4: two inputs arriving together (same end, same delay): the highest parent id, however listed
    for listed in ([0, 1], [1, 0]):
        assert play(_plan([0, 1, 0], [1, 1, 1], [[], [], listed]), engine).blocker[2] == 1
    # rule 2: piece 0's transfer ends at t = 1 as piece 1's joins the channel: piece 1's first tile is
    # served at the full bandwidth (end = max(1 + 1 + 1, 3 + 1 / 2) = 3.5, not 4 at half of it)
    got = play(_plan([0, 1, 2], [0, 0, 1], [[], [2], []], dram=[1, 2, 0], tiles=[1, 2, 1], compute=[0, 1, 0]),
               engine)
    assert list(got.end_s) == [1.0, 3.5, 1.0]


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_a_plan_without_its_dependencies_is_not_played(engine):
    """What the result keeps of a played plan (Built.without_dependencies) has no links or ranks left: an
    engine refuses it instead of playing a plan without dependencies."""
    wl = first_utterances(load_workload(REPO / "workloads" / "small_beam1"), 2)
    a = arch("int4", **{"scheduler.mapping": "naive"})
    from accelsim.map.naive import naive_mapping

    built = build_plan(a, wl, naive_mapping(a, wl)[0])
    kept = built.without_dependencies()
    assert built.plan.links.n > 0 and built.plan.utt_rank is not None
    assert kept.plan.links is None and kept.plan.utt_rank is None and kept.plan.piece_key is built.plan.piece_key
    with pytest.raises(ValueError, match="dropped"):
        play(kept.plan, engine)
