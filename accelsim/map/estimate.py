"""The search's pure cost model of a plan (no contention simulated): what ranks candidate mappings.

:func:`estimate_s` is the longest path over the plan's pieces (each at its idle-chip cost, a streamed matmul
weight at its on-chip cost when an LRU model of its core's reuse space, replayed in the order the pieces would
start on a contention-free chip, still holds it), at least the busiest unit's total and the DRAM bytes over
the bandwidth. The two loops over pieces are compiled with numba (``cache=True``), as the fast engine is.
"""

from __future__ import annotations

import numpy as np

from accelsim.jit import njit

from accelsim.map.build import Built
from accelsim.map.plan import UNITS_PER_CORE
from accelsim.spec.schema import ArchSpec


@njit(cache=True)
def longest_path_end_s(dep_ptr, dep_src, dep_delay_s, busy_s):  # pragma: no cover - compiled
    """Earliest end of every piece with unbounded units: its parents' ends plus transfer delays, plus its
    busy time, s (pieces are topologically ordered: parents come first)."""
    n = len(busy_s)
    end = np.empty(n)
    for i in range(n):
        s = 0.0
        for k in range(dep_ptr[i], dep_ptr[i + 1]):
            t = end[dep_src[k]] + dep_delay_s[k]
            if t > s:
                s = t
        end[i] = s + busy_s[i]
    return end


@njit(cache=True)
def lru_hits(order, core, weight_id, weight_bytes, cache_bytes, n_cores):  # pragma: no cover - compiled
    """Which reads (pieces ``order``, in that order) find their weight in their core's LRU reuse space of
    ``cache_bytes[core]`` bytes (a weight larger than the space is never kept)."""
    nw = len(weight_bytes)
    last_use = np.zeros((n_cores, nw), dtype=np.int64)  # 0: not held; else the tick of its last use
    used = np.zeros(n_cores)
    hit = np.zeros(len(order), dtype=np.bool_)
    tick = 0
    for r in range(len(order)):
        i = order[r]
        c = core[i]
        w = weight_id[i]
        tick += 1
        if last_use[c, w] > 0:
            last_use[c, w] = tick
            hit[r] = True
            continue
        size = weight_bytes[w]
        if size <= cache_bytes[c]:
            while used[c] + size > cache_bytes[c]:
                old = -1
                for v in range(nw):  # least recently used
                    if last_use[c, v] > 0 and (old < 0 or last_use[c, v] < last_use[c, old]):
                        old = v
                if old < 0:  # nothing left to evict (rounding residue in ``used``)
                    used[c] = 0.0
                    break
                last_use[c, old] = 0
                used[c] -= weight_bytes[old]
            last_use[c, w] = tick
            used[c] += size
    return hit


def estimate_s(built: Built, arch: ArchSpec) -> float:
    """Pure cost model of a plan, s (module docstring)."""
    plan = built.plan.expanded()
    n = plan.n
    busy = plan.busy_s.copy()
    dram = plan.dram_bytes.copy()
    wid = plan.weight_id
    edges = plan.edges()
    if arch.scheduler.weight_reuse and (wid >= 0).any():
        end0 = longest_path_end_s(edges.ptr, edges.src, edges.delay_s, busy)
        start0 = end0 - busy
        reads = np.flatnonzero(wid >= 0)
        order = reads[np.argsort(start0[reads], kind="stable")]
        core = (plan.unit // UNITS_PER_CORE).astype(np.int64)
        hit = order[lru_hits(order, core, wid, plan.weight_bytes, plan.cache_bytes, plan.cores)]
        busy[hit] = plan.hit_busy_s[hit]
        dram[hit] = 0.0
    path = float(longest_path_end_s(edges.ptr, edges.src, edges.delay_s, busy).max()) if n else 0.0
    unit_load = np.bincount(plan.unit, weights=busy, minlength=len(plan.unit_capacity)) / plan.unit_capacity
    return float(max(path, unit_load.max(initial=0.0), dram.sum() / plan.bandwidth_Bps))
