"""Pieces -> ops -> run totals: a played plan's per-piece times and costs summed up per trace op and into
everything the run's summary and energy need, each in one compiled pass.

An op's pieces are consecutive (``op_piece0``, after the start-up loads). Per op: start = its first piece's
start, end = its last piece's end (min / max over its pieces), busy = the longest piece (a piece that hit the
reuse cache counts its on-chip time), DRAM bytes and bytes the reuse cache saved = sums over its pieces,
resident = any piece resident or hit, MACs and SFU operations = sums, blocker = the op of its first piece's
blocker (-1: none or a load). The float sums are numpy's ``np.add.reduceat`` bit for bit (the first value
plus the pairwise sum of the rest, :func:`pairwise_sum`), so the result does not depend on how it was
aggregated. :func:`run_of_pieces` keeps only start, end and blocker per op and the rest per op class (ops of
equal class have equal pieces) plus the ops that differ (reuse-cache hits); it also forms the summary's
totals: per-label sequential sums as ``np.bincount`` forms them, whole-array sums as numpy's pairwise
summation forms them, streamed (:func:`pairwise_streams`: no array of the summed values) or, for counts
that are multiples of 1/8 with small enough sums, as integers (exact, so equal to any order's sum).
:func:`energy_of_ops` does the same for the run's energy. The plain per-op / per-label forms of these
passes, the tests' reference, are in ``tests/reference_passes.py``. Compiled with numba
(``cache=True``), as the fast engine is: passes over the pieces without per-piece temporary arrays.
"""

from __future__ import annotations

import numpy as np

from accelsim.jit import njit

EXACT_LIMIT = 2**53  # integers below this are exact in float64: sums of eighths below it round nowhere


@njit(cache=True)
def eighths_only(values):  # pragma: no cover - compiled
    """Whether every value is a non-negative multiple of 1/8 and none is -0.0 (float sums of such values are
    exact while they stay below :data:`EXACT_LIMIT` / 8)."""
    for i in range(len(values)):
        v = values[i]
        if not (v >= 0) or v * 8.0 != np.floor(v * 8.0) or (v == 0 and np.signbit(v)):
            return False
    return True


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


# --- streamed pairwise sums: numpy's summation of a sequence whose length is known up front, fed one value
# at a time (no buffer of the whole sequence). Stream ``s`` of ``counts[s]`` values walks the same tree as
# :func:`pairwise_sum` (blocks of up to 128 values, the first half of a larger range a multiple of 8),
# keeping only the current block and the stack of left-half sums.

@njit(cache=True)
def _ps_descend(st, stage, s, t):  # pragma: no cover - compiled
    """Push left halves from stack slot ``t`` down to a block; returns the new top."""
    while st[s, t] > 128:
        m = st[s, t]
        n2 = m // 2
        n2 -= n2 % 8
        t += 1
        st[s, t] = n2
        stage[s, t] = 0
    return t


@njit(cache=True)
def pairwise_streams(counts):  # pragma: no cover - compiled
    """State of streamed pairwise sums, one stream per entry of ``counts`` (its number of values); feed with
    :func:`stream_add`, read ``state[7]`` (the sums; 0.0 for an empty stream) when every value is in."""
    ns = len(counts)
    st = np.zeros((ns, 64), np.int64)
    stage = np.zeros((ns, 64), np.int64)
    left = np.zeros((ns, 64))
    top = np.zeros(ns, np.int64)
    leaf = np.zeros(ns, np.int64)
    fill = np.zeros(ns, np.int64)
    buf = np.zeros((ns, 128))
    total = np.zeros(ns)
    for s in range(ns):
        if counts[s] > 0:
            st[s, 0] = counts[s]
            top[s] = _ps_descend(st, stage, s, 0)
            leaf[s] = st[s, top[s]]
    return st, stage, left, top, leaf, fill, buf, total


@njit(cache=True)
def stream_add(state, s, x):  # pragma: no cover - compiled
    """Feed value ``x`` to stream ``s`` of ``state`` (:func:`pairwise_streams`). A hot loop inlines this (the
    store into the block, then :func:`block_done` when the block is full): a call per value costs more."""
    st, stage, left, top, leaf, fill, buf, total = state
    k = fill[s]
    buf[s, k] = x
    fill[s] = k + 1
    if k + 1 == leaf[s]:
        block_done(st, stage, left, top, leaf, fill, buf, total, s)


@njit(cache=True)
def block_done(st, stage, left, top, leaf, fill, buf, total, s):  # pragma: no cover - compiled
    """Stream ``s``'s current block is full: sum it, fold finished halves, move on to the next block."""
    val = _block_sum(buf[s], 0, fill[s])
    fill[s] = 0
    t = top[s] - 1
    while t >= 0 and stage[s, t] == 1:  # a right half done: finish its parent
        val = left[s, t] + val
        t -= 1
    if t < 0:
        total[s] = val
        leaf[s] = -1
        return
    left[s, t] = val  # a left half done: the right half next
    stage[s, t] = 1
    m = st[s, t]
    n2 = m // 2
    n2 -= n2 % 8
    t += 1
    st[s, t] = m - n2
    stage[s, t] = 0
    t = _ps_descend(st, stage, s, t)
    top[s] = t
    leaf[s] = st[s, t]


@njit(cache=True)
def run_of_pieces(op_piece0, n_load, piece_key, piece_op, hit, start, end, blocker, busy_k, hit_busy_k, dram_k,
                  key_unit, resident_r, macs_r, elem_r, prec_r, n_prec, op_class, class_first, op_core, op_phase,
                  n_phase, op_kind, n_kind, unit_r, n_units, out_start, out_end, out_blocker, x_op, x_busy, x_dram,
                  x_saved, x_res, exact):  # pragma: no cover
    """One pass over a played plan's pieces: the per-op aggregation of the module docstring (start, end and
    blocker op written into ``out_*``; the rest kept per op *class* -- ``op_class``, ops of equal class have
    equal pieces; ``class_first``: the first op of each -- plus the ops whose values differ from their
    class's, e.g. after a reuse-cache hit) and every total the run summary needs, each summed in the order
    numpy sums it (:class:`accelsim.sim.result`). With ``exact`` (the caller has checked that ``dram_k``
    holds non-negative multiples of 1/8, none -0.0, and that neither the DRAM bytes of all pieces nor the
    MACs can reach :data:`EXACT_LIMIT` / 8) the DRAM and saved bytes are summed as integers of eighths and the
    MACs as integers: no partial sum of them rounds, so that is numpy's pairwise sum too.

    The exceptions (op ids, busy, DRAM, saved, resident) go to ``x_*`` (as many as they hold). Returns (``ok``:
    every op's row, MACs, element ops and core equal its class's; class tables: row, core, MACs, element ops,
    busy s, DRAM bytes, saved bytes, resident; the number of exceptions (more than ``x_*`` hold: call again
    with room for them); per (phase label, unit) piece busy s and per phase label DRAM bytes (rows
    ``n_phase + 1``, last: loads); per unit busy s summed pairwise; DRAM bytes of all pieces and of the loads;
    saved bytes summed over ops, ops with saved bytes, MACs and element ops (ints), per precision code MACs
    (float sums) and element ops (ints); critical path: op ids (last first), time per phase / kind / op unit
    label (each with a last entry: loads))."""
    n = len(op_piece0) - 1
    n_pieces = len(piece_key)
    # counts of the pairwise streams: per unit (piece busy), all pieces, loads, ops (saved), per precision
    cnt = np.zeros(n_units + 3 + n_prec, np.int64)
    for p in range(n_pieces):
        cnt[key_unit[piece_key[p]]] += 1
        if piece_op[p] < 0:
            cnt[n_units + 1] += 1
    cnt[n_units] = n_pieces
    cnt[n_units + 2] = n
    for d in range(0 if exact else n):  # (exact: MACs summed as ints, no stream)
        cnt[n_units + 3 + prec_r[piece_key[n_load + op_piece0[d]] - n_load]] += 1
    p_st, p_stage, p_left, p_top, p_leaf, p_fill, p_buf, p_total = pairwise_streams(cnt)
    use_busy = np.zeros((n_phase + 1) * n_units)
    e_all = 0  # with exact: eighths of all pieces' DRAM bytes, of the ops' saved bytes; MACs per precision
    e_saved = 0
    macs_prec = np.zeros(n_prec, np.int64)
    use_dram = np.zeros(n_phase + 1)
    for p in range(n_load):
        x = 0.0 if hit[p] else dram_k[piece_key[p]]
        u = key_unit[piece_key[p]]
        o = piece_op[p]
        lab = op_phase[o] if o >= 0 else n_phase
        dur = end[p] - start[p]
        use_busy[lab * n_units + u] += dur
        use_dram[lab] += x
        sq = u  # stream_add(sq, value), inlined
        sk = p_fill[sq]
        p_buf[sq, sk] = dur
        p_fill[sq] = sk + 1
        if sk + 1 == p_leaf[sq]:
            block_done(p_st, p_stage, p_left, p_top, p_leaf, p_fill, p_buf, p_total, sq)
        if exact:
            e_all += np.int64(x * 8.0)
        else:
            sq = n_units  # stream_add(sq, value), inlined
            sk = p_fill[sq]
            p_buf[sq, sk] = x
            p_fill[sq] = sk + 1
            if sk + 1 == p_leaf[sq]:
                block_done(p_st, p_stage, p_left, p_top, p_leaf, p_fill, p_buf, p_total, sq)
        if o < 0:
            sq = n_units + 1  # stream_add(sq, value), inlined
            sk = p_fill[sq]
            p_buf[sq, sk] = x
            p_fill[sq] = sk + 1
            if sk + 1 == p_leaf[sq]:
                block_done(p_st, p_stage, p_left, p_top, p_leaf, p_fill, p_buf, p_total, sq)
    n_classes = len(class_first)
    op_unit = np.empty(n, np.int8)  # per op: the unit of its first piece's row (the path's unit label)
    c_row = np.zeros(n_classes, np.int64)
    c_core = np.zeros(n_classes, np.int64)
    c_macs = np.zeros(n_classes, np.int64)
    c_elem = np.zeros(n_classes, np.int64)
    c_busy = np.zeros(n_classes)
    c_dram = np.zeros(n_classes)
    c_saved = np.zeros(n_classes)
    c_res = np.zeros(n_classes, np.bool_)
    cap = len(x_op)
    n_x = 0
    ok = True
    hits = 0
    macs_total = 0
    elem_total = 0
    elem_prec = np.zeros(n_prec, np.int64)
    widest = 1
    for d in range(n):
        w = op_piece0[d + 1] - op_piece0[d]
        if w > widest:
            widest = w
    dbuf = np.empty(widest)
    sbuf = np.empty(widest)
    for c in range(n_classes):  # a class's values: its first op's pieces without any reuse-cache hit
        d = class_first[c]
        lo = n_load + op_piece0[d]
        hi = n_load + op_piece0[d + 1]
        c_row[c] = piece_key[lo] - n_load
        c_core[c] = op_core[d]
        cb = -np.inf
        cres = False
        macs = 0
        elem = 0
        for p in range(lo, hi):
            k = piece_key[p]
            r = k - n_load
            x = busy_k[k]
            if p == lo or x != x or x > cb:
                cb = x
            dbuf[p - lo] = dram_k[k]
            sbuf[p - lo] = 0.0
            if resident_r[r]:
                cres = True
            macs += macs_r[r]
            elem += elem_r[r]
        c_macs[c] = macs
        c_elem[c] = elem
        c_busy[c] = cb
        c_dram[c] = _reduceat_sum(dbuf, hi - lo)
        c_saved[c] = _reduceat_sum(sbuf, hi - lo)
        c_res[c] = cres
    for d in range(n):
        lo = n_load + op_piece0[d]
        hi = n_load + op_piece0[d + 1]
        lab = op_phase[d]
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
            if resident_r[r]:
                res = True
            macs += macs_r[r]
            elem += elem_r[r]
            u = key_unit[k]
            dur = end[p] - start[p]
            use_busy[lab * n_units + u] += dur
            use_dram[lab] += dbuf[p - lo]
            sq = u  # stream_add(sq, value), inlined
            sk = p_fill[sq]
            p_buf[sq, sk] = dur
            p_fill[sq] = sk + 1
            if sk + 1 == p_leaf[sq]:
                block_done(p_st, p_stage, p_left, p_top, p_leaf, p_fill, p_buf, p_total, sq)
            if exact:
                e_all += np.int64(dbuf[p - lo] * 8.0)
            else:
                sq = n_units  # stream_add(sq, value), inlined
                sk = p_fill[sq]
                p_buf[sq, sk] = dbuf[p - lo]
                p_fill[sq] = sk + 1
                if sk + 1 == p_leaf[sq]:
                    block_done(p_st, p_stage, p_left, p_top, p_leaf, p_fill, p_buf, p_total, sq)
        w = hi - lo
        if w == 1:  # np.add.reduceat of one value: the value
            dram = dbuf[0]
            saved = sbuf[0]
        elif w <= 8:  # the first value plus the rest summed from -0.0 (pairwise_sum of under 8 values), inline
            dram = -0.0
            saved = -0.0
            for i in range(1, w):
                dram += dbuf[i]
                saved += sbuf[i]
            dram = dbuf[0] + dram
            saved = sbuf[0] + saved
        else:
            dram = _reduceat_sum(dbuf, w)
            saved = _reduceat_sum(sbuf, w)
        out_start[d] = s
        out_end[d] = e
        bl = blocker[lo]
        out_blocker[d] = piece_op[bl] if bl >= n_load else -1
        row = piece_key[lo] - n_load
        op_unit[d] = unit_r[row]
        c = op_class[d]
        if c_row[c] != row or c_core[c] != op_core[d] or c_macs[c] != macs or c_elem[c] != elem:
            ok = False
        if not (b == c_busy[c] and dram == c_dram[c] and saved == c_saved[c] and res == c_res[c]
                and np.signbit(b) == np.signbit(c_busy[c]) and np.signbit(dram) == np.signbit(c_dram[c])
                and np.signbit(saved) == np.signbit(c_saved[c])):  # equal bit for bit (a NaN never is)
            if n_x < cap:  # (the caller's arrays: a loop that reassigns arrays pays reference counts per op)
                x_op[n_x] = d
                x_busy[n_x] = b
                x_dram[n_x] = dram
                x_saved[n_x] = saved
                x_res[n_x] = res
            n_x += 1
        if exact:
            e_saved += np.int64(saved * 8.0)
        else:
            sq = n_units + 2  # stream_add(sq, value), inlined
            sk = p_fill[sq]
            p_buf[sq, sk] = saved
            p_fill[sq] = sk + 1
            if sk + 1 == p_leaf[sq]:
                block_done(p_st, p_stage, p_left, p_top, p_leaf, p_fill, p_buf, p_total, sq)
        if saved != 0:
            hits += 1
        macs_total += macs
        elem_total += elem
        pc = prec_r[row]
        if exact:
            macs_prec[pc] += macs
        else:
            sq = n_units + 3 + pc  # stream_add(sq, value), inlined
            sk = p_fill[sq]
            p_buf[sq, sk] = float(macs)
            p_fill[sq] = sk + 1
            if sk + 1 == p_leaf[sq]:
                block_done(p_st, p_stage, p_left, p_top, p_leaf, p_fill, p_buf, p_total, sq)
        elem_prec[pc] += elem
    # the critical path: from the piece that ends last (the first such; a NaN end first, as np.argmax) back
    last = 0
    for p in range(1, n_pieces):
        x = end[p]
        m = end[last]
        if m != m:
            break
        if x != x or x > m:
            last = p
    length = 0
    i = last if n_pieces else -1
    while i >= 0 and length <= n_pieces:
        length += 1
        i = blocker[i]
        if i >= n_pieces or i < -1:
            raise ValueError("blocker ids out of range")
    if length > n_pieces:
        raise ValueError("blocker links form a cycle")
    path_op = np.empty(length, piece_op.dtype)
    t_phase = np.zeros(n_phase + 1)
    t_kind = np.zeros(n_kind + 1)
    t_unit = np.zeros(n_units + 1)
    i = last
    for j in range(length):
        bl = blocker[i]
        span = end[i] - (end[bl] if bl >= 0 else 0.0)
        o = piece_op[i]
        path_op[j] = o
        if o >= 0:
            t_phase[op_phase[o]] += span
            t_kind[op_kind[o]] += span
            t_unit[op_unit[o]] += span
        else:
            t_phase[n_phase] += span
            t_kind[n_kind] += span
            t_unit[n_units] += span
        i = bl
    sums = p_total
    if exact:
        sums[n_units] = e_all / 8.0
        sums[n_units + 2] = e_saved / 8.0
        for k in range(n_prec):
            sums[n_units + 3 + k] = float(macs_prec[k])
    return (ok, c_row, c_core, c_macs, c_elem, c_busy, c_dram, c_saved, c_res,
            n_x,
            use_busy.reshape((n_phase + 1, n_units)), use_dram, sums[:n_units].copy(), sums[n_units],
            sums[n_units + 1], sums[n_units + 2], hits, macs_total, elem_total, sums[n_units + 3:].copy(), elem_prec,
            path_op, t_phase, t_kind, t_unit)


@njit(cache=True)
def _extra_counts(dram, kind, out_bytes, tiles, mm_code, emb_code, out):  # pragma: no cover - compiled
    """An op's first four extra action counts (``accelsim.cost.energy.stream_action_counts``) into ``out``."""
    streamed = dram > 0
    emb_kept = kind == emb_code and not streamed
    out[0] = dram
    out[1] = (dram if streamed else 0.0) + (out_bytes if emb_kept else 0.0)
    out[2] = out_bytes if emb_kept else 0.0
    out[3] = float(tiles) if (kind == mm_code and streamed) else 0.0


@njit(cache=True)
def energy_of_ops(op_class, c_row, c_core, c_dram, c_kind, x_op, x_dram, out_bytes_r, tiles_r, mm_code, emb_code,
                  op_phase, n_phase, dep_ptr, dep_src, hop_table, c_ekey, key_pJ, extra_comp, extra_pJ,
                  exact):  # pragma: no cover - compiled
    """Per-op dynamic energy of a run in one pass, as :func:`accelsim.sim.energy.run_energy` defines it.

    Per op: DRAM bytes (its class's, ``c_dram``, or its exception's, ``x_op``/``x_dram``), result bytes and
    stream tiles (of its class's row), kind (``c_kind``), phase, core and input edges give the extra action
    counts (``accelsim.cost.energy.stream_action_counts`` order: dram.byte, scratchpad.write_byte,
    scratchpad.read_byte, dma.setup, then ring.byte_hop); component ``q`` of the op is ``key_pJ[ekey, q]``
    plus its extra counts times ``extra_pJ`` added in that order where ``extra_comp`` is ``q`` (-1: no
    energy). All but the byte-hops are the class's unless the op is an exception, so they are formed once per
    class. Returns per component the pairwise sum over ops (pJ), per phase the op sums (pJ, in op order), per
    extra action the pairwise sum of its counts and whether any is non-zero. With ``exact`` (the caller has
    checked that every count is a non-negative multiple of 1/8, none -0.0, and that each action's sum stays
    below :data:`EXACT_LIMIT` / 8) the counts are summed as integers of eighths: no partial sum of them rounds,
    so that is numpy's pairwise sum too."""
    n = len(op_class)
    n_cls = len(c_row)
    n_comp = key_pJ.shape[1]
    n_extra = len(extra_comp)  # 5: the last is the ring's byte-hops
    ring = n_extra - 1
    ring_q = extra_comp[ring]
    cnt = np.full(n_comp + n_extra, n, np.int64)
    p_st, p_stage, p_left, p_top, p_leaf, p_fill, p_buf, p_total = pairwise_streams(cnt)
    fill = 0
    leaf = p_leaf[0] if n > 0 else 0
    # per class: its counts but the byte-hops, their eighths, and each component's extra energy without them
    # (the byte-hops come last in action order, so they are added last)
    c_counts = np.zeros((n_cls, n_extra))
    c_eighths = np.zeros((n_cls, n_extra), np.int64)
    c_part = np.zeros((n_cls, n_comp))
    for c in range(n_cls):
        r = c_row[c]
        _extra_counts(c_dram[c], c_kind[c], out_bytes_r[r], tiles_r[r], mm_code, emb_code, c_counts[c])
        for a in range(ring):
            if exact:
                c_eighths[c, a] = np.int64(c_counts[c, a] * 8.0)
            q = extra_comp[a]
            if q >= 0:
                c_part[c, q] = c_part[c, q] + c_counts[c, a] * extra_pJ[a]
    counts = np.zeros(n_extra)
    part = np.zeros(n_comp)
    eighths = np.zeros(n_extra, np.int64)
    per_phase = np.zeros(n_phase)
    nonzero = np.zeros(n_extra, np.bool_)
    j = 0
    for d in range(n):
        c = op_class[d]
        r = c_row[c]
        is_x = j < len(x_op) and x_op[j] == d
        if is_x:  # an exception's own DRAM bytes
            _extra_counts(x_dram[j], c_kind[c], out_bytes_r[r], tiles_r[r], mm_code, emb_code, counts)
            j += 1
            for q in range(n_comp):
                part[q] = 0.0
            for a in range(ring):
                q = extra_comp[a]
                if q >= 0:
                    part[q] = part[q] + counts[a] * extra_pJ[a]
                if exact:
                    eighths[a] += np.int64(counts[a] * 8.0)
        elif exact:
            for a in range(ring):
                eighths[a] += c_eighths[c, a]
        acc = 0.0
        core = c_core[c]
        for e in range(dep_ptr[d], dep_ptr[d + 1]):
            cs = op_class[dep_src[e]]
            acc += out_bytes_r[c_row[cs]] * hop_table[c_core[cs], core]
        if exact:
            eighths[ring] += np.int64(acc * 8.0)
        else:
            for a in range(ring):
                v = counts[a] if is_x else c_counts[c, a]
                if v != 0:
                    nonzero[a] = True
                p_buf[n_comp + a, fill] = v
            if acc != 0:
                nonzero[ring] = True
            p_buf[n_comp + ring, fill] = acc
        total = 0.0
        ek = c_ekey[c]
        for q in range(n_comp):
            x = part[q] if is_x else c_part[c, q]
            if q == ring_q:
                x = x + acc * extra_pJ[ring]
            v = key_pJ[ek, q] + x
            p_buf[q, fill] = v
            total = v if q == 0 else total + v
        per_phase[op_phase[d]] += total
        # every stream holds n values, so all share one block position: a block boundary for one is one for all
        fill += 1
        if fill == leaf:
            for q in range(n_comp if exact else n_comp + n_extra):
                p_fill[q] = fill
                block_done(p_st, p_stage, p_left, p_top, p_leaf, p_fill, p_buf, p_total, q)
            fill = 0
            leaf = p_leaf[0]
    extra_sums = p_total[n_comp:].copy()
    if exact:
        for a in range(n_extra):
            extra_sums[a] = eighths[a] / 8.0
            nonzero[a] = eighths[a] > 0
    return p_total[:n_comp].copy(), per_phase, extra_sums, nonzero
