"""The discrete-event engine: per-core units as servers, dependencies, a shared DRAM channel, on simpy.

Each core has three units -- ``matrix`` (capacity 1), ``vector``/SFU (capacity 1) and ``dma`` (capacity
``dma.engines``, embedding lookups). An op becomes *ready* when its last dependency has finished and that
result has reached its core (core-to-core transfer time, :func:`accelsim.cost.core_transfer_seconds`); it
*starts* when its unit has a free slot. Waiting ops of a unit start in op-id order (issue order), which
also breaks every same-time tie deterministically. An op without DRAM traffic holds its unit for exactly
its pure cost (one simpy timeout). An op that streams weights holds its unit while it

1. dispatches and waits DMA setup + DRAM latency,
2. fetches the first tile over the shared DRAM channel,
3. fetches the remaining tiles while computing (double buffering) and ends at
   ``max(first_tile_arrival + compute, last_tile_arrival + compute / tiles)``,

which on an idle channel equals :func:`accelsim.cost.streamed_seconds` exactly. The DRAM channel is a
processor-sharing server: concurrent transfers (from any core) share the bandwidth equally, which is how
off-chip contention slows cores that stream at the same time. In ``sequential`` utterance mode the ops of
utterance ``u + 1`` that have no dependencies are released when the last op of utterance ``u`` finishes.

Simulated time is in seconds. Besides start/end times the engine records each op's *blocker*: the op
whose completion let it start (its last-arriving dependency, the op that freed its unit, or the previous
utterance's last op); the result's critical-path attribution walks these links back from the end.
"""

from __future__ import annotations

import heapq

import numpy as np
import simpy
from simpy.events import Timeout


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
        now = self.env.now
        if self.active and now > self.last:
            served = (now - self.last) * self.bw / len(self.active)
            for key in self.active:
                self.active[key] -= served
        self.last = now

    def request(self, key: int, nbytes: float) -> None:
        self._advance()
        self.active[key] = nbytes
        self._reschedule()

    def _reschedule(self) -> None:
        self.version += 1
        if not self.active:
            return
        smallest = min(self.active.values())
        ev = Timeout(self.env, max(0.0, smallest) * len(self.active) / self.bw, self.version)
        ev.callbacks.append(self._fire)

    def _fire(self, ev) -> None:
        if ev._value != self.version:
            return  # superseded by a later arrival or completion
        self._advance()
        done = [k for k, left in self.active.items() if left <= 1e-6]
        for k in done:
            del self.active[k]
        self._reschedule()
        for k in done:  # in arrival order
            self.on_done(k)


class Engine:
    """One simulation run over precomputed per-op arrays (all indexed by op id)."""

    def __init__(self, *, deps: list, unit: np.ndarray, capacity: list[int], busy_s: np.ndarray,
                 dispatch_s: np.ndarray, compute_s: np.ndarray, first_s: np.ndarray, dram_bytes: np.ndarray,
                 tiles: np.ndarray, edge_delay, utt_order: np.ndarray | None, bandwidth: float) -> None:
        n = len(busy_s)
        self.n = n
        self.env = simpy.Environment()
        self.unit = unit.tolist()
        self.busy = busy_s.tolist()
        self.lead = (dispatch_s + first_s).tolist()
        self.compute = compute_s.tolist()
        self.dram = dram_bytes.tolist()
        self.tiles = tiles.tolist()
        self.free = list(capacity)
        self.waiting: list[list[int]] = [[] for _ in capacity]
        self.ndeps = [len(d) for d in deps]
        children: list[list[tuple[int, float]]] = [[] for _ in range(n)]
        for c, ds in enumerate(deps):
            for d in ds:
                children[d].append((c, edge_delay(d, c)))
        self.children = children
        self.ready_at = [0.0] * n
        self.start = [0.0] * n
        self.end = [0.0] * n
        self.blocker = [-1] * n
        self.t_first: dict[int, float] = {}
        self.dram_server = _Dram(self.env, bandwidth, self._dram_done)
        self.completed = 0
        # utterance gating: ops of utterance u + 1 without deps wait for utterance u to finish
        self.utt_of = None
        if utt_order is not None:
            self.utt_of = utt_order.tolist()
            n_utt = int(utt_order.max()) + 1 if n else 0
            self.utt_left = np.bincount(utt_order, minlength=n_utt).tolist()
            self.gated: list[list[int]] = [[] for _ in range(n_utt)]
            for i in range(n):
                if self.ndeps[i] == 0 and self.utt_of[i] > 0:
                    self.gated[self.utt_of[i]].append(i)
                    self.ndeps[i] = 1

    # -- event plumbing ---------------------------------------------------------------------------------
    def _at(self, delay: float, callback, value: int) -> None:
        ev = Timeout(self.env, delay, value)
        ev.callbacks.append(callback)

    def run(self) -> None:
        for i in range(self.n):
            if self.ndeps[i] == 0:
                self._enqueue(i)
        self.env.run()
        if self.completed != self.n:
            raise RuntimeError(f"simulation stalled: {self.completed} of {self.n} ops finished (dependency cycle?)")

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
        now = self.env.now
        self.start[i] = now
        if self.dram[i] <= 0.0:
            self._at(self.busy[i], self._done_cb, i)
        else:
            self._at(self.lead[i], self._issue_cb, i)

    # -- streamed ops -----------------------------------------------------------------------------------
    def _issue_cb(self, ev) -> None:
        i = ev._value
        if self.unit[i] % 3 == 2:  # dma unit: one transfer of all bytes (embedding from DRAM)
            self.dram_server.request(2 * i + 1, self.dram[i])
        else:
            self.dram_server.request(2 * i, self.dram[i] / self.tiles[i])

    def _dram_done(self, key: int) -> None:
        i, part = divmod(key, 2)
        now = self.env.now
        if self.unit[i] % 3 == 2:
            self._finish(i)
            return
        tiles = self.tiles[i]
        if part == 0:
            if tiles == 1:
                self._at(self.compute[i], self._done_cb, i)
                return
            self.t_first[i] = now
            self.dram_server.request(2 * i + 1, self.dram[i] * (tiles - 1) / tiles)
        else:
            end = max(self.t_first.pop(i) + self.compute[i], now + self.compute[i] / tiles)
            self._at(end - now, self._done_cb, i)

    # -- completion -------------------------------------------------------------------------------------
    def _done_cb(self, ev) -> None:
        self._finish(ev._value)

    def _finish(self, i: int) -> None:
        now = self.env.now
        self.end[i] = now
        self.completed += 1
        ready_at = self.ready_at
        ndeps = self.ndeps
        for c, delay in self.children[i]:
            arrival = now + delay
            if arrival >= ready_at[c]:
                ready_at[c] = arrival
                self.blocker[c] = i
            ndeps[c] -= 1
            if ndeps[c] == 0:
                if ready_at[c] > now:
                    self._at(ready_at[c] - now, self._ready_cb, c)
                else:
                    self._enqueue(c)
        if self.utt_of is not None:
            u = self.utt_of[i]
            self.utt_left[u] -= 1
            if self.utt_left[u] == 0 and u + 1 < len(self.gated):
                for c in self.gated[u + 1]:
                    ready_at[c] = now
                    self.blocker[c] = i
                    ndeps[c] -= 1
                    if ndeps[c] == 0:
                        self._enqueue(c)
        u = self.unit[i]
        queue = self.waiting[u]
        if queue:
            j = heapq.heappop(queue)
            if ready_at[j] < now:
                self.blocker[j] = i  # it was held up by this op occupying the unit
            self._start(j)
        else:
            self.free[u] += 1
