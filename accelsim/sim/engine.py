"""The discrete-event engine: per-core units as servers, dependencies, a shared DRAM channel, on simpy.

Each core has three units -- ``matrix`` (capacity 1), ``vector``/SFU (capacity 1) and ``dma`` (capacity
``dma.engines``, embedding lookups). An op becomes *ready* when its last dependency has finished and that
result has reached its core (core-to-core transfer time, :func:`accelsim.cost.core_transfer_seconds`); it
*starts* when its unit has a free slot. Waiting ops of a unit start in op-id order (issue order), which
also breaks every same-time tie deterministically. An op without DRAM traffic holds its unit for exactly
its pure cost (one event).

An op that streams weights holds its unit while its bytes cross the shared DRAM channel (one transfer,
issued when the op starts) and it computes on tiles as they arrive (double buffering): it ends at
``max(first_tile + compute, last_byte + lead + compute / tiles)``, where ``lead`` is dispatch + DMA setup +
DRAM latency and ``first_tile = start + lead + one tile at the bandwidth share at issue``. On an idle
channel this equals :func:`accelsim.cost.streamed_seconds` exactly. The DRAM channel is a processor-sharing
server: concurrent transfers (from any core) share the bandwidth equally, which is how off-chip contention
slows cores that stream at the same time.

Weight reuse: a streamed matmul weight that fits in the scratchpad space its core has not pinned is kept
there after use (least-recently-used eviction), so the next op on that core reading the same weight -- the
next frame of the same encoder layer, say -- finds it on chip and costs its on-chip (resident) time with no
DRAM traffic. In ``sequential`` utterance mode the ops of utterance ``u + 1`` that have no dependencies are
released when the last op of utterance ``u`` finishes.

Simulated time is in seconds. Besides start/end times the engine records each op's *blocker*: the op
whose completion let it start (its last-arriving dependency, the op that freed its unit, or the previous
utterance's last op); the result's critical-path attribution walks these links back from the end.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict

import numpy as np
import simpy
from simpy.events import NORMAL

from accelsim.map.plan import DMA_LOCAL_UNIT, UNITS_PER_CORE, Plan, Played


class _Wake:
    """A pre-triggered simpy event carrying one callback: what ``env.timeout(d)`` + a callback would be, minus
    the bookkeeping the engine does not need (``Environment.step`` only reads ``callbacks``, ``_ok``, ``_value``)."""

    __slots__ = ("callbacks", "_ok", "_value")

    def __init__(self, callback, value) -> None:
        self.callbacks = [callback]
        self._ok = True
        self._value = value


class _Dram:
    """Processor-sharing DRAM channel: ``n`` active transfers each progress at ``bandwidth / n`` bytes/s."""

    def __init__(self, env: simpy.Environment, bandwidth: float, on_done) -> None:
        self.env = env
        self.bw = bandwidth
        self.on_done = on_done
        self.active: dict[int, float] = {}
        self.last = 0.0
        self.version = 0

    def _advance(self) -> None:
        now = self.env._now
        active = self.active
        if active and now > self.last:
            served = (now - self.last) * self.bw / len(active)
            for key in active:
                active[key] -= served
        self.last = now

    def request(self, key: int, nbytes: float) -> None:
        self._advance()
        self.active[key] = nbytes
        self._reschedule()

    def _reschedule(self) -> None:
        self.version += 1
        if not self.active:
            return
        active = self.active
        if len(active) == 1:
            key, left = next(iter(active.items()))
        else:
            key = min(active, key=active.__getitem__)  # first of equal minima: earliest arrival
            left = active[key]
        self.env.schedule(_Wake(self._fire, (self.version, key)), NORMAL, max(0.0, left) * len(active) / self.bw)

    def _fire(self, ev) -> None:
        version, key = ev._value
        if version != self.version:
            return  # superseded by a later arrival or completion
        self._advance()
        active = self.active
        active[key] = 0.0  # the scheduled one is done by construction (no float residue)
        done = [k for k, left in active.items() if left <= 1e-3] if len(active) > 1 else [key]
        for k in done:  # and any that finish together (bytes)
            del active[k]
        self._reschedule()
        for k in done:  # in arrival order
            self.on_done(k)


class Engine:
    """One simulation run of a :class:`~accelsim.map.plan.Plan` (arrays indexed by piece id).

    Hot paths read ``env._now`` and call ``env.schedule`` with :class:`_Wake` events directly: the same
    simpy event queue and clock, without per-event process and property overhead.
    """

    def __init__(self, plan: Plan) -> None:
        n = plan.n
        self.n = n
        self.env = simpy.Environment()
        self._schedule = self.env.schedule
        self.unit = plan.unit.tolist()
        self.busy = plan.busy_s.tolist()
        self.lead = plan.lead_s.tolist()
        self.compute = plan.compute_s.tolist()
        self.dram = plan.dram_bytes.tolist()
        self.tiles = plan.tiles.tolist()
        # weight reuse cache per core (see _start): LRU over streamed weights in the scratchpad space that
        # pinned weights leave free
        self.wid = plan.weight_id.tolist()
        self.wbytes = plan.weight_bytes.tolist()
        self.hit_busy = plan.hit_busy_s.tolist()
        self.cache_cap = plan.cache_bytes.tolist()
        self.cache: list[OrderedDict[int, float]] = [OrderedDict() for _ in self.cache_cap]
        self.cache_used = [0.0] * len(self.cache_cap)
        self.hit = [False] * n
        capacity = plan.unit_capacity.tolist()
        self.free = list(capacity)
        self.waiting: list[list[int]] = [[] for _ in capacity]
        # dependency edges in CSR form: children of piece i are kids[ptr[i]:ptr[i + 1]], with the time their
        # result needs to reach the child's core
        lens = np.diff(plan.dep_ptr)
        parents = plan.dep_src
        kids = np.repeat(np.arange(n, dtype=np.int64), lens)
        order = np.argsort(parents, kind="stable")
        self.ptr = np.searchsorted(parents[order], np.arange(n + 1)).tolist()
        self.kids = kids[order].tolist()
        self.delays = plan.dep_delay_s[order].tolist()
        ndeps = lens.copy()
        self.ready_at = [0.0] * n
        self.start = [0.0] * n
        self.end = [0.0] * n
        self.blocker = [-1] * n
        self.t_first: dict[int, float] = {}
        self.dram_server = _Dram(self.env, plan.bandwidth_Bps, self._dram_done)
        self.completed = 0
        # utterance gating: ops of utterance u + 1 without deps wait for utterance u to finish
        self.utt_of = None
        utt_order = plan.utt_rank
        if utt_order is not None and n:
            self.utt_of = utt_order.tolist()
            n_utt = int(utt_order.max()) + 1
            self.utt_left = np.bincount(utt_order, minlength=n_utt).tolist()
            gated = np.flatnonzero((ndeps == 0) & (utt_order > 0))
            self.gated: list[list[int]] = [[] for _ in range(n_utt)]
            for i in gated.tolist():
                self.gated[self.utt_of[i]].append(i)
            ndeps[gated] = 1
        self.ndeps = ndeps.tolist()

    def _at(self, delay: float, callback, value: int) -> None:
        self._schedule(_Wake(callback, value), NORMAL, delay)

    def run(self) -> None:
        for i in [i for i in range(self.n) if self.ndeps[i] == 0]:
            self._enqueue(i)
        self.env.run()
        if self.completed != self.n:
            raise RuntimeError(f"simulation stalled: {self.completed} of {self.n} ops finished (dependency cycle?)")

    def played(self) -> Played:
        return Played(start_s=np.array(self.start, dtype=np.float64), end_s=np.array(self.end, dtype=np.float64),
                      blocker=np.array(self.blocker, dtype=np.int64), hit=np.array(self.hit, dtype=bool))

    def _enqueue(self, i: int) -> None:
        u = self.unit[i]
        if self.free[u]:
            self.free[u] -= 1
            self._start(i)
        else:
            heapq.heappush(self.waiting[u], i)

    def _ready_cb(self, ev) -> None:
        self._enqueue(ev._value)

    def _start(self, i: int) -> None:
        now = self.env._now
        self.start[i] = now
        nbytes = self.dram[i]
        if nbytes <= 0.0:
            self._schedule(_Wake(self._done_cb, i), NORMAL, self.busy[i])
            return
        w = self.wid[i]
        if w >= 0:
            core = self.unit[i] // UNITS_PER_CORE
            cache = self.cache[core]
            if w in cache:  # still in the scratchpad from an earlier use on this core: no DRAM traffic
                cache.move_to_end(w)
                self.hit[i] = True
                self._schedule(_Wake(self._done_cb, i), NORMAL, self.hit_busy[i])
                return
            size = self.wbytes[w]
            if size <= self.cache_cap[core]:  # keep this copy; evict least recently used weights to fit
                while cache and self.cache_used[core] + size > self.cache_cap[core]:
                    self.cache_used[core] -= cache.popitem(last=False)[1]
                cache[w] = size
                self.cache_used[core] += size
        # one DRAM transfer of all bytes, sharing the channel from now on; the first tile's arrival time uses
        # the bandwidth share at issue (exact on an idle channel)
        server = self.dram_server
        server.request(i, nbytes)
        self.t_first[i] = now + self.lead[i] + nbytes / self.tiles[i] * len(server.active) / server.bw

    # -- streamed ops -----------------------------------------------------------------------------------
    def _dram_done(self, i: int) -> None:
        now = self.env._now
        if self.unit[i] % UNITS_PER_CORE == DMA_LOCAL_UNIT:  # dma unit (embedding from DRAM): done after setup + latency + bytes
            self.t_first.pop(i)
            self._at(self.lead[i], self._done_cb, i)
            return
        end = max(self.t_first.pop(i) + self.compute[i], now + self.lead[i] + self.compute[i] / self.tiles[i])
        self._at(end - now, self._done_cb, i)

    # -- completion -------------------------------------------------------------------------------------
    def _done_cb(self, ev) -> None:
        i = ev._value
        now = self.env._now
        self.end[i] = now
        self.completed += 1
        ready_at = self.ready_at
        ndeps = self.ndeps
        blocker = self.blocker
        kids = self.kids
        delays = self.delays
        for e in range(self.ptr[i], self.ptr[i + 1]):
            c = kids[e]
            arrival = now + delays[e]
            if arrival >= ready_at[c]:
                ready_at[c] = arrival
                blocker[c] = i
            left = ndeps[c] - 1
            ndeps[c] = left
            if not left:
                if ready_at[c] > now:
                    self._schedule(_Wake(self._ready_cb, c), NORMAL, ready_at[c] - now)
                else:
                    self._enqueue(c)
        if self.utt_of is not None:
            u = self.utt_of[i]
            self.utt_left[u] -= 1
            if self.utt_left[u] == 0 and u + 1 < len(self.gated):
                for c in self.gated[u + 1]:
                    ready_at[c] = now
                    blocker[c] = i
                    ndeps[c] -= 1
                    if ndeps[c] == 0:
                        self._enqueue(c)
        u = self.unit[i]
        queue = self.waiting[u]
        if queue:
            j = heapq.heappop(queue)
            if ready_at[j] < now:
                blocker[j] = i  # it was held up by this op occupying the unit
            self._start(j)
        else:
            self.free[u] += 1


def play_reference(plan: Plan) -> Played:
    """Play ``plan`` out in time on the simpy reference engine; deterministic."""
    engine = Engine(plan)
    engine.run()
    return engine.played()


ENGINES = ("fast", "reference")


def play(plan: Plan, engine: str = "fast") -> Played:
    """Play ``plan`` out in time on ``engine``: ``"fast"`` (compiled, :mod:`accelsim.sim.fast`) or
    ``"reference"`` (simpy); both give identical results, bit for bit."""
    if engine == "fast":
        from accelsim.sim.fast import play_fast

        return play_fast(plan)
    if engine == "reference":
        return play_reference(plan)
    raise ValueError(f"engine {engine!r}: expected one of {', '.join(ENGINES)}")
