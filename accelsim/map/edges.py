"""Dependency edges between pieces, with their core-to-core delays, built in one compiled pass (numba).

A split op's pieces each wait for every output piece of each producer (an all-gather: ``g x g`` edges per
trace dependency), so a searched plan holds several edges per op; building them with numpy temporaries
(one array per step, each as long as the edge list) cost more memory than the plan itself. This kernel
writes the child-sorted CSR directly, in two passes (count, fill). Edge order within a child: its trace
dependencies in trace order (each producer's output pieces in order), then the stream it must follow
(``after``), then the previous op (``overlap: none``), then the start-up load of its pinned weight -- the
order :func:`accelsim.map.build.build_plan` documents.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def _walk(fill, ptr, src, delay, n_load, p0, in_cnt, out_start, out_cnt, local_op, g_eff, stream, is_mm,
          dep_ptr, dep_src, has_reduce, after_op, overlap_none, load_of_piece, core_all, out_bytes_all, hops,
          sync_cycles, hop_cycles, bytes_per_cycle, clock_hz):  # pragma: no cover - compiled
    n = len(in_cnt)
    count = np.zeros(len(core_all), dtype=np.int64)
    for d in range(n):
        for b in range(in_cnt[d]):
            q = n_load + p0[d] + b
            for k in range(dep_ptr[d], dep_ptr[d + 1]):
                s = dep_src[k]
                local = (local_op[s] and local_op[d] and not is_mm[d] and g_eff[s] == g_eff[d] and g_eff[d] > 1
                         and stream[s] == stream[d])
                if local:
                    lo, hi = out_start[s] + b, out_start[s] + b + 1
                else:
                    lo, hi = out_start[s], out_start[s] + out_cnt[s]
                for r in range(lo, hi):
                    _emit(fill, ptr, src, delay, count, q, n_load + r,
                          core_all, out_bytes_all, hops, sync_cycles, hop_cycles, bytes_per_cycle, clock_hz)
            lp = after_op[d]
            if lp >= 0:
                for r in range(p0[lp], p0[lp + 1]):
                    _emit(fill, ptr, src, delay, count, q, n_load + r,
                          core_all, out_bytes_all, hops, sync_cycles, hop_cycles, bytes_per_cycle, clock_hz)
            if overlap_none and d > 0:
                for r in range(p0[d - 1], p0[d]):
                    _emit(fill, ptr, src, delay, count, q, n_load + r,
                          core_all, out_bytes_all, hops, sync_cycles, hop_cycles, bytes_per_cycle, clock_hz)
            li = load_of_piece[p0[d] + b]
            if li >= 0:
                _emit(fill, ptr, src, delay, count, q, li,
                      core_all, out_bytes_all, hops, sync_cycles, hop_cycles, bytes_per_cycle, clock_hz)
        if has_reduce[d]:  # partial sums -> their reduce piece
            q = n_load + p0[d + 1] - 1
            for a in range(g_eff[d]):
                _emit(fill, ptr, src, delay, count, q, n_load + p0[d] + a,
                      core_all, out_bytes_all, hops, sync_cycles, hop_cycles, bytes_per_cycle, clock_hz)
    return count


@numba.njit(cache=True, inline="always")
def _emit(fill, ptr, src, delay, count, child, parent, core_all, out_bytes_all, hops, sync_cycles, hop_cycles,
          bytes_per_cycle, clock_hz):  # pragma: no cover - compiled
    """Edge parent -> child: counted (first pass) or written with its delay at the child's next slot."""
    e = ptr[child] + count[child] if fill else 0
    count[child] += 1
    if not fill:
        return
    src[e] = parent
    a, b = core_all[parent], core_all[child]
    if a == b:
        delay[e] = 0.0
    else:
        cycles = sync_cycles + hops[a, b] * hop_cycles + np.ceil(out_bytes_all[parent] / bytes_per_cycle)
        delay[e] = cycles / clock_hz


@numba.njit(cache=True)
def piece_edges(n_load, p0, in_cnt, out_start, out_cnt, local_op, g_eff, stream, is_mm, dep_ptr, dep_src,
                has_reduce, after_op, overlap_none, load_of_piece, core_all, out_bytes_all, hops, sync_cycles,
                hop_cycles, bytes_per_cycle, clock_hz):  # pragma: no cover - compiled
    """(dep_ptr, dep_src, dep_delay_s) over all pieces (loads first): CSR by child (module docstring)."""
    empty_i = np.zeros(0, dtype=np.int64)
    empty_f = np.zeros(0)
    count = _walk(False, empty_i, empty_i, empty_f, n_load, p0, in_cnt, out_start, out_cnt, local_op, g_eff,
                  stream, is_mm, dep_ptr, dep_src, has_reduce, after_op, overlap_none, load_of_piece, core_all,
                  out_bytes_all, hops, sync_cycles, hop_cycles, bytes_per_cycle, clock_hz)
    ptr = np.zeros(len(count) + 1, dtype=np.int64)
    for i in range(len(count)):
        ptr[i + 1] = ptr[i] + count[i]
    src = np.empty(ptr[-1], dtype=np.int64)
    delay = np.empty(ptr[-1])
    _walk(True, ptr, src, delay, n_load, p0, in_cnt, out_start, out_cnt, local_op, g_eff, stream, is_mm, dep_ptr,
          dep_src, has_reduce, after_op, overlap_none, load_of_piece, core_all, out_bytes_all, hops, sync_cycles,
          hop_cycles, bytes_per_cycle, clock_hz)
    return ptr, src, delay
