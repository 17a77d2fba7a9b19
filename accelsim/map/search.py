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
import time
from dataclasses import dataclass

import numpy as np

from accelsim.cost.op import CostMemo
from accelsim.jit import njit
from accelsim.map.build import Built, build_plan, slice_length, weight_bytes_of
from accelsim.map.estimate import estimate_s
from accelsim.map.mapping import Mapping, StreamMap
from accelsim.map.naive import naive_mapping
from accelsim.map.plan import Played
from accelsim.sim.play import play
from accelsim.spec.schema import ArchSpec
from accelsim.trace.coded import op_codes
from accelsim.trace.io import Workload

#: engine verifications on the first utterance (besides naive); more when the workload is small
VERIFY_TOP = 3
SMALL_OPS = 4000  # workloads up to this many ops verify every ranked combination in full


@dataclass(frozen=True)
class Candidate:
    name: str
    streams: dict[str, StreamMap]


def sub_workload(workload: Workload, keep: np.ndarray) -> Workload:
    """The ops where ``keep``, renumbered, with dependencies on dropped ops removed (its integer view,
    :func:`~accelsim.trace.coded.op_codes`, comes filled in)."""
    oc = op_codes(workload)
    idx = np.flatnonzero(keep)
    new_id = np.full(len(keep), -1, dtype=np.int64)
    new_id[idx] = np.arange(len(idx))
    lens = np.diff(oc.dep_ptr)[idx]
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])  # where each kept op's parents go in the new list
    pos = np.repeat(oc.dep_ptr[idx] - starts, lens) + np.arange(int(lens.sum()))
    parent = new_id[oc.dep_src[pos]]
    owner = np.repeat(np.arange(len(idx), dtype=np.int64), lens)
    kept = parent >= 0
    ptr = np.zeros(len(idx) + 1, dtype=np.int64)
    np.cumsum(np.bincount(owner[kept], minlength=len(idx)), out=ptr[1:])
    src = parent[kept]
    return workload.subset(idx, ptr, src)


@njit(cache=True)
def _stream_phase_counts(stream, phase, enc_code, n_streams):  # pragma: no cover - compiled
    """Per stream: its ops in phase ``enc_code`` and all its ops (one pass)."""
    enc = np.zeros(n_streams, np.int64)
    every = np.zeros(n_streams, np.int64)
    for i in range(len(stream)):
        s = stream[i]
        every[s] += 1
        if phase[i] == enc_code:
            enc[s] += 1
    return enc, every


def phase_groups(workload: Workload) -> tuple[list[str], list[str]]:
    """(encoder streams, decoder streams): a stream belongs to the encoder when most of its ops do."""
    oc = op_codes(workload)
    names = oc.stream.names
    e, a = _stream_phase_counts(oc.stream.codes, oc.phase.codes, oc.phase.code_of("encoder"), len(names))
    return [s for i, s in enumerate(names) if 2 * e[i] > a[i]], [s for i, s in enumerate(names) if 2 * e[i] <= a[i]]


def _naive_on(arch: ArchSpec, workload: Workload, cores: int, streams: list[str]) -> dict[str, StreamMap]:
    sub = arch.model_copy(update={"cores": cores})
    m, _ = naive_mapping(sub, workload, placement_only=True)
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
    oc = op_codes(workload)
    mm = oc.kind.rows_of("matmul")
    per_stream = np.bincount(oc.stream.codes[mm], weights=(oc.m * oc.k * oc.n)[mm].astype(np.float64),
                             minlength=len(oc.stream.names))
    has_mm = np.bincount(oc.stream.codes[mm], minlength=len(oc.stream.names)) > 0
    work = {s: float(per_stream[i]) for i, s in enumerate(oc.stream.names) if has_mm[i]}
    heavy = sorted((s for s in streams if s in work), key=lambda s: (-work[s], s))
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


@njit(cache=True)
def _use_counts(weight, stream, kind, has, mm_code, emb_code, m, n, nw, ns):  # pragma: no cover - compiled
    """One pass over the ops that read a weight (``has[weight]``): per (weight, stream) reads, matmul reads and
    runs of consecutive uses among the stream's matmuls in issue order; per weight the rows its embedding
    reads fetch (``m * n``, summed in op order) and its reads by non-matmul ops."""
    reads = np.zeros((nw, ns), np.int64)
    runs = np.zeros((nw, ns), np.int64)
    mm_reads = np.zeros((nw, ns), np.int64)
    last = np.full(ns, -1, np.int64)  # per stream: the weight of its last matmul
    rows = np.zeros(nw)
    other = np.zeros(nw, np.int64)
    for i in range(len(weight)):
        w = weight[i]
        if not has[w]:
            continue
        s = stream[i]
        reads[w, s] += 1
        if kind[i] == mm_code:
            mm_reads[w, s] += 1
            if last[s] != w:
                runs[w, s] += 1
                last[s] = w
        else:
            other[w] += 1
            rows[w] += float(np.int64(m[i]) * np.int64(n[i])) if kind[i] == emb_code else 0.0
    return reads, runs, mm_reads, rows, other


def _weight_uses(workload: Workload) -> tuple[dict[str, str], dict[str, float], dict[str, bool]]:
    """Per weight: its home stream (most reads; ties: the first stream by name), DRAM fetches it would need if
    streamed (runs of consecutive uses among its home stream's matmuls in issue order -- a reuse space keeps
    the rest of a run -- plus rows read / table size for an embedding), and burstiness (read at least twice
    per run on average)."""
    oc = op_codes(workload)
    wnames, snames = oc.weight.names, oc.stream.names
    nw, ns = len(wnames), len(snames)
    has = np.array([w != "" for w in wnames], dtype=np.bool_)
    reads, runs, mm_reads, rows, other_reads = _use_counts(
        oc.weight.codes, oc.stream.codes, oc.kind.codes, has, oc.kind.code_of("matmul"),
        oc.kind.code_of("embedding"), oc.m, oc.n, nw, ns)
    # home: most reads, ties by stream name
    by_name = np.argsort(np.array(snames, dtype=object), kind="stable")
    home_code = by_name[np.argmax(reads[:, by_name], axis=1)]
    home = {wnames[i]: snames[home_code[i]] for i in range(nw) if reads[i].sum() > 0}
    fetches, bursty = {}, {}
    for i in range(nw):
        wn = wnames[i]
        if wn in home and mm_reads[i, home_code[i]] > 0:
            r = int(runs[i, home_code[i]])
            fetches[wn] = float(r)
            bursty[wn] = bool(mm_reads[i, home_code[i]] >= 2 * max(r, 1))
    for i in np.flatnonzero(other_reads).tolist():  # embedding tables (and any other non-matmul reader)
        wn = wnames[i]
        fetches[wn] = fetches.get(wn, 0.0) + float(rows[i]) / workload.meta.weights[wn].elements
        bursty.setdefault(wn, False)
    return home, fetches, bursty


@njit(cache=True)
def _first_matmul_of(weight, kind, has, mm_code, nw):  # pragma: no cover - compiled
    """Per weight code: its first matmul op (-1: none)."""
    first = np.full(nw, -1, np.int64)
    for i in range(len(weight)):
        w = weight[i]
        if kind[i] == mm_code and has[w] and first[w] < 0:
            first[w] = i
    return first


def _matmul_shapes(workload: Workload) -> dict[str, tuple[int, int]]:
    """Weight name -> ``(k, n)`` of the matmuls that read it (its rows and columns; of its first matmul)."""
    got = workload.cache.get("matmul_shapes")
    if got is None:
        oc = op_codes(workload)
        has = np.array([w != "" for w in oc.weight.names], dtype=np.bool_)
        first = _first_matmul_of(oc.weight.codes, oc.kind.codes, has, oc.kind.code_of("matmul"),
                                 len(oc.weight.names))
        got = {oc.weight.names[c]: (int(oc.k[i]), int(oc.n[i])) for c, i in enumerate(first.tolist()) if i >= 0}
        workload.cache["matmul_shapes"] = got
    return got


def held_slices(workload: Workload, weight: str, stream: StreamMap, size_bytes: float) -> dict[int, float]:
    """Core -> bytes that core holds when ``weight`` (``size_bytes`` whole) is pinned for its home ``stream``:
    the whole weight on the stream's root core, or (a matmul weight of a split stream) one slice per core of
    the split, cut as :func:`accelsim.map.build.build_plan` cuts it (:func:`~accelsim.map.build.slice_length`;
    an embedding table is read whole, so it stays whole on the root core)."""
    shape = _matmul_shapes(workload).get(weight)
    cs = stream.cores
    if len(cs) == 1 or shape is None:
        return {cs[0]: size_bytes}
    k, n = shape
    per_element = size_bytes / (k * n)
    if stream.split == "k":
        g = min(len(cs), max(k, 1))
        return {cs[j]: float(slice_length(k, g, j) * n) * per_element for j in range(g)}
    g = min(len(cs), n)
    return {cs[j]: float(k * slice_length(n, g, j)) * per_element for j in range(g)}


def choose_pinned(arch: ArchSpec, workload: Workload, streams: dict[str, StreamMap], reserve: bool,
                  uses=None) -> dict[str, tuple[int, ...]]:
    """Chip-wide residency: weights (their slices on their home stream's cores, :func:`held_slices`) by DRAM
    bytes saved per scratchpad byte, largest first (ties: smaller, then name), while every slice fits its
    core's budget; with ``reserve``, each core first keeps room for its largest bursty streamed slice (so
    reuse works)."""
    home, fetches, bursty = uses or _weight_uses(workload)
    wbytes = weight_bytes_of(arch, workload)
    budget = arch.core.scratchpad.size * arch.core.scratchpad.weight_fraction
    used = np.zeros(arch.cores)
    room = np.full(arch.cores, budget)
    if reserve:
        big = np.zeros(arch.cores)
        for w, b in bursty.items():
            if b and w in home:
                held = held_slices(workload, w, streams[home[w]], wbytes[w])
                largest = max(held.values())  # the reuse space keeps a slice when its largest fits
                for c in held:
                    if largest <= budget:
                        big[c] = max(big[c], largest)
        room = budget - big
    pinned = {}
    cands = sorted((-fetches.get(w, 0.0), wbytes[w], w) for w in home if fetches.get(w, 0.0) > 0)
    for _neg, _size, w in cands:
        held = held_slices(workload, w, streams[home[w]], wbytes[w])
        if all(used[c] + b <= room[c] for c, b in held.items()):
            pinned[w] = tuple(held)
            for c, b in held.items():
                used[c] += b
    return pinned


def _combine(name: str, enc: Candidate, dec: Candidate, pinned, arch: ArchSpec) -> Mapping:
    return Mapping(name=name, streams={**enc.streams, **dec.streams}, pinned=pinned, charge_load=True,
                   sub_arrays=True, notes={"encoder": enc.name, "decoder": dec.name})


def search_mapping(arch: ArchSpec, workload: Workload,
                   timings_s: dict[str, float] | None = None) -> tuple[Mapping, Built, Played]:
    """Search (module docstring); returns the chosen mapping, its full plan and the engine's run of it.
    ``timings_s`` (when given) receives host seconds: ``search`` (ranking and verification), ``cost_map`` and
    ``engine`` (the chosen mapping's full plan and its run; 0 when the verification already ran it in full)."""
    clock0 = time.perf_counter()
    overlap = arch.scheduler.overlap
    cores = 1 if arch.scheduler.placement == "single_core" else arch.cores
    enc_s, dec_s = phase_groups(workload)
    utt = op_codes(workload).utt
    first = utt == utt.min()
    small = workload.n_ops <= SMALL_OPS
    probe = workload if small else sub_workload(workload, first)
    uses = _weight_uses(workload)
    encs = encoder_candidates(arch, probe, enc_s, cores)
    decs = decoder_candidates(arch, probe, dec_s, cores)
    cost_memo = CostMemo(arch)
    naive, _ = naive_mapping(arch, workload)
    naive_enc = Candidate("naive", {s: naive.streams[s] for s in enc_s})
    pstream = op_codes(probe).stream  # by code: no string per op
    enc_part = sub_workload(probe, np.isin(pstream.names, enc_s)[pstream.codes]) if enc_s else None
    dec_part = sub_workload(probe, np.isin(pstream.names, dec_s)[pstream.codes]) if dec_s else None
    memo: dict = {}

    def group_cost(part: Workload | None, mapping: Mapping, group: list[str]) -> float:
        if part is None:
            return 0.0
        key = (tuple(sorted((s, mapping.streams[s]) for s in group)),
               tuple(sorted((w, c) for w, c in mapping.pinned.items())))
        if key not in memo:
            memo[key] = estimate_s(build_plan(arch, part, mapping, overlap=overlap, memo=cost_memo), arch)
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
        built = build_plan(arch, verify_wl, m, overlap=overlap, memo=cost_memo)
        played = play(built.plan, arch.scheduler.engine)
        t = float(played.end_s.max())
        if best is None or t < best[0]:
            best = (t, m, built, played)
    _t, chosen, built, played = best
    clock1 = clock2 = time.perf_counter()
    if not small:
        built = build_plan(arch, workload, chosen, overlap=overlap, memo=cost_memo)
        clock2 = time.perf_counter()
        played = play(built.plan, arch.scheduler.engine)
    if timings_s is not None:
        timings_s.update(search=clock1 - clock0, cost_map=clock2 - clock1, engine=time.perf_counter() - clock2)
    if chosen is naive:
        chosen = Mapping(name="naive (searched: nothing faster)", streams=naive.streams, pinned=naive.pinned)
    return chosen, built, played
