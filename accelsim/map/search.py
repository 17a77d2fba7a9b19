"""The ``search`` mapping (``scheduler.mapping: search``, the default): enumerate, rank, verify, keep the fastest.

Streams fall into two phase groups that never overlap within an utterance (as in :mod:`accelsim.map.naive`):
the encoder (bidirectional layers) and the decoder (prediction, joint, LMs, search). For a chip of ``C``
usable cores the candidates are, per group:

- encoder: ``naive(c)`` -- today's one-core-per-direction placement on cores ``0..c-1`` (c = 1..C);
  ``pairs(g)`` -- the two directions of a layer at once on two core groups ``0..g-1`` and ``g..2g-1``,
  each op split along N (2g <= C); ``shared(g)`` -- both directions split over cores ``0..g-1`` at once;
  ``serial(g)`` -- one direction after the other, each split over cores ``0..g-1`` (its weight slice then
  fits the reuse space);
- decoder: ``naive(c)``; ``own(g, axis)`` -- each stream with matmuls (prediction, each LM, the joint) on its
  own group of ``g`` cores, split along ``axis`` (N: all-gather; K: reduce), the rest on core 0;
  ``shared(g, axis)`` -- all of them split over cores ``0..g-1``.

Every candidate of a chip with fewer cores is a candidate of a chip with more (groups are anchored at core
0), and ``sub_arrays`` offers every smaller array geometry, so the search space grows with the hardware.
For each candidate, residency is chosen chip-wide (:func:`choose_pinned`) and pinned weights are loaded at
the start of the run (``charge_load``). Ranking uses a pure cost model (:func:`estimate_s`: longest path over
ops with fold-timing/roofline piece costs, an LRU model of the reuse space and core-to-core transfers, and
the per-unit and DRAM-channel bounds) on the first utterance of each group; the best few combinations are
played by the engine on the first utterance and the fastest is played in full. Today's naive mapping is
always among those verified, so the search is never slower than it on the utterance it is verified on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from accelsim.cost.op import category_codes
from accelsim.map.build import Built, build_plan, weight_bytes_of
from accelsim.map.mapping import Mapping, StreamMap
from accelsim.map.naive import naive_mapping
from accelsim.map.plan import UNITS_PER_CORE, Played
from accelsim.sim.engine import play
from accelsim.spec.schema import ArchSpec
from accelsim.trace.io import Workload

#: engine verifications on the first utterance (besides naive); more when the workload is small
VERIFY_TOP = 3
SMALL_OPS = 4000  # workloads up to this many ops verify every ranked combination in full


@dataclass(frozen=True)
class Candidate:
    name: str
    streams: dict[str, StreamMap]


def sub_workload(workload: Workload, keep: np.ndarray) -> Workload:
    """The ops where ``keep``, renumbered, with dependencies on dropped ops removed."""
    idx = np.flatnonzero(keep)
    new_id = np.full(len(keep), -1, dtype=np.int64)
    new_id[idx] = np.arange(len(idx))
    ops = workload.ops.iloc[idx].reset_index(drop=True).copy()
    deps = [new_id[np.asarray(d, dtype=np.int64)] for d in workload.ops["deps"].iloc[idx]]
    ops["deps"] = pd.Series([d[d >= 0] for d in deps], dtype=object)
    ops["id"] = np.arange(len(idx), dtype=np.int64)
    return Workload(path=workload.path, meta=workload.meta, ops=ops)


def phase_groups(workload: Workload) -> tuple[list[str], list[str]]:
    """(encoder streams, decoder streams): a stream belongs to the encoder when most of its ops do."""
    ops = workload.ops
    codes, names = category_codes(ops["stream"])
    enc = (ops["phase"].astype(str) == "encoder").to_numpy()
    e = np.bincount(codes, weights=enc, minlength=len(names))
    a = np.bincount(codes, minlength=len(names))
    return [s for i, s in enumerate(names) if 2 * e[i] > a[i]], [s for i, s in enumerate(names) if 2 * e[i] <= a[i]]


def _naive_on(arch: ArchSpec, workload: Workload, cores: int, streams: list[str]) -> dict[str, StreamMap]:
    sub = arch.model_copy(update={"cores": cores})
    m, _ = naive_mapping(sub, workload)
    return {s: m.streams[s] for s in streams}


def encoder_candidates(arch: ArchSpec, workload: Workload, streams: list[str], cores: int) -> list[Candidate]:
    out = [Candidate(f"naive({c})", _naive_on(arch, workload, c, streams)) for c in range(1, cores + 1)]
    layers: dict[str, list[str]] = {}
    for s in streams:
        layers.setdefault(re.sub(r"\.(fwd|bwd)$", "", s), []).append(s)
    for lst in layers.values():
        lst.sort(key=lambda s: (not s.endswith("fwd"), s))
    for g in range(1, cores // 2 + 1):
        m = {}
        for lst in layers.values():
            for i, s in enumerate(lst):
                base = (i % 2) * g
                m[s] = StreamMap(tuple(range(base, base + g)), "n")
        out.append(Candidate(f"pairs({g})", m))
    for g in range(2, cores + 1):
        grp = tuple(range(g))
        out.append(Candidate(f"shared({g})", {s: StreamMap(grp, "n") for s in streams}))
        m = {}
        for lst in layers.values():
            for i, s in enumerate(lst):
                m[s] = StreamMap(grp, "n", lst[i - 1] if i else "")
        out.append(Candidate(f"serial({g})", m))
    return out


def decoder_candidates(arch: ArchSpec, workload: Workload, streams: list[str], cores: int) -> list[Candidate]:
    out = [Candidate(f"naive({c})", _naive_on(arch, workload, c, streams)) for c in range(1, cores + 1)]
    ops = workload.ops
    mm = ops[(ops["kind"].astype(str) == "matmul").to_numpy()]
    work = (mm["m"] * mm["k"] * mm["n"]).groupby(mm["stream"].astype(str)).sum()
    heavy = sorted((s for s in streams if s in work.index), key=lambda s: (-float(work[s]), s))
    light = [s for s in streams if s not in heavy]
    for axis in ("n", "k"):
        for g in range(1, cores // max(1, len(heavy)) + 1):
            if g == 1 and axis == "k":
                continue
            m = {s: StreamMap((0,)) for s in light}
            for i, s in enumerate(heavy):
                m[s] = StreamMap(tuple(range(i * g, i * g + g)), axis)
            out.append(Candidate(f"own({g},{axis})", m))
        for g in range(2, cores + 1):
            m = {s: StreamMap((0,)) for s in light}
            m.update({s: StreamMap(tuple(range(g)), axis) for s in heavy})
            out.append(Candidate(f"shared({g},{axis})", m))
    return out


def _weight_uses(workload: Workload) -> tuple[dict[str, str], dict[str, float], dict[str, bool]]:
    """Per weight: its home stream (most reads), DRAM fetches it would need if streamed, and burstiness."""
    ops = workload.ops
    w = ops["weight"].astype(str).to_numpy()
    s = ops["stream"].astype(str).to_numpy()
    kind = ops["kind"].astype(str).to_numpy()
    has = w != ""
    df = pd.DataFrame({"w": w[has], "s": s[has], "mm": kind[has] == "matmul",
                       "rows": np.where(kind[has] == "embedding", (ops["m"] * ops["n"]).to_numpy()[has], 0)})
    home = df.groupby(["w", "s"]).size().reset_index().sort_values(["w", 0, "s"], ascending=[True, False, True])
    home = dict(home.drop_duplicates("w")[["w", "s"]].itertuples(index=False, name=None))
    # runs of consecutive uses within the home stream's matmuls (issue order): a reuse space keeps the rest
    fetches, bursty = {}, {}
    for name, grp in df[df["mm"]].groupby("s", sort=True):
        seq = grp["w"].to_numpy()
        new = np.ones(len(seq), dtype=bool)
        new[1:] = seq[1:] != seq[:-1]
        runs = pd.Series(seq[new]).value_counts()
        reads = pd.Series(seq).value_counts()
        for wn in reads.index:
            if home.get(wn) == name:
                fetches[wn] = float(runs.get(wn, 0))
                bursty[wn] = bool(reads[wn] >= 2 * runs.get(wn, 1))
    for wn, grp in df[~df["mm"]].groupby("w"):
        fetches[wn] = fetches.get(wn, 0.0) + float(grp["rows"].sum()) / workload.meta.weights[wn].elements
        bursty.setdefault(wn, False)
    return home, fetches, bursty


def choose_pinned(arch: ArchSpec, workload: Workload, streams: dict[str, StreamMap], reserve: bool,
                  uses=None) -> dict[str, tuple[int, ...]]:
    """Chip-wide residency: weights (their slices on their home stream's cores) by DRAM bytes saved per
    scratchpad byte, largest first (ties: smaller, then name), while every slice fits its core's budget;
    with ``reserve``, each core first keeps room for its largest bursty streamed slice (so reuse works)."""
    home, fetches, bursty = uses or _weight_uses(workload)
    wbytes = weight_bytes_of(arch, workload)
    budget = arch.core.scratchpad.size * arch.core.scratchpad.weight_fraction
    used = np.zeros(arch.cores)
    room = np.full(arch.cores, budget)
    if reserve:
        big = np.zeros(arch.cores)
        for w, b in bursty.items():
            if b and w in home:
                cs = streams[home[w]].cores
                for c in cs:
                    if wbytes[w] / len(cs) <= budget:
                        big[c] = max(big[c], wbytes[w] / len(cs))
        room = budget - big
    pinned = {}
    cands = sorted((-fetches.get(w, 0.0), wbytes[w], w) for w in home if fetches.get(w, 0.0) > 0)
    for _neg, size, w in cands:
        cs = streams[home[w]].cores
        sl = size / len(cs) if len(cs) > 1 else size
        if all(used[c] + sl <= room[c] for c in cs):
            pinned[w] = tuple(cs)
            for c in cs:
                used[c] += sl
    return pinned


def _longest_path(plan, busy: np.ndarray) -> np.ndarray:
    """Earliest end of every piece with unbounded units: parents' ends plus transfer delays, plus its time."""
    ptr = plan.dep_ptr.tolist()
    src = plan.dep_src.tolist()
    dly = plan.dep_delay_s.tolist()
    b = busy.tolist()
    e = [0.0] * plan.n
    for i in range(plan.n):
        s = 0.0
        for k in range(ptr[i], ptr[i + 1]):
            t = e[src[k]] + dly[k]
            if t > s:
                s = t
        e[i] = s + b[i]
    return np.array(e)


def estimate_s(built: Built, arch: ArchSpec) -> float:
    """Pure cost model of a plan, s: the longest path over pieces (each at its idle-chip cost; a streamed
    matmul weight at its on-chip cost when an LRU model of its core's reuse space, replayed in the order the
    pieces would start on a contention-free chip, still holds it), at least the busiest unit's total and the
    DRAM bytes over the bandwidth."""
    plan = built.plan
    n = plan.n
    busy = plan.busy_s.copy()
    dram = plan.dram_bytes.copy()
    wid = plan.weight_id
    if arch.scheduler.weight_reuse and (wid >= 0).any():
        end0 = _longest_path(plan, busy)
        start0 = end0 - busy
        core = plan.unit // UNITS_PER_CORE
        caches = [dict() for _ in range(plan.cores)]
        used = [0.0] * plan.cores
        cap = plan.cache_bytes.tolist()
        wb = plan.weight_bytes
        tick = 0
        reads = np.flatnonzero(wid >= 0)
        for i in reads[np.argsort(start0[reads], kind="stable")].tolist():
            c = int(core[i])
            w = int(wid[i])
            tick += 1
            cache = caches[c]
            if w in cache:
                cache[w] = tick
                busy[i] = plan.hit_busy_s[i]
                dram[i] = 0.0
                continue
            size = float(wb[w])
            if size <= cap[c]:
                while used[c] + size > cap[c]:
                    old = min(cache, key=cache.get)
                    del cache[old]
                    used[c] -= float(wb[old])
                cache[w] = tick
                used[c] += size
    path = float(_longest_path(plan, busy).max()) if n else 0.0
    unit_load = np.bincount(plan.unit, weights=busy, minlength=len(plan.unit_capacity)) / plan.unit_capacity
    return float(max(path, unit_load.max(initial=0.0), dram.sum() / plan.bandwidth_Bps))


def _combine(name: str, enc: Candidate, dec: Candidate, pinned, arch: ArchSpec) -> Mapping:
    return Mapping(name=name, streams={**enc.streams, **dec.streams}, pinned=pinned, charge_load=True,
                   sub_arrays=True, notes={"encoder": enc.name, "decoder": dec.name})


def search_mapping(arch: ArchSpec, workload: Workload) -> tuple[Mapping, Built, Played]:
    """Search (module docstring); returns the chosen mapping, its full plan and the engine's run of it."""
    ops = workload.ops
    overlap = arch.scheduler.overlap
    cores = 1 if arch.scheduler.placement == "single_core" else arch.cores
    enc_s, dec_s = phase_groups(workload)
    utt = ops["utt"].to_numpy()
    first = utt == utt.min()
    small = len(ops) <= SMALL_OPS
    probe = workload if small else sub_workload(workload, first)
    uses = _weight_uses(workload)
    encs = encoder_candidates(arch, probe, enc_s, cores)
    decs = decoder_candidates(arch, probe, dec_s, cores)
    naive, _ = naive_mapping(arch, workload)
    naive_enc = Candidate("naive", {s: naive.streams[s] for s in enc_s})
    naive_dec = Candidate("naive", {s: naive.streams[s] for s in dec_s})
    scodes = probe.ops["stream"].astype(str).to_numpy()
    enc_part = sub_workload(probe, np.isin(scodes, enc_s)) if enc_s else None
    dec_part = sub_workload(probe, np.isin(scodes, dec_s)) if dec_s else None
    memo: dict = {}

    def group_cost(part: Workload | None, mapping: Mapping, group: list[str]) -> float:
        if part is None:
            return 0.0
        key = (tuple(sorted((s, mapping.streams[s]) for s in group)),
               tuple(sorted((w, c) for w, c in mapping.pinned.items())))
        if key not in memo:
            memo[key] = estimate_s(build_plan(arch, part, mapping, overlap=overlap), arch)
        return memo[key]

    def mapping_of(enc: Candidate, dec: Candidate, reserve: bool) -> Mapping:
        streams = {**enc.streams, **dec.streams}
        return _combine(f"search[{enc.name}+{dec.name}{'' if reserve else ',no-reserve'}]", enc, dec,
                        choose_pinned(arch, workload, streams, reserve, uses), arch)

    def cost(enc: Candidate, dec: Candidate, reserve: bool) -> float:
        m = mapping_of(enc, dec, reserve)
        return group_cost(enc_part, m, enc_s) + group_cost(dec_part, m, dec_s)

    # coordinate search: best decoder given the naive encoder, best encoder given it, then reserve or not
    ranked_dec = sorted(decs, key=lambda d: (cost(naive_enc, d, True), d.name))
    best_dec = ranked_dec[0]
    ranked_enc = sorted(encs, key=lambda e: (cost(e, best_dec, True), e.name))
    combos = []
    width = 3 if small else 2
    for e in ranked_enc[:width]:
        for d in ranked_dec[:width]:
            for reserve in (True, False):
                combos.append((cost(e, d, reserve), e.name, d.name, reserve, e, d))
    combos.sort(key=lambda t: t[:4])
    top = combos if small else combos[:VERIFY_TOP]
    verify_wl = workload if small else probe
    best = None
    tried = [("naive", naive)] + [(c[1] + "+" + c[2], mapping_of(c[4], c[5], c[3])) for c in top]
    for _label, m in tried:
        built = build_plan(arch, verify_wl, m, overlap=overlap)
        played = play(built.plan, arch.scheduler.engine)
        t = float(played.end_s.max())
        if best is None or t < best[0]:
            best = (t, m, built, played)
    _t, chosen, built, played = best
    if not small:
        built = build_plan(arch, workload, chosen, overlap=overlap)
        played = play(built.plan, arch.scheduler.engine)
    if chosen is naive:
        chosen = Mapping(name="naive (searched: nothing faster)", streams=naive.streams, pinned=naive.pinned)
    return chosen, built, played
