"""Pieces -> ops: a played plan's per-piece times and costs summed up per trace op, in one compiled pass.

An op's pieces are consecutive (``op_piece0``, after the start-up loads). Per op: start = its first piece's
start, end = its last piece's end (min / max over its pieces), busy = the longest piece (a piece that hit the
reuse cache counts its on-chip time), DRAM bytes and bytes the reuse cache saved = sums over its pieces,
resident = any piece resident or hit, MACs and SFU operations = sums, blocker = the op of its first piece's
blocker (-1: none or a load). The float sums are numpy's ``np.add.reduceat`` bit for bit (the first value
plus the pairwise sum of the rest, :func:`pairwise_sum`), so the result does not depend on how it was
aggregated. Compiled with numba (``cache=True``), as the fast engine is: one pass over the pieces without
any per-piece temporary array.
"""

from __future__ import annotations

import numpy as np
from accelsim.jit import njit


@njit(cache=True)
def _block_sum(a, lo, n):  # pragma: no cover - compiled
    """numpy's pairwise summation of ``a[lo:lo + n]`` for ``n <= 128`` (one block, no further split)."""
    if n < 8:
        res = -0.0
        for i in range(n):
            res += a[lo + i]
        return res
    r0 = a[lo]
    r1 = a[lo + 1]
    r2 = a[lo + 2]
    r3 = a[lo + 3]
    r4 = a[lo + 4]
    r5 = a[lo + 5]
    r6 = a[lo + 6]
    r7 = a[lo + 7]
    i = 8
    while i < n - (n % 8):
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@njit(cache=True)
def pairwise_sum(a, lo, n):  # pragma: no cover - compiled
    """``a[lo:lo + n]`` summed as numpy's pairwise summation does (float64), bit for bit: blocks of up to 128
    values, larger ranges halved (the first half a multiple of 8) and the halves' sums added. Walked with an
    explicit stack (numba does not cache recursive functions)."""
    if n <= 128:
        return _block_sum(a, lo, n)
    s_lo = np.empty(64, np.int64)
    s_n = np.empty(64, np.int64)
    s_left = np.empty(64)
    s_stage = np.empty(64, np.int64)  # 0: left half not summed yet, 1: left half summed (in s_left)
    top = 0
    s_lo[0] = lo
    s_n[0] = n
    s_stage[0] = 0
    val = 0.0
    while True:
        m = s_n[top]
        if m <= 128:
            val = _block_sum(a, s_lo[top], m)
            top -= 1
            while top >= 0 and s_stage[top] == 1:  # a right half done: finish its parent
                val = s_left[top] + val
                top -= 1
            if top < 0:
                return val
            s_left[top] = val  # a left half done: sum the right half next
            s_stage[top] = 1
            m = s_n[top]
            n2 = m // 2
            n2 -= n2 % 8
            top += 1
            s_lo[top] = s_lo[top - 1] + n2
            s_n[top] = m - n2
            s_stage[top] = 0
        else:
            n2 = m // 2
            n2 -= n2 % 8
            top += 1
            s_lo[top] = s_lo[top - 1]
            s_n[top] = n2
            s_stage[top] = 0


@njit(cache=True)
def _reduceat_sum(buf, n):  # pragma: no cover - compiled
    """``np.add.reduceat`` of one segment held in ``buf[:n]`` (n >= 1)."""
    if n == 1:
        return buf[0]
    return buf[0] + pairwise_sum(buf, 1, n - 1)


@njit(cache=True)
def ops_of_pieces(op_piece0, n_load, piece_key, piece_op, hit, start, end, blocker, busy_k, hit_busy_k, dram_k,
                  resident_r, macs_r, elem_r):  # pragma: no cover - compiled
    """Per op (module docstring): start, end, busy, dram bytes, saved bytes, resident, MACs, element ops,
    blocker op and the row (key - loads) of its first piece; per piece: the DRAM bytes it fetched. Per key
    (loads included): ``busy_k``, ``hit_busy_k``, ``dram_k``; per row (key - ``n_load``): ``resident_r``,
    ``macs_r``, ``elem_r``."""
    n = len(op_piece0) - 1
    n_pieces = len(piece_key)
    op_start = np.empty(n)
    op_end = np.empty(n)
    op_busy = np.empty(n)
    op_dram = np.empty(n)
    op_saved = np.empty(n)
    op_resident = np.empty(n, np.bool_)
    op_macs = np.empty(n, np.int64)
    op_elem = np.empty(n, np.int64)
    op_blocker = np.empty(n, np.int64)
    op_row = np.empty(n, np.int64)
    piece_dram = np.empty(n_pieces)
    for p in range(n_load):
        piece_dram[p] = 0.0 if hit[p] else dram_k[piece_key[p]]
    widest = 1
    for d in range(n):
        w = op_piece0[d + 1] - op_piece0[d]
        if w > widest:
            widest = w
    dbuf = np.empty(widest)
    sbuf = np.empty(widest)
    for d in range(n):
        lo = n_load + op_piece0[d]
        hi = n_load + op_piece0[d + 1]
        s = start[lo]
        e = end[lo]
        b = -np.inf
        res = False
        macs = 0
        elem = 0
        for p in range(lo, hi):
            k = piece_key[p]
            r = k - n_load
            x = start[p]
            if x != x or x < s:
                s = x
            x = end[p]
            if x != x or x > e:
                e = x
            if hit[p]:
                x = hit_busy_k[k]
                dbuf[p - lo] = 0.0
                sbuf[p - lo] = dram_k[k]
                res = True
            else:
                x = busy_k[k]
                dbuf[p - lo] = dram_k[k]
                sbuf[p - lo] = 0.0
            if p == lo or x != x or x > b:
                b = x
            piece_dram[p] = dbuf[p - lo]
            if resident_r[r]:
                res = True
            macs += macs_r[r]
            elem += elem_r[r]
        op_start[d] = s
        op_end[d] = e
        op_busy[d] = b
        op_dram[d] = _reduceat_sum(dbuf, hi - lo)
        op_saved[d] = _reduceat_sum(sbuf, hi - lo)
        op_resident[d] = res
        op_macs[d] = macs
        op_elem[d] = elem
        bl = blocker[lo]
        op_blocker[d] = piece_op[bl] if bl >= n_load else -1
        op_row[d] = piece_key[lo] - n_load
    return (op_start, op_end, op_busy, op_dram, op_saved, op_resident, op_macs, op_elem, op_blocker, op_row,
            piece_dram)


@njit(cache=True)
def use_by_label(piece_op, op_label, n_labels, unit, n_units, start, end, dram):  # pragma: no cover - compiled
    """Per (label, unit): busy seconds (``end - start``) of the pieces; per label: their DRAM bytes. A piece of
    op ``o >= 0`` has label ``op_label[o]``, a piece of no op (-1) label ``n_labels``; the sums run in piece
    order, as ``np.bincount`` sums its weights (rows: ``n_labels + 1``)."""
    busy = np.zeros((n_labels + 1) * n_units)
    nbytes = np.zeros(n_labels + 1)
    for p in range(len(piece_op)):
        o = piece_op[p]
        lab = op_label[o] if o >= 0 else n_labels
        busy[lab * n_units + unit[p]] += end[p] - start[p]
        nbytes[lab] += dram[p]
    return busy.reshape((n_labels + 1, n_units)), nbytes


@njit(cache=True)
def busy_by_unit_s(unit, n_units, start, end):  # pragma: no cover - compiled
    """Per unit: the busy seconds (``end - start``) of its pieces summed as ``dur[unit == u].sum()`` sums them
    (numpy's pairwise summation over that unit's pieces in order)."""
    count = np.zeros(n_units, np.int64)
    for p in range(len(unit)):
        count[unit[p]] += 1
    out = np.zeros(n_units)
    buf = np.empty(len(unit))
    for u in range(n_units):
        k = 0
        for p in range(len(unit)):
            if unit[p] == u:
                buf[k] = end[p] - start[p]
                k += 1
        out[u] = pairwise_sum(buf, 0, k) if k else 0.0  # (an empty numpy sum is 0.0, not -0.0)
    return out


@njit(cache=True)
def ring_byte_hops(dep_ptr, dep_src, out_bytes, core, hop_table):  # pragma: no cover - compiled
    """Per op: byte-hops its inputs travel (each parent's result bytes times the hops between their cores),
    summed over its parents in order (as ``np.bincount`` over the edges sums them)."""
    n = len(dep_ptr) - 1
    out = np.zeros(n)
    for d in range(n):
        acc = 0.0
        for e in range(dep_ptr[d], dep_ptr[d + 1]):
            s = dep_src[e]
            acc += out_bytes[s] * hop_table[core[s], core[d]]
        out[d] = acc
    return out
