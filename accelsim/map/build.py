"""Mapping + trace + architecture -> :class:`Plan` (pieces, placement, residency, load schedule).

Pieces of op ``i`` (see :mod:`accelsim.map.mapping` for the split semantics): one *whole* piece on the root
core; or ``g' = min(g, n)`` column *slices* (``n`` split; element-wise ops of an ``n``-split stream are cut
the same way); or ``g' = min(g, k)`` *partial* pieces plus one *reduce* piece on the root (``k`` split: a
vector add of ``g' - 1`` partial results). Slice ``j`` of a dimension ``d`` has ``d // g' + (j < d % g')``
elements. Edges: a consumer piece waits for every output piece of each producer (its slices: an all-gather;
or its reduce piece), each result crossing cores at ``sync + hops x hop + bytes / link`` cycles as today's
core-to-core transfers; an element-wise slice waits only for the same slice of an ``n``-split producer on
the same cores (it is local). These edges are stored as links (:class:`~accelsim.map.plan.Links`, one per
consumer op and dependency, :mod:`accelsim.map.edges`), not as ``g x g`` explicit edges. Pinned weights with
``charge_load`` are DMA pieces at the head of the plan that the first utterance's readers wait for.
``overlap='none'`` chains every op after the previous one (pieces of one op still run in parallel): the
paper's method of summing per-op latencies. Deterministic: no randomness, no dict-order dependence beyond
sorted names.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from accelsim.cost.op import CostMemo, cost_arrays, dense_key
from accelsim.cost.transfer import ring_hops, tensor_bytes
from accelsim.errors import SpecError
from accelsim.map.edges import expand_pieces, piece_links
from accelsim.map.geometry import geometry_grid, shapes_best_cycles
from accelsim.map.mapping import Mapping
from accelsim.map.plan import DMA_LOCAL_UNIT, UNITS_PER_CORE, Links, Plan, no_explicit_edges
from accelsim.spec.schema import ArchSpec
from accelsim.trace.coded import Labelled, OpTable, op_codes, op_table
from accelsim.trace.io import Workload

if TYPE_CHECKING:
    import pandas as pd

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
    """A plan plus what the result needs to aggregate pieces back to ops. Per *key* of the plan's cost
    columns (``plan.piece_key``; per piece when it has none): ``role`` and ``core`` (load keys first), and
    ``costs``, ``on_chip_busy_s`` and ``resident`` (of the op pieces' keys: key ``nl + r`` is row ``r``).
    :meth:`per_piece` gives the same with every array per piece."""

    plan: Plan
    role: np.ndarray  # WHOLE / SLICE / PARTIAL / REDUCE / LOAD
    core: np.ndarray
    costs: dict[str, np.ndarray]  # cost_arrays columns (resident as mapped; without the time parts the plan
    # holds: dispatch_s, first_s, compute_s)
    on_chip_busy_s: np.ndarray
    resident: np.ndarray
    op_core: np.ndarray  # per op: its root core
    pinned_bytes: np.ndarray  # per core: bytes of pinned weights (slices)
    pinned_per_core: tuple[frozenset[str], ...]
    loads: int  # number of load pieces (at the head)
    op_piece0: np.ndarray | None = None  # per op (n + 1): its first piece after the loads (None: piece = op)

    def without_dependencies(self) -> Built:
        """The same with the plan's dependency arrays dropped (links, explicit edges, utterance ranks): what the
        result reads of a plan once it has been played (:func:`accelsim.sim.simulate.to_result`), without the
        memory only an engine needs. Its plan's ``notes["dependencies"]`` is ``"dropped"``; engines refuse it."""
        p = self.plan
        plan = replace(p, dep_ptr=no_explicit_edges(p.n), dep_src=np.zeros(0, dtype=p.dep_src.dtype),
                       dep_delay_s=np.zeros(0), links=None, utt_rank=None, notes={**p.notes, "dependencies": "dropped"})
        return replace(self, plan=plan)

    def per_piece(self) -> Built:
        """The same with the plan expanded (:meth:`~accelsim.map.plan.Plan.expanded`) and every per-key array
        per piece (for inspection and tests)."""
        key = self.plan.piece_key
        if key is None:
            return self
        nl = self.loads
        rows = key[nl:].astype(np.int64) - nl
        keyed = len(self.resident)
        costs = {c: (v[rows] if c not in ("precision_names", "distinct_keys") and len(v) == keyed else v)
                 for c, v in self.costs.items()}
        return replace(self, plan=self.plan.expanded(), role=self.role[key], core=self.core[key], costs=costs,
                       on_chip_busy_s=self.on_chip_busy_s[rows], resident=self.resident[rows])


def small_ids(count: int) -> type:
    """The narrowest of int16, int32 and int64 that holds ids ``0 .. count - 1`` (and -1): the dtype of a
    per-piece column of few distinct values (cost keys, utterance ranks)."""
    return np.int16 if count < 2**15 else np.int32 if count < 2**31 else np.int64


def slice_length(d, g, j):
    """Elements of slice ``j`` when a dimension of ``d`` elements is cut into ``g`` slices (the first
    ``d % g`` slices one longer); element-wise on arrays."""
    return d // g + (j < d % g)


_GEOMETRY_CACHE: dict = {}


BUSY_FIELDS = ("busy_s", "dispatch_s", "compute_s", "dram_bytes", "first_s", "tiles")  # what busy_s needs
# what the plan and the result read per piece (precision as codes: no per-piece object array)
PIECE_FIELDS = ("out_bytes", "macs", "elem_ops", "unit", "precision_code", "precision_names")


def _costs(pieces: OpTable, arch: ArchSpec, wclass: dict[str, str], resident: np.ndarray,
           compute_s: np.ndarray | None, memo: CostMemo | None = None,
           fields: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """cost_arrays over the pieces (``fields``: only those columns, at least :data:`BUSY_FIELDS`); with
    ``compute_s`` (sub-array matmul times, NaN: keep) matmul pieces take those compute times, their busy
    times recomputed as :func:`accelsim.cost.op.op_cost` does."""
    out = cost_arrays(pieces, arch, wclass, resident, memo, None if fields is None else (*BUSY_FIELDS, *fields))
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


def sub_array_compute_s(pieces: pd.DataFrame | OpTable, arch: ArchSpec, memo: CostMemo | None = None) -> np.ndarray:
    """Per piece: a matmul's compute time on its fastest sub-array (:mod:`accelsim.map.geometry`), s; NaN
    for other pieces."""
    table = pieces if isinstance(pieces, OpTable) else op_table(pieces)
    out = np.full(len(table), np.nan)
    mm_code = table.kind.code_of("matmul")
    is_mm = table.kind.codes == mm_code
    if mm_code < 0 or not is_mm.any():
        return out
    mat = arch.core.matrix
    akey = memo.extra.get("geometry_key") if memo is not None else None
    if akey is None:
        akey = (mat.model_dump_json(), arch.core.scratchpad.read_bytes_per_cycle, arch.precision.model_dump_json())
        if memo is not None:
            memo.extra["geometry_key"] = akey
    idx = np.flatnonzero(is_mm)
    cols = [table.m[idx], table.k[idx], table.n[idx], table.pclass.codes[idx]]
    codes, first = dense_key(cols)
    cycles = np.empty(len(first))
    todo: dict[str, list[int]] = {}  # precision class -> the shapes not costed yet (indices into first)
    shapes = np.stack([c[first] for c in cols], axis=1).tolist()
    for u, (m, k, n, p) in enumerate(shapes):
        got = _GEOMETRY_CACHE.get((akey, m, k, n, table.pclass.names[p]))
        if got is None:
            todo.setdefault(table.pclass.names[p], []).append(u)
        else:
            cycles[u] = got
    if todo:
        grid = geometry_grid(mat)
        for pclass, us in todo.items():  # all of one class's new shapes in one vectorised evaluation
            m, k, n = (np.array([shapes[u][i] for u in us], dtype=np.int64) for i in range(3))
            for u, got in zip(us, shapes_best_cycles(m, k, n, pclass, arch, grid).tolist()):
                _GEOMETRY_CACHE[(akey, *shapes[u][:3], pclass)] = got
                cycles[u] = got
    out[idx] = cycles[codes] / arch.clock
    return out


def op_classes(workload: Workload) -> tuple[np.ndarray, np.ndarray]:
    """(class of each op, first op of each class): ops of equal kind, func, precision class, weight, stream
    and shape get the same pieces, costs and cores under every mapping, so a plan costs each class once
    (computed once per workload, then kept on it)."""
    got = workload.cache.get("op_classes")
    if got is None:
        oc = op_codes(workload)
        codes, first = dense_key([oc.kind.codes, oc.func.codes, oc.pclass.codes, oc.weight.codes, oc.stream.codes,
                                  oc.m, oc.k, oc.n])
        got = workload.cache["op_classes"] = (codes.astype(np.int32 if len(first) < 2**31 else np.int64), first)
    return got


def utt_ranks(workload: Workload) -> np.ndarray:
    """Per op the rank of its utterance id among the workload's distinct ids (0 = the smallest), int32 or
    int64 (computed once per workload, then kept on it)."""
    got = workload.cache.get("utt_rank")
    if got is None:
        utt = op_codes(workload).utt
        if len(utt) > 1 and (utt[1:] >= utt[:-1]).all():  # in order (as traces are): a rank per change
            got = np.zeros(len(utt), dtype=np.int64)
            np.cumsum(utt[1:] != utt[:-1], out=got[1:])
        else:
            got = np.unique(utt, return_inverse=True)[1].astype(np.int64).reshape(-1)
        got = workload.cache["utt_rank"] = got.astype(np.int32 if len(utt) < 2**31 else np.int64)
    return got


def build_plan(arch: ArchSpec, workload: Workload, mapping: Mapping, *, overlap: str = "full",
               memo: CostMemo | None = None) -> Built:
    """The plan of ``mapping`` (module docstring); raises SpecError when the mapping does not fit ``arch``.
    ``memo`` (a :class:`~accelsim.cost.op.CostMemo` of ``arch``) keeps op costs across calls. The plan has
    cost keys (:class:`~accelsim.map.plan.Plan`): one per piece of each op class (:func:`op_classes`), after
    one per start-up load; everything costed is costed per key, and only piece ids, keys and utterance ranks
    are per piece."""
    oc = op_codes(workload)
    n = len(oc)
    where = f"mapping {mapping.name}"
    scodes, snames = oc.stream.codes, list(oc.stream.names)
    missing = [s for s in snames if s not in mapping.streams]
    if missing:
        raise SpecError(f"{where}: no placement for streams {missing[:5]} of {workload.path}")
    groups = [mapping.streams[s].cores for s in snames]
    for s, g in zip(snames, groups):
        if any(c >= arch.cores for c in g):
            raise SpecError(f"{where}: stream {s} uses cores {list(g)} but the architecture has {arch.cores}")
    gmax = max(len(g) for g in groups)
    gpad = np.array([list(g) + [g[0]] * (gmax - len(g)) for g in groups], dtype=np.int32)
    gsize = np.array([len(g) for g in groups], dtype=np.int64)
    ksplit = np.array([mapping.streams[s].split == "k" for s in snames], dtype=bool)

    # per op class (suffix-free names below are per class): how it splits
    op_class, first_op = op_classes(workload)
    nc = len(first_op)
    ct = OpTable.take(oc, first_op)
    sc = scodes[first_op]
    kcodes, knames = ct.kind.codes, ct.kind.names
    is_mm = np.array([k == "matmul" for k in knames], dtype=bool)[kcodes]
    is_vec = np.array([k in SLICEABLE_VECTOR for k in knames], dtype=bool)[kcodes]
    m_c, k_c, n_c = ct.m, ct.k, ct.n
    g_c = gsize[sc]
    ks_c = ksplit[sc] & is_mm
    ns_c = (is_mm & ~ksplit[sc]) | (is_vec & ~ksplit[sc])
    g_eff = np.where(ks_c, np.minimum(g_c, np.maximum(k_c, 1)), np.where(ns_c, np.minimum(g_c, n_c), 1))
    g_eff = np.where(g_c > 1, g_eff, 1)
    has_reduce = ks_c & (g_eff > 1)
    npieces = g_eff + has_reduce
    split_any = bool((npieces > 1).any())

    # cost keys: the pieces of each class, in class order (op d's pieces have its class's keys, in order)
    k0 = np.zeros(nc + 1, dtype=np.int64)
    np.cumsum(npieces, out=k0[1:])
    total = int(k0[-1])  # keys of op pieces (below "piece" means such a key)
    key_class = np.repeat(np.arange(nc, dtype=np.int64), npieces)
    j = np.arange(total, dtype=np.int64)
    j -= k0[:-1][key_class]
    gp = g_eff[key_class]
    red = has_reduce[key_class] & (j == gp)
    role = np.where(gp > 1, np.where(ks_c[key_class], np.int8(PARTIAL), np.int8(SLICE)), np.int8(WHOLE))
    role[red] = REDUCE
    core = gpad[sc[key_class], np.where(red, 0, j)]
    pm, pk, pn = m_c[key_class], k_c[key_class], n_c[key_class]
    pn = np.where(role == SLICE, slice_length(pn, gp, j), pn)
    pk = np.where(role == PARTIAL, slice_length(pk, gp, j), pk)
    pm = np.where(red, pm * (gp - 1), pm)
    pk = np.where(red, 0, pk)

    def cat(col: Labelled, override: str) -> Labelled:  # a reduce piece is a vector add of partial sums
        if not red.any():
            return col.take(key_class)
        col, code = col.with_name(override)
        pc = col.codes[key_class]
        pc[red] = code
        return Labelled(pc, col.names)

    pieces = OpTable(cat(ct.kind, "elementwise"), cat(ct.func, "add"), cat(ct.pclass, "elementwise"),
                     cat(ct.weight, ""), pm, pk, pn)
    wcodes, wnames = pieces.weight.codes, list(pieces.weight.names)
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
    sub_s = sub_array_compute_s(pieces, arch, memo) if mapping.sub_arrays else None
    costs = _costs(pieces, arch, wclass, resident, sub_s, memo, PIECE_FIELDS)
    if resident.all():
        on_chip_busy = costs["busy_s"]
    else:  # what a reuse-cache hit takes: the on-chip busy time, costed anew only for the streamed pieces
        on_chip_busy = costs["busy_s"].copy()
        streamed = np.flatnonzero(~resident)
        on_chip_busy[streamed] = _costs(OpTable.take(pieces, streamed), arch, wclass, np.ones(len(streamed), bool),
                                        None if sub_s is None else sub_s[streamed], memo, ())["busy_s"]

    # bytes each core holds: pinned slices, sized by what its pieces read
    is_mm_p = pieces.kind.rows_of("matmul")
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

    # pieces of ops, in op order: op d's are p0[d] .. p0[d + 1] - 1 (after the loads)
    p0 = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(npieces[op_class], out=p0[1:])
    n_op_pieces = int(p0[-1])

    # edges between pieces (accelsim.map.edges): trace dependencies, partial sums -> reduce, "after" streams,
    # overlap none, start-up loads; each with the time a result needs to cross cores
    dep_ptr, dep_src = oc.dep_ptr, oc.dep_src
    in_cnt = npieces - has_reduce
    out_off = np.where(has_reduce, npieces - 1, 0)
    out_cnt = np.where(has_reduce, 1, npieces)
    # "after": stream s starts (per utterance) when stream `after` has finished: its entry ops (no parent in
    # their own stream) wait for every piece of the other stream's last op of that utterance
    utt_rank_op = utt_ranks(workload)
    after_op = np.full(n, -1, dtype=np.int64)
    afters = [(si, snames.index(mapping.streams[s].after)) for si, s in enumerate(snames)
              if mapping.streams[s].after and mapping.streams[s].after in snames]
    if afters:
        dep_dst = np.repeat(np.arange(n, dtype=np.int64), np.diff(dep_ptr))
        same = scodes[dep_src] == scodes[dep_dst]
        has_own_parent = np.zeros(n, dtype=bool)
        has_own_parent[dep_dst[same]] = True
        dep_dst = same = None  # noqa: F841
        nu = int(utt_rank_op.max()) + 1 if n else 0
        last_op = np.full(len(snames) * nu, -1, dtype=np.int64)  # per (stream, utterance): its last op
        np.maximum.at(last_op, scodes.astype(np.int64) * nu + utt_rank_op, np.arange(n, dtype=np.int64))
        for si, ai in afters:
            entry = np.flatnonzero((scodes == si) & ~has_own_parent)
            lp = last_op[ai * nu + utt_rank_op[entry]]
            ok = (lp >= 0) & (lp < entry)
            after_op[entry[ok]] = lp[ok]
    if overlap not in ("full", "none"):
        raise SpecError(f"scheduler.overlap = {overlap!r}: expected 'full' or 'none'")

    # start-up loads of pinned weights: one DMA piece per (weight, core), readers of utterance 0 wait for it
    loads = []
    if mapping.charge_load and reads_pinned.any():
        for i, c in zip(*np.nonzero(held)):
            loads.append((int(i), int(c), float(held[i, c])))
    nl = len(loads)
    load_of_key = np.full(total, -1, dtype=np.int64)
    first_utt = np.zeros(0, dtype=bool)
    if nl:
        first_utt = utt_rank_op == 0 if arch.scheduler.utterances == "sequential" else np.ones(n, bool)
        load_of = np.full((nw, arch.cores), -1, dtype=np.int64)
        for li, (i, c, _b) in enumerate(loads):
            load_of[i, c] = li
        readers = np.flatnonzero(reads_pinned)
        load_of_key[readers] = load_of[pw[readers], core[readers]]

    def head(x, fill, dtype=None):
        """The per-key column ``x`` with the load keys' ``fill`` in front (``x`` itself without loads)."""
        dtype = np.asarray(x).dtype if dtype is None else dtype
        if not nl:
            return x.astype(dtype, copy=False)
        out = np.empty(nl + len(x), dtype=dtype)
        out[:nl] = fill
        out[nl:] = x
        return out

    all_core = np.concatenate([np.array([c for _i, c, _b in loads], dtype=np.int64), core])
    ic = arch.interconnect
    hops = np.array([[(ring_hops(x, y, arch.cores) if ic.topology == "ring" else 1) for y in range(arch.cores)]
                     for x in range(arch.cores)], dtype=np.float64)
    n_pieces = nl + n_op_pieces
    idt = np.int32 if n_pieces < 2**31 - 2**20 else np.int64  # piece ids (loads included)
    # a link's counts are pieces of one op (or 1)
    cdt = np.int16 if int(npieces.max(initial=1)) < 2**15 else np.int32
    child_lo, child_cnt, parent_lo, parent_cnt, diagonal = piece_links(
        nl, p0, op_class, in_cnt, out_off, out_cnt, ns_c, g_eff, sc, is_mm, dep_ptr, dep_src, has_reduce, after_op,
        overlap == "none", load_of_key, k0, first_utt, idt, cdt)
    after_op = first_utt = None  # noqa: F841
    # a result crosses cores in sync + hops x hop + ceil(bytes / link width) cycles
    links = Links(child_lo=child_lo, child_cnt=child_cnt, parent_lo=parent_lo, parent_cnt=parent_cnt,
                  diagonal=diagonal,
                  out_cycles=head(np.ceil(costs["out_bytes"] / float(ic.bytes_per_cycle)), 0.0),
                  link_cycles=float(arch.overheads.sync_cycles) + hops * float(ic.hop_cycles),
                  clock_hz=float(arch.clock))

    # per piece: its op, cost key and utterance rank
    sequential = arch.scheduler.utterances == "sequential"
    piece_op = np.empty(n_pieces, dtype=idt)
    piece_key = np.empty(n_pieces, dtype=small_ids(nl + total))
    piece_rank = np.empty(n_pieces if sequential else 0, dtype=small_ids(int(utt_rank_op.max(initial=0)) + 1))
    expand_pieces(piece_op, piece_key, piece_rank, nl, p0, op_class, k0, utt_rank_op)

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

    # the plan's columns, per key
    unit = head(core * UNITS_PER_CORE + costs.pop("unit"), 0, np.int64)
    unit[:nl] = all_core[:nl] * UNITS_PER_CORE + DMA_LOCAL_UNIT
    busy_s = head(costs.pop("busy_s"), 0.0)
    busy_s[:nl] = dispatch + first + lb / arch.offchip.bandwidth
    lead_s = costs.pop("dispatch_s")
    lead_s = lead_s + costs.pop("first_s")
    lead_s = head(lead_s, dispatch + first)
    dram_bytes = head(costs.pop("dram_bytes"), 0.0)
    dram_bytes[:nl] = lb
    plan = Plan(
        piece_op=piece_op,
        unit=unit,
        busy_s=busy_s,
        lead_s=lead_s,
        compute_s=head(costs.pop("compute_s"), 0.0),
        dram_bytes=dram_bytes,
        tiles=head(costs["tiles"], 1.0, np.float64),
        weight_id=head(weight_id, -1, np.int64),
        hit_busy_s=head(on_chip_busy, 0.0),
        dep_ptr=no_explicit_edges(n_pieces), dep_src=np.zeros(0, dtype=idt),
        dep_delay_s=np.zeros(0), links=links,
        unit_capacity=np.array([1, 1, arch.core.dma.engines] * arch.cores, dtype=np.int64),
        weight_bytes=wbytes,
        cache_bytes=np.array(free if arch.scheduler.weight_reuse else [0.0] * arch.cores, dtype=np.float64),
        bandwidth_Bps=float(arch.offchip.bandwidth),
        utt_rank=piece_rank if sequential else None,
        notes={"mapping": mapping.name},
        piece_key=piece_key,
    )
    op_core = gpad[sc, 0].astype(np.int64)[op_class]
    # the per-key cost columns the result reads, as views of the plan's (no second copy)
    costs["busy_s"], costs["dram_bytes"] = plan.busy_s[nl:], plan.dram_bytes[nl:]
    costs["unit"] = (plan.unit[nl:] % UNITS_PER_CORE).astype(np.int8)
    return Built(plan=plan, role=head(role, LOAD, np.int8), core=all_core.astype(np.int32), costs=costs,
                 on_chip_busy_s=plan.hit_busy_s[nl:],
                 resident=resident, op_core=op_core, pinned_bytes=pinned_bytes, pinned_per_core=pinned_per_core,
                 loads=nl, op_piece0=p0)
