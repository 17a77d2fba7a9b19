"""The fast engine: the reference engine's rules (:mod:`accelsim.sim.engine`) compiled with numba.

It plays a :class:`~accelsim.map.plan.Plan` with the same semantics, same-time tie rules included (the
plan's docstring), and returns the *same* :class:`~accelsim.map.plan.Played`, bit for bit: every time is
computed by the same floating-point operations as in the reference. Concretely:

- one binary heap of pending events (a piece's last input arriving, a piece ending) keyed by time; all
  events of one instant are taken first (in whatever order: by the plan's rule 1 their outcome does not
  depend on it), collecting the pieces that became ready and those that ended; then the issue step sorts
  both lists by piece id and hands out unit slots as the plan's rule 1 says. A piece has at most one
  pending event at a time. The heap and the list of ready pieces start small and grow when needed: the
  loop (compiled without reference counting, it cannot allocate) stops where it can resume, before an event
  or an issue step whose bound on what it schedules exceeds their room, and its caller grows them;
- per piece only what the run needs: its start/end times, blocker (int32) and hit flag (the result), its
  count of parents still to arrive (int32) and, per parent piece, the links it feeds (int32 CSR);
- the processor-sharing DRAM channel keeps its transfers in arrival order and one pending "next
  completion", re-planned on every arrival and completion;
- per unit, waiting pieces in a binary min-heap of piece ids (its room grown like the heap's, up to the
  unit's piece count); per core, an LRU list of weight ids.

Why numba: the plan is already a set of flat numpy arrays, and the event loop is scalar code over them;
numba compiles that loop to machine code, either ahead of time at install (``python3 -m accelsim.aot
build``, an extension module that needs no numba at run time) or at first use (cached on disk), from this
one source (:mod:`accelsim.jit`), and it is a plain dependency from PyPI.
"""

from __future__ import annotations

import numpy as np
from accelsim.jit import njit

from accelsim.map.plan import DMA_LOCAL_UNIT, UNITS_PER_CORE, Links, Plan, Played

_READY = 0  # event kinds (payload = piece * 2 + kind)
_DONE = 1
# slots of the integer state array (the loop's scalars where it stops to let the caller grow a buffer)
_HSIZE, _EID, _DRAM_ARMED, _NACTIVE, _COMPLETED, _DRAM_BEST, _NREADY, _NENDED, _RESUME, _FIRST, _WMAX = range(11)
_IST_SLOTS = 11
# slots of the float state array
_DRAM_T, _DRAM_LAST, _NOW = range(3)
_FST_SLOTS = 3
_DRAM_DONE_BYTES = 1e-3  # transfers within this many bytes of done finish together (as in the reference)


@njit(cache=True, inline="always")
def _push(ht, he, hp, ist, t, payload):
    """Schedule an event at time ``t`` (same-time events in schedule order; their outcome does not depend on it)."""
    eid = ist[_EID]
    ist[_EID] = eid + 1
    k = ist[_HSIZE]
    ist[_HSIZE] = k + 1
    while k > 0:
        parent = (k - 1) >> 1
        pt = ht[parent]
        if pt < t or (pt == t and he[parent] < eid):
            break
        ht[k] = pt
        he[k] = he[parent]
        hp[k] = hp[parent]
        k = parent
    ht[k] = t
    he[k] = eid
    hp[k] = payload


@njit(cache=True, inline="always")
def _pop(ht, he, hp, ist):
    """Remove the earliest event (the caller has read it at index 0)."""
    size = ist[_HSIZE] - 1
    ist[_HSIZE] = size
    if size == 0:
        return
    t = ht[size]
    eid = he[size]
    payload = hp[size]
    k = 0
    while True:
        child = 2 * k + 1
        if child >= size:
            break
        right = child + 1
        if right < size and (ht[right] < ht[child] or (ht[right] == ht[child] and he[right] < he[child])):
            child = right
        ct = ht[child]
        if t < ct or (t == ct and eid < he[child]):
            break
        ht[k] = ct
        he[k] = he[child]
        hp[k] = hp[child]
        k = child
    ht[k] = t
    he[k] = eid
    hp[k] = payload


@njit(cache=True, inline="always")
def _wpush(wheap, off, wsize, u, i):
    """Add piece ``i`` to the waiting min-heap of unit ``u`` (stored at ``wheap[off[u]:]``)."""
    base = off[u]
    k = wsize[u]
    wsize[u] = k + 1
    while k > 0:
        parent = (k - 1) >> 1
        p = wheap[base + parent]
        if p < i:
            break
        wheap[base + k] = p
        k = parent
    wheap[base + k] = i


@njit(cache=True, inline="always")
def _wroom(ready_buf, n_ready, key, unit, woff, wsize, wdemand):
    """Whether every unit's waiting heap has room for all of ``ready_buf[:n_ready]`` of that unit."""
    for k in range(n_ready):
        wdemand[unit[key[ready_buf[k]]]] += 1
    ok = True
    for k in range(n_ready):
        u = unit[key[ready_buf[k]]]
        if wdemand[u] > 0:
            if wsize[u] + wdemand[u] > woff[u + 1] - woff[u]:
                ok = False
            wdemand[u] = 0
    return ok


@njit(cache=True, inline="always")
def _wpop(wheap, off, wsize, u):
    """Remove and return the smallest waiting piece id of unit ``u``."""
    base = off[u]
    top = wheap[base]
    size = wsize[u] - 1
    wsize[u] = size
    if size > 0:
        x = wheap[base + size]
        k = 0
        while True:
            child = 2 * k + 1
            if child >= size:
                break
            if child + 1 < size and wheap[base + child + 1] < wheap[base + child]:
                child += 1
            c = wheap[base + child]
            if x < c:
                break
            wheap[base + k] = c
            k = child
        wheap[base + k] = x
    return top


@njit(cache=True, inline="always")
def _dram_advance(now, fst, ist, act_left, bw):
    """Serve the active transfers up to ``now`` at an equal share each (``ProcessorSharingChannel._advance``)."""
    na = ist[_NACTIVE]
    if na > 0 and now > fst[_DRAM_LAST]:
        served = (now - fst[_DRAM_LAST]) * bw / na
        for a in range(na):
            act_left[a] -= served
    fst[_DRAM_LAST] = now


@njit(cache=True, inline="always")
def _dram_reschedule(now, fst, ist, act_left, bw):
    """Pending completion := the transfer with the fewest bytes left (first of equal minima: earliest arrival)."""
    ist[_DRAM_ARMED] = 0
    na = ist[_NACTIVE]
    if na == 0:
        return
    best = 0
    left = act_left[0]
    for a in range(1, na):
        if act_left[a] < left:
            left = act_left[a]
            best = a
    x = left if left > 0.0 else 0.0  # Python's max(0.0, left)
    fst[_DRAM_T] = now + x * na / bw
    ist[_DRAM_ARMED] = 1
    ist[_DRAM_BEST] = best  # index of the transfer that completes then


@njit(cache=True, inline="always")
def _sort_ids(buf, k):
    """Sort ``buf[:k]`` in place (insertion sort: the lists of one instant are short)."""
    for a in range(1, k):
        x = buf[a]
        b = a - 1
        while b >= 0 and buf[b] > x:
            buf[b + 1] = buf[b]
            b -= 1
        buf[b + 1] = x


@njit(cache=True, inline="always")
def _arrive(c, i, now, arrival, ready_at, blocker, end, ndeps, ht, he, hp, ist, ready_buf, n_ready):
    """Parent ``i``'s result reaches child ``c`` at ``arrival``; returns the new count of pieces ready now."""
    b = blocker[c]
    # blocker: the last input to arrive; ties: the parent that ended last, then the highest id
    if b < 0 or arrival > ready_at[c] or (arrival == ready_at[c] and (now > end[b] or i > b)):
        ready_at[c] = arrival
        blocker[c] = i
    ndeps[c] -= 1
    if ndeps[c] == 0:
        if ready_at[c] > now:
            _push(ht, he, hp, ist, now + (ready_at[c] - now), c * 2 + _READY)
        else:
            ready_buf[n_ready] = c
            n_ready += 1
    return n_ready


@njit(cache=True, inline="always")
def _start(i, ki, now, unit, busy, lead, dram, tiles, wid, hit_busy, wbytes, cache_cap, cache_used, c_in, c_prev,
           c_next, c_head, c_tail, nw, start, hit, act_key, act_left, act_tfirst, fst, ist, ht, he, hp, bw):
    """Piece ``i`` (cost key ``ki``) takes its unit at ``now`` (the reference's ``Reference.piece`` from its
    start)."""
    start[i] = now
    nbytes = dram[ki]
    if nbytes <= 0.0:
        _push(ht, he, hp, ist, now + busy[ki], i * 2 + _DONE)
        return
    w = wid[ki]
    if w >= 0:
        core = unit[ki] // UNITS_PER_CORE
        base = core * nw
        if c_in[base + w]:  # still in this core's scratchpad: move to the most recent end, no DRAM traffic
            if c_tail[core] != w:
                p = c_prev[base + w]
                q = c_next[base + w]
                if p >= 0:
                    c_next[base + p] = q
                else:
                    c_head[core] = q
                c_prev[base + q] = p
                t = c_tail[core]
                c_next[base + t] = w
                c_prev[base + w] = t
                c_next[base + w] = -1
                c_tail[core] = w
            hit[i] = True
            _push(ht, he, hp, ist, now + hit_busy[ki], i * 2 + _DONE)
            return
        size = wbytes[w]
        cap = cache_cap[core]
        if size <= cap:  # keep this copy; evict least recently used weights to fit
            while c_head[core] >= 0 and cache_used[core] + size > cap:
                h = c_head[core]
                cache_used[core] -= wbytes[h]
                q = c_next[base + h]
                c_in[base + h] = False
                c_head[core] = q
                if q >= 0:
                    c_prev[base + q] = -1
                else:
                    c_tail[core] = -1
            t = c_tail[core]
            c_in[base + w] = True
            c_prev[base + w] = t
            c_next[base + w] = -1
            if t >= 0:
                c_next[base + t] = w
            else:
                c_head[core] = w
            c_tail[core] = w
            cache_used[core] += size
    # one DRAM transfer of all bytes, sharing the channel from now on
    _dram_advance(now, fst, ist, act_left, bw)
    na = ist[_NACTIVE]
    act_key[na] = i
    act_left[na] = nbytes
    ist[_NACTIVE] = na + 1
    _dram_reschedule(now, fst, ist, act_left, bw)
    act_tfirst[na] = now + lead[ki] + nbytes / tiles[ki] * (na + 1) / bw


@njit(cache=True, _nrt=False)
def _loop(ready_buf, ended_buf, key, unit, free, busy, lead, compute, dram, tiles, wid, hit_busy, wbytes,
          cache_cap, cache_used, c_in, c_prev, c_next, c_head, c_tail, nw, start, end, hit, blocker, ndeps,
          act_key, act_left, act_tfirst, done_key, done_tf, fst, ist, ht, he, hp, bw, wheap, woff, wsize, wdemand,
          wroom_min, kid_ptr, kids, kid_delay, n_edges, plink_ptr, plinks, l_child, l_ccnt, l_parent, l_diag,
          link_cycles, out_cycles, clock_hz, gate, utt, utt_last, utt_left, n_utt, gated_ptr, gated, slots,
          most_children, most_gated, any_heap, any_ready):  # pragma: no cover - compiled
    """The event loop of :func:`_play` over its state arrays (compiled without reference counting: it
    allocates nothing, and counting every array handed to the inlined helpers cost ~40 % of its time). A
    piece's ready time (its last input's arrival) is kept in its ``start`` slot until it starts.

    Returns 0 when the run is over; else it stopped at a point where it can resume (its scalars saved in
    ``ist``/``fst``) because the event heap (bit 1), ``ready_buf`` (bit 2) or a unit's waiting heap (bit 4)
    may not hold what comes next: the caller grows them and calls again. Before an issue step the heap must
    hold one more event per piece it starts and each unit's waiting heap its ready pieces; before each event,
    what that event can schedule and make ready (``slots``: unit slots; ``most_children``: the most children of
    a link; ``most_gated``: the most pieces an utterance's end releases; ``any_heap`` and ``any_ready``: the
    most any event can)."""
    hcap = len(ht)
    rcap = len(ready_buf)
    n_ready = ist[_NREADY]
    n_ended = ist[_NENDED]
    inside = ist[_RESUME] == 1  # resume inside an instant (else at its issue step)
    first = ist[_FIRST] != 0
    now = fst[_NOW]
    while True:
        if not inside:
            short = 1 if ist[_HSIZE] + n_ready + n_ended > hcap else 0
            if (n_ready > 0 and ist[_WMAX] + n_ready > wroom_min
                    and not _wroom(ready_buf, n_ready, key, unit, woff, wsize, wdemand)):
                short += 4
            if short:
                ist[_NREADY] = n_ready
                ist[_NENDED] = n_ended
                ist[_RESUME] = 0
                fst[_NOW] = now
                return short
            # -- the issue step of instant `now`: ready pieces take free slots or queue, in piece-id order;
            # then each piece that ended hands its slot to the lowest-id waiting piece, in piece-id order
            if n_ready > 0:
                if n_ready > 1:
                    _sort_ids(ready_buf, n_ready)
                for k in range(n_ready):
                    c = ready_buf[k]
                    kc = key[c]
                    u = unit[kc]
                    if free[u] > 0:
                        free[u] -= 1
                        _start(c, kc, now, unit, busy, lead, dram, tiles, wid, hit_busy, wbytes, cache_cap,
                               cache_used, c_in, c_prev, c_next, c_head, c_tail, nw, start, hit, act_key, act_left,
                               act_tfirst, fst, ist, ht, he, hp, bw)
                    else:
                        _wpush(wheap, woff, wsize, u, c)
                        if wsize[u] > ist[_WMAX]:
                            ist[_WMAX] = wsize[u]  # the longest queue so far
                n_ready = 0
            if n_ended > 0:
                if n_ended > 1:
                    _sort_ids(ended_buf, n_ended)
                for k in range(n_ended):
                    i = ended_buf[k]
                    u = unit[key[i]]
                    if wsize[u] > 0:
                        j = _wpop(wheap, woff, wsize, u)
                        if start[j] < now:
                            blocker[j] = i  # held up by this piece occupying the unit
                        _start(j, key[j], now, unit, busy, lead, dram, tiles, wid, hit_busy, wbytes, cache_cap,
                               cache_used, c_in, c_prev, c_next, c_head, c_tail, nw, start, hit, act_key, act_left,
                               act_tfirst, fst, ist, ht, he, hp, bw)
                    else:
                        free[u] += 1
                n_ended = 0
            # -- the next instant: everything that happens then (in any order: the outcome does not depend on it)
            if ist[_HSIZE] == 0 and ist[_DRAM_ARMED] == 0:
                return 0
            if ist[_DRAM_ARMED] != 0 and (ist[_HSIZE] == 0 or fst[_DRAM_T] <= ht[0]):
                now = fst[_DRAM_T]
            else:
                now = ht[0]
            first = True  # the first event is taken even if its time is not finite (the run then ends in finite
            # steps)
        inside = False
        while True:
            if first:
                take_dram = ist[_DRAM_ARMED] != 0 and (ist[_HSIZE] == 0 or fst[_DRAM_T] <= ht[0])
            else:
                take_dram = ist[_DRAM_ARMED] != 0 and fst[_DRAM_T] == now
            if not take_dram and (ist[_HSIZE] == 0 or (ht[0] != now and not first)):
                break
            # room for what the next event can schedule (heap) and make ready: a DRAM completion, one event
            # per finished transfer (one per slot at most); a piece's end, one per child it has (its links'
            # children at most) and the pieces its utterance's end releases. Checked against the bound of
            # any event first (most often enough), then against this event's own
            if ist[_HSIZE] + any_heap > hcap or n_ready + any_ready > rcap:
                if take_dram:
                    need_heap = slots
                    need_ready = 0
                else:
                    i = hp[0] >> 1
                    if hp[0] & 1 == _READY:
                        need_heap = 0
                        need_ready = 1
                    else:
                        need_heap = (plink_ptr[i + 1] - plink_ptr[i]) * most_children
                        if n_edges > 0:
                            need_heap += kid_ptr[i + 1] - kid_ptr[i]
                        need_ready = need_heap + most_gated
                if ist[_HSIZE] + need_heap > hcap or n_ready + need_ready > rcap:
                    ist[_NREADY] = n_ready
                    ist[_NENDED] = n_ended
                    ist[_RESUME] = 1
                    ist[_FIRST] = 1 if first else 0
                    fst[_NOW] = now
                    return (1 if ist[_HSIZE] + need_heap > hcap else 0) + (2 if n_ready + need_ready > rcap else 0)
            if take_dram:
                first = False
                # the transfer with the fewest bytes left is done; so is any other within _DRAM_DONE_BYTES
                _dram_advance(now, fst, ist, act_left, bw)
                best = ist[_DRAM_BEST]
                act_left[best] = 0.0
                na = ist[_NACTIVE]
                nd = 0
                keep = 0
                for a in range(na):
                    if a == best or (na > 1 and act_left[a] <= _DRAM_DONE_BYTES):
                        done_key[nd] = act_key[a]
                        done_tf[nd] = act_tfirst[a]
                        nd += 1
                    else:
                        act_key[keep] = act_key[a]
                        act_left[keep] = act_left[a]
                        act_tfirst[keep] = act_tfirst[a]
                        keep += 1
                ist[_NACTIVE] = keep
                _dram_reschedule(now, fst, ist, act_left, bw)
                for d in range(nd):
                    i = done_key[d]
                    ki = key[i]
                    if unit[ki] % UNITS_PER_CORE == DMA_LOCAL_UNIT:
                        _push(ht, he, hp, ist, now + lead[ki], i * 2 + _DONE)
                    else:
                        a = done_tf[d] + compute[ki]
                        b = now + lead[ki] + compute[ki] / tiles[ki]
                        t_end = b if b > a else a
                        _push(ht, he, hp, ist, now + (t_end - now), i * 2 + _DONE)
                continue
            first = False
            payload = hp[0]
            _pop(ht, he, hp, ist)
            i = payload >> 1
            if payload & 1 == _READY:  # its last input has arrived
                ready_buf[n_ready] = i
                n_ready += 1
                continue
            # piece i ends: its results leave for its children, its utterance count drops, its slot is freed
            # in the issue step
            end[i] = now
            ist[_COMPLETED] += 1
            ended_buf[n_ended] = i
            n_ended += 1
            for e in range(kid_ptr[i] if n_edges > 0 else 0, kid_ptr[i + 1] if n_edges > 0 else 0):
                n_ready = _arrive(kids[e], i, now, now + kid_delay[e], start, blocker, end, ndeps, ht, he, hp, ist,
                                  ready_buf, n_ready)
            ki = key[i]
            ci = unit[ki] // UNITS_PER_CORE
            for e in range(plink_ptr[i], plink_ptr[i + 1]):
                k = plinks[e]
                lo = l_child[k]
                hi = lo + l_ccnt[k]
                if l_diag[k]:
                    lo += i - l_parent[k]
                    hi = lo + 1
                for c in range(lo, hi):
                    cc = unit[key[c]] // UNITS_PER_CORE
                    delay = 0.0 if cc == ci else (link_cycles[ci, cc] + out_cycles[ki]) / clock_hz
                    n_ready = _arrive(c, i, now, now + delay, start, blocker, end, ndeps, ht, he, hp, ist,
                                      ready_buf, n_ready)
            if gate:
                r = utt[i]
                last = utt_last[r]
                if last < 0 or now > end[last] or i > last:
                    utt_last[r] = i
                utt_left[r] -= 1
                if utt_left[r] == 0 and r + 1 < n_utt:
                    for g in range(gated_ptr[r + 1], gated_ptr[r + 2]):
                        c = gated[g]
                        start[c] = now
                        blocker[c] = utt_last[r]
                        ndeps[c] -= 1
                        if ndeps[c] == 0:
                            ready_buf[n_ready] = c
                            n_ready += 1


@njit(cache=True)
def _grown(a, size, cap):
    """A copy of ``a[:size]`` with room for ``cap`` entries."""
    out = np.empty(cap, a.dtype)
    out[:size] = a[:size]
    return out


@njit(cache=True)
def _wroom_min(woff, unit_pieces):
    """The least room of a unit's waiting heap among units that may still grow (no check needed while the
    longest queue so far plus the pieces ready at an instant stay below it)."""
    least = 2**62
    for u in range(len(unit_pieces)):
        cap = woff[u + 1] - woff[u]
        if cap < unit_pieces[u] and cap < least:
            least = cap
    return least


@njit(cache=True)
def _wgrown(wheap, woff, wsize, unit_pieces, n_ready):
    """The units' waiting heaps laid out anew, each with room for ``n_ready`` more pieces (doubling at least,
    at most the unit's piece count); returns (wheap, woff)."""
    n_units = len(wsize)
    off = np.zeros(n_units + 1, np.int64)
    for u in range(n_units):
        cap = woff[u + 1] - woff[u]
        if wsize[u] + n_ready > cap:
            cap = min(unit_pieces[u], max(2 * cap, wsize[u] + n_ready))
        off[u + 1] = off[u] + cap
    out = np.empty(off[n_units], wheap.dtype)
    for u in range(n_units):
        out[off[u]:off[u] + wsize[u]] = wheap[woff[u]:woff[u] + wsize[u]]
    return out, off


@njit(cache=True)
def _play(key, unit, busy, lead, compute, dram, tiles, wid, hit_busy, dep_ptr, dep_src, dep_delay, capacity, wbytes,
          cache_cap, bw, utt, gate, l_child, l_ccnt, l_parent, l_pcnt, l_diag, out_cycles, link_cycles, clock_hz,
          min_buffer):  # pragma: no cover - compiled
    """Play a plan (arrays as :func:`play_fast` hands them); returns start, end, blocker, hit and the count of
    pieces that ended. Piece ids are int32 (``play_fast`` refuses larger plans)."""
    n = len(key)
    n_units = len(capacity)
    n_edges = len(dep_src)
    start = np.zeros(n, np.float64)
    end = np.zeros(n, np.float64)
    blocker = np.full(n, -1, np.int32)
    hit = np.zeros(n, np.bool_)
    ndeps = np.zeros(n, np.int32)
    # children CSR of the explicit edges: for each parent, its (child, delay) edges in child order then edge
    # order (not allocated when the plan has none: its dependencies are links)
    kid_ptr = np.zeros(n + 1 if n_edges > 0 else 1, np.int64)
    kids = np.empty(n_edges, np.int32)
    kid_delay = np.empty(n_edges, np.float64)
    if n_edges > 0:
        for e in range(n_edges):
            kid_ptr[dep_src[e] + 1] += 1
        for i in range(n):
            kid_ptr[i + 1] += kid_ptr[i]
        for c in range(n):  # kid_ptr[p] runs from p's first edge to its end (= the next one's first) ...
            ndeps[c] = dep_ptr[c + 1] - dep_ptr[c]
            for e in range(dep_ptr[c], dep_ptr[c + 1]):
                p = dep_src[e]
                kids[kid_ptr[p]] = c
                kid_delay[kid_ptr[p]] = dep_delay[e]
                kid_ptr[p] += 1
        for i in range(n, 0, -1):  # ... and back
            kid_ptr[i] = kid_ptr[i - 1]
        kid_ptr[0] = 0
    # links: for each parent piece, the links it is a parent of (in link order); children count their parents
    n_links = len(l_child)
    plink_ptr = np.zeros(n + 1, np.int32)  # (play_fast: fewer than 2**31 parent-link pairs)
    for k in range(n_links):
        per = 1 if l_diag[k] else l_pcnt[k]
        for c in range(l_child[k], l_child[k] + l_ccnt[k]):
            ndeps[c] += per
        for p in range(l_parent[k], l_parent[k] + l_pcnt[k]):
            plink_ptr[p + 1] += 1
    for i in range(n):
        plink_ptr[i + 1] += plink_ptr[i]
    plinks = np.empty(plink_ptr[n], np.int32)  # link ids (check_playable: fewer than 2**31)
    for k in range(n_links):  # plink_ptr[p] runs from p's first link to its end ...
        for p in range(l_parent[k], l_parent[k] + l_pcnt[k]):
            plinks[plink_ptr[p]] = k
            plink_ptr[p] += 1
    for i in range(n, 0, -1):  # ... and back
        plink_ptr[i] = plink_ptr[i - 1]
    plink_ptr[0] = 0
    most_children = 1
    for k in range(n_links):
        if l_ccnt[k] > most_children:
            most_children = l_ccnt[k]
    # utterance gating: pieces of rank r + 1 without parents wait for the last piece of rank r
    n_utt = 0
    if gate:
        for i in range(n):
            if utt[i] + 1 > n_utt:
                n_utt = utt[i] + 1
    utt_left = np.zeros(n_utt, np.int64)
    gated_ptr = np.zeros(n_utt + 1, np.int64)
    if gate:
        for i in range(n):
            utt_left[utt[i]] += 1
            if ndeps[i] == 0 and utt[i] > 0:
                gated_ptr[utt[i] + 1] += 1
        for r in range(n_utt):
            gated_ptr[r + 1] += gated_ptr[r]
    gated = np.empty(gated_ptr[n_utt], np.int32)
    most_gated = 0  # the most pieces one utterance's end releases
    if gate:
        for r in range(n_utt):
            if gated_ptr[r + 1] - gated_ptr[r] > most_gated:
                most_gated = gated_ptr[r + 1] - gated_ptr[r]
        for i in range(n):  # gated_ptr[r] runs over rank r's gated pieces ...
            if ndeps[i] == 0 and utt[i] > 0:
                gated[gated_ptr[utt[i]]] = i
                gated_ptr[utt[i]] += 1
                ndeps[i] = 1
        for r in range(n_utt, 0, -1):  # ... and back
            gated_ptr[r] = gated_ptr[r - 1]
        gated_ptr[0] = 0
    # units: free slots and waiting min-heaps (segment woff[u]:woff[u + 1] of wheap per unit, grown as the
    # loop asks for it up to the unit's piece count)
    free = capacity.copy()
    unit_pieces = np.zeros(n_units, np.int64)
    for i in range(n):
        unit_pieces[unit[key[i]]] += 1
    woff = np.zeros(n_units + 1, np.int64)
    for u in range(n_units):
        woff[u + 1] = woff[u] + min(unit_pieces[u], min_buffer)
    wheap = np.empty(woff[n_units], np.int32)
    wsize = np.zeros(n_units, np.int64)
    wdemand = np.zeros(n_units, np.int64)
    # reuse caches: per core an LRU list over weight ids
    cores = len(cache_cap)
    nw = len(wbytes)
    c_in = np.zeros(cores * nw, np.bool_)
    c_prev = np.full(cores * nw, -1, np.int64)
    c_next = np.full(cores * nw, -1, np.int64)
    c_head = np.full(cores, -1, np.int64)
    c_tail = np.full(cores, -1, np.int64)
    cache_used = np.zeros(cores, np.float64)
    # DRAM channel: active transfers in arrival order (at most one per unit slot)
    slots = 0
    for u in range(n_units):
        slots += capacity[u]
    act_key = np.empty(slots, np.int64)
    act_left = np.empty(slots, np.float64)
    act_tfirst = np.empty(slots, np.float64)
    done_key = np.empty(slots, np.int64)
    done_tf = np.empty(slots, np.float64)
    # per instant: the pieces that became ready and those that ended (settled by the issue step, in id order);
    # the pieces that end in one instant each hold a unit slot until its issue step
    ended_buf = np.empty(slots + 1, np.int32)
    n_ready = 0
    for i in range(n):
        if ndeps[i] == 0:
            n_ready += 1
    ready_buf = np.empty(max(min_buffer, n_ready), np.int32)
    n_ready = 0
    for i in range(n):
        if ndeps[i] == 0:
            ready_buf[n_ready] = i
            n_ready += 1
    # event heap (a piece has at most one pending event), grown as the loop asks for it; scalar state
    any_heap = slots  # the most events one event can schedule
    for i in range(n):
        f = (plink_ptr[i + 1] - plink_ptr[i]) * most_children
        if n_edges > 0:
            f += kid_ptr[i + 1] - kid_ptr[i]
        if f > any_heap:
            any_heap = f
    any_ready = any_heap + most_gated + 1  # the most pieces one event can make ready
    if len(ready_buf) < n_ready + any_ready:
        ready_buf = _grown(ready_buf, n_ready, n_ready + any_ready)
    cap = max(min_buffer, any_heap + slots + n_ready)
    ht = np.empty(cap, np.float64)
    he = np.empty(cap, np.int64)
    hp = np.empty(cap, np.int64)
    ist = np.zeros(_IST_SLOTS, np.int64)
    fst = np.zeros(_FST_SLOTS, np.float64)
    ist[_NREADY] = n_ready
    utt_last = np.full(n_utt, -1, np.int64)  # per rank, the piece that ended last (ties: highest id)
    while True:
        short = _loop(ready_buf, ended_buf, key, unit, free, busy, lead, compute, dram, tiles, wid, hit_busy, wbytes,
                      cache_cap, cache_used, c_in, c_prev, c_next, c_head, c_tail, nw, start, end, hit, blocker,
                      ndeps, act_key, act_left, act_tfirst, done_key, done_tf, fst, ist, ht, he, hp, bw, wheap, woff,
                      wsize, wdemand, _wroom_min(woff, unit_pieces), kid_ptr, kids, kid_delay, n_edges, plink_ptr,
                      plinks, l_child, l_ccnt, l_parent, l_diag, link_cycles, out_cycles, clock_hz, gate, utt,
                      utt_last, utt_left, n_utt, gated_ptr, gated, slots, most_children, most_gated,
                      any_heap, any_ready)
        if short == 0:
            break
        if short & 1:
            size = ist[_HSIZE]
            cap = 2 * len(ht)
            ht = _grown(ht, size, cap)
            he = _grown(he, size, cap)
            hp = _grown(hp, size, cap)
        if short & 2:
            ready_buf = _grown(ready_buf, ist[_NREADY], 2 * len(ready_buf))
        if short & 4:
            wheap, woff = _wgrown(wheap, woff, wsize, unit_pieces, ist[_NREADY])
    return start, end, blocker, hit, ist[_COMPLETED]


#: the least room the engine's event heap and ready list start with (entries; they grow as needed)
MIN_BUFFER = 4096
#: piece ids, pointers and link counts the compiled engine takes (play_fast converts what differs)
MAX_PIECES = 2**31 - 2


def check_playable(plan: Plan) -> None:
    """Raise ValueError unless the compiled loop can index every array of ``plan`` safely."""
    if plan.notes.get("dependencies") == "dropped":
        raise ValueError("plan: its dependencies were dropped after it was played (Built.without_dependencies)")
    plan.check()
    if len(plan.dep_src) and (plan.dep_ptr[1:] < plan.dep_ptr[:-1]).any():  # (no int64 diff temporary)
        raise ValueError("plan: dep_ptr must be non-decreasing")
    if len(plan.cache_bytes) != plan.cores:
        raise ValueError(f"plan: cache_bytes has {len(plan.cache_bytes)} entries, expected one per core ({plan.cores})")
    if plan.keys and (plan.weight_id.max() >= len(plan.weight_bytes)):
        raise ValueError("plan: weight_id beyond weight_bytes")
    if plan.n > MAX_PIECES:
        raise ValueError(f"plan: {plan.n} pieces; the fast engine plays at most {MAX_PIECES} (int32 piece ids)")
    if plan.links is not None:
        lk = plan.links
        if lk.n >= 2**31:
            raise ValueError("plan: at most 2**31 - 1 links")
        if lk.n and int(lk.parent_cnt.sum(dtype=np.int64)) >= 2**31:
            raise ValueError("plan: the links name at most 2**31 - 1 parents in all (int32 pointers)")
    if plan.utt_rank is not None:
        if len(plan.utt_rank) != plan.n:
            raise ValueError(f"plan: utt_rank has {len(plan.utt_rank)} rows, expected {plan.n}")
        if plan.n and plan.utt_rank.min() < 0:
            raise ValueError("plan: utt_rank must be >= 0")
        if plan.n and not np.bincount(plan.utt_rank).all():  # a count per rank (np.unique would sort them)
            raise ValueError("plan: utt_rank must be dense (every rank from 0 to the largest holds a piece)")


def _as(a: np.ndarray, dtype) -> np.ndarray:
    """``a`` in ``dtype``, contiguous (itself when it already is: a built plan's columns are)."""
    return np.ascontiguousarray(a, dtype=dtype)


def _small(count: int) -> type:
    """int16 for ids ``0 .. count - 1`` when they fit (cost keys and utterance ranks mostly do), else int32."""
    return np.int16 if count < 2**15 else np.int32


def _counts(a: np.ndarray) -> np.ndarray:
    """Link child/parent counts as int16 when they fit (a built plan's are), else int32."""
    if a.dtype == np.int16 or not len(a) or int(a.max()) < 2**15:
        return _as(a, np.int16)
    return _as(a, np.int32)


def play_fast(plan: Plan) -> Played:
    """Play ``plan`` out in time with the compiled engine; identical to the reference engine, bit for bit.
    The engine's arrays: piece, unit and weight ids int32, cost keys, utterance ranks and link counts int16
    where they fit (else int32), times float64; a plan in other dtypes is converted (one built by
    :func:`accelsim.map.build.build_plan` already holds these, bar its few per-key rows)."""
    check_playable(plan)
    f64, i32 = np.float64, np.int32
    gate = plan.utt_rank is not None and plan.n > 0
    utt = _as(plan.utt_rank, _small(int(plan.utt_rank.max()) + 1)) if gate else np.zeros(0, np.int16)
    lk = plan.links if plan.links is not None else Links.empty(plan.n, plan.cores)
    kdt = _small(plan.keys)
    key = _as(plan.piece_key, kdt) if plan.piece_key is not None else np.arange(plan.n, dtype=kdt)
    if len(plan.dep_src):
        dep = (_as(plan.dep_ptr, np.int64), _as(plan.dep_src, i32), _as(plan.dep_delay_s, f64))
    else:  # no explicit edges (a built plan's dependencies are links): nothing to convert
        dep = (np.zeros(1, np.int64), np.zeros(0, i32), np.zeros(0, f64))
    start, end, blocker, hit, completed = _play(
        key, _as(plan.unit, i32), _as(plan.busy_s, f64), _as(plan.lead_s, f64), _as(plan.compute_s, f64),
        _as(plan.dram_bytes, f64), _as(plan.tiles, f64), _as(plan.weight_id, i32), _as(plan.hit_busy_s, f64), *dep,
        _as(plan.unit_capacity, np.int64), _as(plan.weight_bytes, f64), _as(plan.cache_bytes, f64),
        float(plan.bandwidth_Bps), utt, gate, _as(lk.child_lo, i32), _counts(lk.child_cnt), _as(lk.parent_lo, i32),
        _counts(lk.parent_cnt), _as(lk.diagonal, np.bool_), _as(lk.out_cycles, f64), _as(lk.link_cycles, f64),
        float(lk.clock_hz), MIN_BUFFER)
    if completed != plan.n:
        raise RuntimeError(f"simulation stalled: {completed} of {plan.n} ops finished (dependency cycle?)")
    return Played(start_s=start, end_s=end, blocker=blocker, hit=hit)


@njit(cache=True)
def _chain(blocker, last):
    n = 0
    i = last
    while i >= 0 and n <= len(blocker):
        n += 1
        i = blocker[i]
    out = np.empty(n, np.int64)
    i = last
    for k in range(n):
        out[k] = i
        i = blocker[i]
    return out


def blocker_chain(blocker: np.ndarray, last: int) -> np.ndarray:
    """Piece ids ``last, blocker[last], blocker[blocker[last]], ...`` up to the first -1 (compiled walk)."""
    blocker = np.ascontiguousarray(blocker)
    if blocker.dtype not in (np.int32, np.int64):  # (the engines' blockers are int32: no copy)
        blocker = blocker.astype(np.int64)
    if len(blocker) and (blocker.max() >= len(blocker) or blocker.min() < -1):
        raise ValueError("blocker ids out of range")
    out = _chain(blocker, int(last))
    if len(out) > len(blocker):
        raise ValueError("blocker links form a cycle")
    return out
