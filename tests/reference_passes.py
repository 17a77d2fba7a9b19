"""Reference forms of :mod:`accelsim.sim.aggregate`'s one-pass aggregation, for the tests only.

:func:`ops_of_pieces` aggregates a played plan's pieces to every per-op column (start, end, busy, DRAM and
saved bytes, resident, MACs, element ops, blocker, cost row, per-piece DRAM bytes), :func:`use_by_label` and
:func:`busy_by_unit_s` form the per-label / per-unit totals, each the plain way (the module docstring of
:mod:`accelsim.sim.aggregate` defines them). ``run_of_pieces`` and the summary are tested against these.
"""

from __future__ import annotations

import numpy as np

from accelsim.jit import njit
from accelsim.sim.aggregate import _reduceat_sum, pairwise_sum


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
