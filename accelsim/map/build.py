"""Mapping + trace + architecture -> :class:`Plan` (pieces, placement, residency, load schedule).

Pieces of op ``i`` (see :mod:`accelsim.map.mapping` for the split semantics): one *whole* piece on the root
core; or ``g' = min(g, n)`` column *slices* (``n`` split; element-wise ops of an ``n``-split stream are cut
the same way); or ``g' = min(g, k)`` *partial* pieces plus one *reduce* piece on the root (``k`` split: a
vector add of ``g' - 1`` partial results). Slice ``j`` of a dimension ``d`` has ``d // g' + (j < d % g')``
elements. Edges: a consumer piece waits for every output piece of each producer (its slices: an all-gather;
or its reduce piece), each result crossing cores at ``sync + hops x hop + bytes / link`` cycles as today's
core-to-core transfers; an element-wise slice waits only for the same slice of an ``n``-split producer on
the same cores (it is local). Pinned weights with ``charge_load`` are DMA pieces at the head of the plan
that the first utterance's readers wait for. ``overlap='none'`` chains every op after the previous one
(pieces of one op still run in parallel): the paper's method of summing per-op latencies.
Deterministic: no randomness, no dict-order dependence beyond sorted names.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from accelsim.cost.op import category_codes, cost_arrays
from accelsim.cost.transfer import ring_hops, tensor_bytes
from accelsim.errors import SpecError
from accelsim.map.geometry import best_cycles, geometry_grid
from accelsim.map.mapping import Mapping
from accelsim.map.plan import DMA_LOCAL_UNIT, UNITS_PER_CORE, Plan
from accelsim.spec.schema import ArchSpec
from accelsim.trace.io import Workload

WHOLE, SLICE, PARTIAL, REDUCE, LOAD = 0, 1, 2, 3, 4
SLICEABLE_VECTOR = ("lstm_pointwise", "nonlinear", "elementwise")


def weight_precision(arch: ArchSpec, pclass: str) -> str:
    """Storage precision of a weight of precision class ``pclass``."""
    policy = getattr(arch.precision, pclass)
    return policy.weights if hasattr(policy, "weights") else policy


def weight_bytes_of(arch: ArchSpec, workload: Workload) -> dict[str, float]:
    """Every weight's bytes at the arch's precision policy."""
    return {w: tensor_bytes(m.elements, weight_precision(arch, m.pclass)) for w, m in workload.meta.weights.items()}


@dataclass(frozen=True, eq=False)
class Built:
    """A plan plus what the result needs to aggregate pieces back to ops (per piece unless said)."""

    plan: Plan
    role: np.ndarray  # WHOLE / SLICE / PARTIAL / REDUCE / LOAD
    core: np.ndarray
    costs: dict[str, np.ndarray]  # cost_arrays columns per piece (resident as mapped)
    on_chip_busy_s: np.ndarray
    resident: np.ndarray
    op_core: np.ndarray  # per op: its root core
    pinned_bytes: np.ndarray  # per core: bytes of pinned weights (slices)
    pinned_per_core: tuple[frozenset[str], ...]
    loads: int  # number of load pieces (at the head)


def _slice(d: np.ndarray, g: np.ndarray, j: np.ndarray) -> np.ndarray:
    return d // g + (j < d % g)


_GEOMETRY_CACHE: dict = {}


def _costs(pieces: pd.DataFrame, arch: ArchSpec, wclass: dict[str, str], resident: np.ndarray,
           compute_s: np.ndarray | None) -> dict[str, np.ndarray]:
    """cost_arrays over the pieces; with ``compute_s`` (sub-array matmul times, NaN: keep) matmul pieces take
    those compute times, their busy times recomputed as :func:`accelsim.cost.op.op_cost` does."""
    out = cost_arrays(pieces, arch, wclass, resident)
    if compute_s is None:
        return out
    sel = np.flatnonzero(np.isfinite(compute_s) & (compute_s < out["compute_s"]))
    if not len(sel):
        return out
    c = compute_s[sel]
    out["compute_s"] = out["compute_s"].copy()
    out["busy_s"] = out["busy_s"].copy()
    out["compute_s"][sel] = c
    nbytes = out["dram_bytes"][sel]
    tiles = out["tiles"][sel].astype(np.float64)
    x = nbytes / tiles / arch.offchip.bandwidth
    ct = c / tiles
    streamed = out["dispatch_s"][sel] + out["first_s"][sel] + x + (tiles - 1) * np.maximum(ct, x) + ct
    out["busy_s"][sel] = np.where(nbytes > 0, streamed, out["dispatch_s"][sel] + c)
    return out


def sub_array_compute_s(pieces: pd.DataFrame, arch: ArchSpec) -> np.ndarray:
    """Per piece: a matmul's compute time on its fastest sub-array (:mod:`accelsim.map.geometry`), s; NaN
    for other pieces."""
    out = np.full(len(pieces), np.nan)
    is_mm = (pieces["kind"].astype(str) == "matmul").to_numpy()
    if not is_mm.any():
        return out
    mat = arch.core.matrix
    akey = (mat.model_dump_json(), arch.core.scratchpad.read_bytes_per_cycle, arch.precision.model_dump_json())
    grid = None
    keys = pd.DataFrame({"m": pieces["m"].to_numpy()[is_mm], "k": pieces["k"].to_numpy()[is_mm],
                         "n": pieces["n"].to_numpy()[is_mm], "p": pieces["pclass"].astype(str).to_numpy()[is_mm]})
    codes, uniq = pd.factorize(pd.MultiIndex.from_frame(keys))
    cycles = np.empty(len(uniq))
    for u, (m, k, n, p) in enumerate(uniq):
        key = (akey, int(m), int(k), int(n), p)
        if key not in _GEOMETRY_CACHE:
            if grid is None:
                grid = geometry_grid(mat)
            _GEOMETRY_CACHE[key] = best_cycles(int(m), int(k), int(n), p, arch, grid)
        cycles[u] = _GEOMETRY_CACHE[key]
    out[is_mm] = cycles[codes] / arch.clock
    return out


def build_plan(arch: ArchSpec, workload: Workload, mapping: Mapping, *, overlap: str = "full") -> Built:
    """The plan of ``mapping`` (module docstring); raises SpecError when the mapping does not fit ``arch``."""
    ops = workload.ops
    n = len(ops)
    where = f"mapping {mapping.name}"
    scodes, snames = category_codes(ops["stream"])
    missing = [s for s in snames if s not in mapping.streams]
    if missing:
        raise SpecError(f"{where}: no placement for streams {missing[:5]} of {workload.path}")
    groups = [mapping.streams[s].cores for s in snames]
    for s, g in zip(snames, groups):
        if any(c >= arch.cores for c in g):
            raise SpecError(f"{where}: stream {s} uses cores {list(g)} but the architecture has {arch.cores}")
    gmax = max(len(g) for g in groups)
    gpad = np.array([list(g) + [g[0]] * (gmax - len(g)) for g in groups], dtype=np.int64)
    gsize = np.array([len(g) for g in groups], dtype=np.int64)
    ksplit = np.array([mapping.streams[s].split == "k" for s in snames], dtype=bool)
    kcodes, knames = category_codes(ops["kind"])
    is_mm = np.array([k == "matmul" for k in knames], dtype=bool)[kcodes]
    is_vec = np.array([k in SLICEABLE_VECTOR for k in knames], dtype=bool)[kcodes]
    m_op, k_op, n_op = (ops[c].to_numpy(np.int64) for c in ("m", "k", "n"))
    g_op = gsize[scodes]
    ks_op = ksplit[scodes] & is_mm
    ns_op = (is_mm & ~ksplit[scodes]) | (is_vec & ~ksplit[scodes])
    g_eff = np.where(ks_op, np.minimum(g_op, np.maximum(k_op, 1)), np.where(ns_op, np.minimum(g_op, n_op), 1))
    g_eff = np.where(g_op > 1, g_eff, 1)
    has_reduce = ks_op & (g_eff > 1)
    npieces = g_eff + has_reduce
    split_any = bool((npieces > 1).any())

    # pieces of ops, in op order
    p0 = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(npieces, out=p0[1:])
    total = int(p0[-1])
    piece_op = np.repeat(np.arange(n, dtype=np.int64), npieces)
    j = np.arange(total, dtype=np.int64) - p0[:-1][piece_op]
    gp = g_eff[piece_op]
    red = has_reduce[piece_op] & (j == gp)
    role = np.where(gp > 1, np.where(ks_op[piece_op], PARTIAL, SLICE), WHOLE)
    role = np.where(red, REDUCE, role)
    core = gpad[scodes[piece_op], np.where(red, 0, j)]
    pm, pk, pn = m_op[piece_op], k_op[piece_op], n_op[piece_op]
    pn = np.where(role == SLICE, _slice(pn, gp, j), pn)
    pk = np.where(role == PARTIAL, _slice(pk, gp, j), pk)
    pm = np.where(red, pm * (gp - 1), pm)
    pk = np.where(red, 0, pk)

    if split_any:
        def cat(col: str, override: str | None) -> pd.Categorical:
            codes, names = category_codes(ops[col])
            names = list(names)
            if override is not None and override not in names:
                names.append(override)
            pc = codes[piece_op].copy()
            if override is not None:
                pc[red] = names.index(override)
            return pd.Categorical.from_codes(pc, categories=pd.Index(names))
        pieces = pd.DataFrame({"kind": cat("kind", "elementwise"), "func": cat("func", "add"),
                               "pclass": cat("pclass", "elementwise"), "weight": cat("weight", ""),
                               "m": pm, "k": pk, "n": pn})
    else:
        pieces = ops
    wcodes, wnames = category_codes(pieces["weight"])
    nw = len(wnames)
    wclass = {w: meta.pclass for w, meta in workload.meta.weights.items()}

    # residency: a piece reads its weight from the scratchpad when its core holds that weight (whole piece,
    # one holder) or that slice (slice/partial piece of an op cut into as many pieces as there are holders)
    holders = np.zeros((nw, arch.cores), dtype=bool)
    nhold = np.zeros(nw, dtype=np.int64)
    for w, cs in mapping.pinned.items():
        if w in wnames:
            i = wnames.index(w)
            if any(c >= arch.cores for c in cs):
                raise SpecError(f"{where}: weight {w} pinned on cores {list(cs)}; the architecture has {arch.cores}")
            holders[i, list(cs)] = True
            nhold[i] = len(cs)
    has_w = np.array([w != "" for w in wnames], dtype=bool)[wcodes]
    pw = wcodes
    reads_pinned = has_w & holders[pw, core] & np.where(role == WHOLE, nhold[pw] == 1,
                                                        (role != REDUCE) & (nhold[pw] == gp))
    resident = ~has_w | reads_pinned  # an op without weights reads nothing from DRAM
    sub_s = sub_array_compute_s(pieces, arch) if mapping.sub_arrays else None
    on_chip = _costs(pieces, arch, wclass, np.ones(total, dtype=bool), sub_s)
    costs = _costs(pieces, arch, wclass, resident, sub_s)

    # bytes each core holds: pinned slices, sized by what its pieces read
    kind_p = np.array([k == "matmul" for k in category_codes(pieces["kind"])[1]], dtype=bool)
    is_mm_p = kind_p[category_codes(pieces["kind"])[0]]
    wprec = {w: weight_precision(arch, wclass[w]) for w in wnames if w}
    piece_wbytes = np.zeros(total, dtype=np.float64)
    is_emb_p = has_w & ~is_mm_p
    if has_w.any():
        prec_bytes = np.array([tensor_bytes(1, wprec[w]) if w else 0.0 for w in wnames], dtype=np.float64)
        piece_wbytes = np.where(is_mm_p, (pk * pn).astype(np.float64) * prec_bytes[pw], 0.0)
        full = np.array([tensor_bytes(workload.meta.weights[w].elements, wprec[w]) if w else 0.0 for w in wnames],
                        dtype=np.float64)
        piece_wbytes = np.where(is_emb_p, full[pw], piece_wbytes)
    held = np.zeros((nw, arch.cores), dtype=np.float64)
    if reads_pinned.any():
        np.maximum.at(held, (pw[reads_pinned], core[reads_pinned]), piece_wbytes[reads_pinned])
    for w, cs in mapping.pinned.items():  # a pinned weight nobody reads here still occupies its space
        if w in wnames:
            i = wnames.index(w)
            for c in cs:
                if held[i, c] == 0.0:
                    held[i, c] = tensor_bytes(-(-workload.meta.weights[w].elements // len(cs)), wprec[w])
    pinned_bytes = held.sum(axis=0)
    budget = arch.core.scratchpad.size * arch.core.scratchpad.weight_fraction
    over = np.flatnonzero(pinned_bytes > budget * (1 + 1e-12))
    if len(over):
        c = int(over[0])
        raise SpecError(f"{where}: core {c} would pin {pinned_bytes[c]:.0f} bytes of weights but may hold "
                        f"{budget:.0f} (core.scratchpad.size x weight_fraction)")
    pinned_per_core = tuple(frozenset(wnames[i] for i in np.flatnonzero(held[:, c] > 0)) for c in range(arch.cores))

    # edges between pieces
    dep_ptr, dep_src = workload.deps_csr()
    dep_dst = np.repeat(np.arange(n, dtype=np.int64), np.diff(dep_ptr))
    if split_any:
        in_cnt = npieces - has_reduce
        out_start = np.where(has_reduce, p0[1:] - 1, p0[:-1])
        out_cnt = np.where(has_reduce, 1, npieces)
        local = (ns_op[dep_src] & ns_op[dep_dst] & ~is_mm[dep_dst] & (g_eff[dep_src] == g_eff[dep_dst])
                 & (g_eff[dep_dst] > 1) & (scodes[dep_src] == scodes[dep_dst]))
        a_cnt = np.where(local, 1, out_cnt[dep_src])
        b_cnt = in_cnt[dep_dst]
        cnt = a_cnt * b_cnt
        e = np.repeat(np.arange(len(dep_src), dtype=np.int64), cnt)
        off = np.zeros(len(cnt) + 1, dtype=np.int64)
        np.cumsum(cnt, out=off[1:])
        t = np.arange(int(off[-1]), dtype=np.int64) - off[:-1][e]
        b = t // a_cnt[e]
        a = np.where(local[e], b, t % a_cnt[e])
        child = p0[:-1][dep_dst[e]] + b
        parent = out_start[dep_src[e]] + a
        # partial sums -> their reduce piece
        rops = np.flatnonzero(has_reduce)
        rc = np.repeat(p0[1:][rops] - 1, g_eff[rops])
        rp = np.repeat(p0[:-1][rops], g_eff[rops]) + (np.arange(int(g_eff[rops].sum())) -
                                                     np.repeat(np.cumsum(g_eff[rops]) - g_eff[rops], g_eff[rops]))
        child = np.concatenate([child, rc])
        parent = np.concatenate([parent, rp])
    else:
        child, parent = dep_dst, dep_src

    extra_c, extra_p = [], []
    # "after": stream s starts (per utterance) when stream `after` has finished
    utt = ops["utt"].to_numpy()
    afters = [(si, snames.index(mapping.streams[s].after)) for si, s in enumerate(snames)
              if mapping.streams[s].after and mapping.streams[s].after in snames]
    if afters:
        same = scodes[dep_src] == scodes[dep_dst]
        has_own_parent = np.zeros(n, dtype=bool)
        has_own_parent[dep_dst[same]] = True
        last_key = pd.Series(np.arange(n)).groupby([scodes, utt]).max()
        for si, ai in afters:
            entry = np.flatnonzero((scodes == si) & ~has_own_parent)
            for op in entry.tolist():
                key = (ai, utt[op])
                if key in last_key.index:
                    lp = int(last_key.loc[key])
                    if lp < op:
                        hi = p0[op + 1] - (1 if has_reduce[op] else 0)
                        for q in range(p0[op], hi):
                            for r in range(p0[lp], p0[lp + 1]):
                                extra_c.append(q)
                                extra_p.append(r)
    if overlap == "none":  # every op waits for the previous op (its pieces still run side by side)
        ops1 = np.arange(1, n, dtype=np.int64)
        a_cnt = npieces[ops1 - 1]
        cnt = a_cnt * (npieces[ops1] - has_reduce[ops1])
        e = np.repeat(np.arange(len(ops1), dtype=np.int64), cnt)
        off = np.zeros(len(cnt) + 1, dtype=np.int64)
        np.cumsum(cnt, out=off[1:])
        t = np.arange(int(off[-1]), dtype=np.int64) - off[:-1][e]
        extra_c.append(p0[:-1][ops1[e]] + t // a_cnt[e])
        extra_p.append(p0[:-1][ops1[e] - 1] + t % a_cnt[e])
    elif overlap != "full":
        raise SpecError(f"scheduler.overlap = {overlap!r}: expected 'full' or 'none'")
    if extra_c:
        ec = np.concatenate([np.atleast_1d(np.asarray(x, dtype=np.int64)) for x in extra_c])
        ep = np.concatenate([np.atleast_1d(np.asarray(x, dtype=np.int64)) for x in extra_p])
        child = np.concatenate([child, ec])
        parent = np.concatenate([parent, ep])

    # start-up loads of pinned weights: one DMA piece per (weight, core), readers of utterance 0 wait for it
    loads = []
    if mapping.charge_load and reads_pinned.any():
        for i, c in zip(*np.nonzero(held)):
            loads.append((int(i), int(c), float(held[i, c])))
    nl = len(loads)
    utt_rank_op = np.searchsorted(np.unique(utt), utt).astype(np.int64)
    if nl:
        first_utt = utt_rank_op[piece_op] == 0 if arch.scheduler.utterances == "sequential" else np.ones(total, bool)
        lc, lp = [], []
        for li, (i, c, _b) in enumerate(loads):
            readers = np.flatnonzero(reads_pinned & (pw == i) & (core == c) & first_utt)
            lc.append(readers + nl)
            lp.append(np.full(len(readers), li, dtype=np.int64))
        child = np.concatenate([child + nl] + lc)
        parent = np.concatenate([parent + nl] + lp)
    order = np.argsort(child, kind="stable")
    child, parent = child[order], parent[order]

    # dependency delays: a result crossing cores
    all_core = np.concatenate([np.array([c for _i, c, _b in loads], dtype=np.int64), core])
    out_bytes = np.concatenate([np.zeros(nl), costs["out_bytes"]])
    ic = arch.interconnect
    hops = np.array([[(ring_hops(x, y, arch.cores) if ic.topology == "ring" else 1) for y in range(arch.cores)]
                     for x in range(arch.cores)], dtype=np.float64)
    src_core, dst_core = all_core[parent], all_core[child]
    serialise = np.ceil(out_bytes[parent] / ic.bytes_per_cycle)
    cycles = arch.overheads.sync_cycles + hops[src_core, dst_core] * ic.hop_cycles + serialise
    dep_delay = np.where(src_core == dst_core, 0.0, cycles / arch.clock)
    ntot = nl + total
    ptr = np.searchsorted(child, np.arange(ntot + 1)).astype(np.int64)

    # weight reuse cache ids: whole weights by name, slices separately (a core never holds two of one weight)
    is_slice = (role == SLICE) | (role == PARTIAL)
    weight_id = np.where(is_mm_p & (costs["dram_bytes"] > 0), pw + nw * is_slice, -1).astype(np.int64)
    wbytes = np.zeros(2 * nw if split_any else nw, dtype=np.float64)
    if has_w.any():
        whole_b = np.array([tensor_bytes(workload.meta.weights[w].elements, wprec[w]) if w else 0.0
                            for w in wnames], dtype=np.float64)
        wbytes[:nw] = whole_b
        if split_any and is_slice.any():
            np.maximum.at(wbytes, pw[is_slice & has_w] + nw, piece_wbytes[is_slice & has_w])
    free = budget - pinned_bytes
    dispatch = arch.overheads.dispatch_cycles / arch.clock
    first = arch.core.dma.setup_cycles / arch.clock + arch.offchip.latency
    lb = np.array([b for _i, _c, b in loads], dtype=np.float64)

    def head(x, fill):
        return np.concatenate([np.full(nl, fill, dtype=np.asarray(x).dtype), x]) if nl else x

    unit = core * UNITS_PER_CORE + costs["unit"]
    plan = Plan(
        piece_op=head(piece_op, -1),
        unit=np.concatenate([all_core[:nl] * UNITS_PER_CORE + DMA_LOCAL_UNIT, unit]).astype(np.int64),
        busy_s=np.concatenate([dispatch + first + lb / arch.offchip.bandwidth, costs["busy_s"]]),
        lead_s=np.concatenate([np.full(nl, dispatch + first), costs["dispatch_s"] + costs["first_s"]]),
        compute_s=head(costs["compute_s"], 0.0),
        dram_bytes=np.concatenate([lb, costs["dram_bytes"]]),
        tiles=head(costs["tiles"].astype(np.float64), 1.0),
        weight_id=head(weight_id, -1),
        hit_busy_s=head(on_chip["busy_s"], 0.0),
        dep_ptr=ptr, dep_src=parent.astype(np.int64), dep_delay_s=dep_delay,
        unit_capacity=np.array([1, 1, arch.core.dma.engines] * arch.cores, dtype=np.int64),
        weight_bytes=wbytes,
        cache_bytes=np.array(free if arch.scheduler.weight_reuse else [0.0] * arch.cores, dtype=np.float64),
        bandwidth_Bps=float(arch.offchip.bandwidth),
        utt_rank=head(utt_rank_op[piece_op], 0) if arch.scheduler.utterances == "sequential" else None,
        notes={"mapping": mapping.name},
    )
    op_core = gpad[scodes, 0]
    return Built(plan=plan, role=head(role, LOAD), core=all_core, costs=costs, on_chip_busy_s=on_chip["busy_s"],
                 resident=resident, op_core=op_core, pinned_bytes=pinned_bytes, pinned_per_core=pinned_per_core,
                 loads=nl)
