"""Dependency links between pieces (:class:`~accelsim.map.plan.Links`), built in one compiled pass (numba).

A split op's pieces each wait for every output piece of each producer (an all-gather), which as explicit
edges is ``g x g`` per trace dependency: several edges per op, and on long workloads most of the plan's
memory. :func:`piece_links` writes one *link* per (consumer op, dependency) instead -- its input pieces wait
for the producer's output pieces -- and the engines expand it when a parent ends; the delay of each edge is
computed from the cores at both ends and the parent's result size (the plan's delay model). Link order per
consumer op: its trace dependencies in trace order (an element-wise slice of an ``n``-split producer on the
same cores waits for the same slice only: a *diagonal* link), then the stream it must follow (``after``), then
the previous op (``overlap: none``), then the start-up load of each piece's pinned weight; the reduce piece of a
``k`` split waits for its partial sums -- the order :func:`accelsim.map.build.build_plan` documents, and
:func:`expand_links` reproduces it edge by edge.
"""

from __future__ import annotations

import numpy as np

from accelsim.jit import njit

from accelsim.map.plan import UNITS_PER_CORE


@njit(cache=True, inline="always")
def _put(fill, count, child_lo, child_cnt, parent_lo, parent_cnt, diagonal, c, nc, p, np_, diag):
    """Link parents [p, p + np_) -> children [c, c + nc): counted (first pass) or written (second)."""
    k = count[0]
    count[0] = k + 1
    if fill:
        child_lo[k] = c
        child_cnt[k] = nc
        parent_lo[k] = p
        parent_cnt[k] = np_
        diagonal[k] = diag


@njit(cache=True, _nrt=False)
def _walk(count, fill, child_lo, child_cnt, parent_lo, parent_cnt, diagonal, n_load, p0, op_class, in_cnt, out_off,
          out_cnt, local_op, g_eff, stream, is_mm, dep_ptr, dep_src, has_reduce, after_op, overlap_none,
          load_of_key, class_key0, first_utt):  # pragma: no cover - compiled
    """One pass over the ops: count the links (``fill`` False) or write them; compiled without reference
    counting (it allocates nothing; counting the arrays handed to the inlined ``_put`` cost most of its time)."""
    n = len(op_class)
    count[0] = 0
    for d in range(n):
        cd = op_class[d]
        q = n_load + p0[d]
        nq = in_cnt[cd]
        for k in range(dep_ptr[d], dep_ptr[d + 1]):
            s = dep_src[k]
            cs = op_class[s]
            local = (local_op[cs] and local_op[cd] and not is_mm[cd] and g_eff[cs] == g_eff[cd] and g_eff[cd] > 1
                     and stream[cs] == stream[cd])
            if local:
                _put(fill, count, child_lo, child_cnt, parent_lo, parent_cnt, diagonal, q, nq,
                     n_load + p0[s] + out_off[cs], nq, True)
            else:
                _put(fill, count, child_lo, child_cnt, parent_lo, parent_cnt, diagonal, q, nq,
                     n_load + p0[s] + out_off[cs], out_cnt[cs], False)
        lp = after_op[d]
        if lp >= 0:
            _put(fill, count, child_lo, child_cnt, parent_lo, parent_cnt, diagonal, q, nq, n_load + p0[lp],
                 p0[lp + 1] - p0[lp], False)
        if overlap_none and d > 0:
            _put(fill, count, child_lo, child_cnt, parent_lo, parent_cnt, diagonal, q, nq, n_load + p0[d - 1],
                 p0[d] - p0[d - 1], False)
        if n_load > 0 and first_utt[d]:
            for b in range(nq):
                li = load_of_key[class_key0[cd] + b]
                if li >= 0:
                    _put(fill, count, child_lo, child_cnt, parent_lo, parent_cnt, diagonal, q + b, 1, li, 1, False)
        if has_reduce[cd]:  # partial sums -> their reduce piece
            _put(fill, count, child_lo, child_cnt, parent_lo, parent_cnt, diagonal, n_load + p0[d + 1] - 1, 1,
                 n_load + p0[d], g_eff[cd], False)
    return count[0]


def piece_links(n_load, p0, op_class, in_cnt, out_off, out_cnt, local_op, g_eff, stream, is_mm, dep_ptr, dep_src,
                has_reduce, after_op, overlap_none, load_of_key, class_key0, first_utt, id_dtype=np.int32,
                count_dtype=np.int16):
    """(child_lo, child_cnt, parent_lo, parent_cnt, diagonal) of every link over all pieces (loads first), in
    the order of the module docstring; piece ids in ``id_dtype``, counts in ``count_dtype`` (the caller
    checks that they fit). Per op: ``p0`` (its first piece after the loads; length n + 1), ``op_class``,
    ``dep_ptr``/``dep_src``, ``after_op`` (-1: none) and ``first_utt`` (it waits for the loads of its pinned
    weights; read only with loads). Per op class: its input pieces ``in_cnt``, first output piece ``out_off``
    (from its first piece) and ``out_cnt``, ``local_op`` (split along N), ``g_eff``, ``stream``, ``is_mm``,
    ``has_reduce``, ``class_key0`` (its first cost key, loads not counted). Per key: ``load_of_key`` (the load
    piece its weight waits for, -1: none). Two compiled passes: count, then write."""
    ids = np.zeros(0, dtype=id_dtype)
    cnts = np.zeros(0, dtype=count_dtype)
    count = np.zeros(1, dtype=np.int64)
    rest = (n_load, p0, op_class, in_cnt, out_off, out_cnt, local_op, g_eff, stream, is_mm, dep_ptr, dep_src,
            has_reduce, after_op, overlap_none, load_of_key, class_key0, first_utt)
    m = int(_walk(count, False, ids, cnts, ids, cnts, np.zeros(0, dtype=np.bool_), *rest))
    out = (np.empty(m, dtype=id_dtype), np.empty(m, dtype=count_dtype), np.empty(m, dtype=id_dtype),
           np.empty(m, dtype=count_dtype), np.empty(m, dtype=np.bool_))
    _walk(count, True, *out, *rest)
    return out


@njit(cache=True)
def expand_pieces(piece_op, piece_key, piece_rank, n_load, p0, op_class, class_key0, op_rank):  # pragma: no cover
    """Fill the per-piece ``piece_op``, ``piece_key`` and (when ``piece_rank`` is not empty) ``piece_rank``:
    the loads first (op -1, key = their index, rank 0), then the pieces of each op (its class's keys after
    the loads' in order, its utterance rank ``op_rank``)."""
    ranks = len(piece_rank) > 0
    for i in range(n_load):
        piece_op[i] = -1
        piece_key[i] = i
        if ranks:
            piece_rank[i] = 0
    for d in range(len(op_class)):
        k = n_load + class_key0[op_class[d]]
        for p in range(n_load + p0[d], n_load + p0[d + 1]):
            piece_op[p] = d
            piece_key[p] = k
            k += 1
            if ranks:
                piece_rank[p] = op_rank[d]


@njit(cache=True, inline="always")
def link_delay_s(parent, child, unit, out_cycles, link_cycles, clock_hz):  # pragma: no cover - compiled
    """Seconds a link edge's result needs from ``parent``'s core to ``child``'s (0 on the same core)."""
    a = unit[parent] // UNITS_PER_CORE
    b = unit[child] // UNITS_PER_CORE
    if a == b:
        return 0.0
    return (link_cycles[a, b] + out_cycles[parent]) / clock_hz


@njit(cache=True)
def expand_links(dep_ptr, dep_src, dep_delay_s, child_lo, child_cnt, parent_lo, parent_cnt, diagonal, out_cycles,
                 link_cycles, clock_hz, unit):  # pragma: no cover - compiled
    """(ptr, src, delay_s): the explicit edges and the links' edges as one CSR by child (explicit first, then
    the links' edges in link order)."""
    n = len(dep_ptr) - 1
    count = np.zeros(n, dtype=np.int64)
    for i in range(n):
        count[i] = dep_ptr[i + 1] - dep_ptr[i]
    for k in range(len(child_lo)):
        per = 1 if diagonal[k] else parent_cnt[k]
        for c in range(child_lo[k], child_lo[k] + child_cnt[k]):
            count[c] += per
    ptr = np.zeros(n + 1, dtype=np.int64)
    for i in range(n):
        ptr[i + 1] = ptr[i] + count[i]
    src = np.empty(ptr[n], dtype=np.int64)
    delay = np.empty(ptr[n])
    at = ptr[:n].copy()
    for i in range(n):
        for e in range(dep_ptr[i], dep_ptr[i + 1]):
            src[at[i]] = dep_src[e]
            delay[at[i]] = dep_delay_s[e]
            at[i] += 1
    for k in range(len(child_lo)):
        for j in range(child_cnt[k]):
            c = child_lo[k] + j
            lo, hi = (parent_lo[k] + j, parent_lo[k] + j + 1) if diagonal[k] else (parent_lo[k],
                                                                                   parent_lo[k] + parent_cnt[k])
            for p in range(lo, hi):
                src[at[c]] = p
                delay[at[c]] = link_delay_s(p, c, unit, out_cycles, link_cycles, clock_hz)
                at[c] += 1
    return ptr, src, delay
