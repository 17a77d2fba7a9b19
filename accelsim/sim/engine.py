"""The reference engine: a :class:`~accelsim.map.plan.Plan` played out in plain simpy.

It is the model a reviewer checks; :mod:`accelsim.sim.fast` compiles the same rules (the plan's docstring)
and must agree with it bit for bit. Its parts, each a simpy idiom:

- **one process per piece** (:meth:`Reference.piece`): it waits for its parents' ``done`` events (or, when
  gated, for the previous utterance), then for the delay of the last result to reach its core
  (``env.timeout``), asks the issue stage for its unit, holds the unit (a :class:`simpy.PriorityResource`
  of ``plan.unit_capacity`` slots, waiting pieces served lowest piece id first) for its time, and succeeds
  its ``done`` event;
- **the issue stage** (:meth:`Reference.issue_stage`), one process: it acts *last* in every instant (it
  waits, ``env.timeout(0)`` after ``env.timeout(0)``, until ``env.peek()`` shows no other event left at
  ``env.now``), so everything that happens at one instant is known before any unit changes hands. Then (a)
  the pieces that became ready in that instant request their units in piece-id order (a free slot is taken
  at once, else the piece queues), and (b) the pieces that ended in that instant release their units in
  piece-id order, each slot going to the lowest-id piece waiting for it (which may be one from (a)). This is
  the same-time tie rule of the plan's docstring, made explicit instead of left to event-queue order;
- **the DRAM channel** (:class:`ProcessorSharingChannel`), one process: a processor-sharing server, ``n``
  active transfers each served at ``bandwidth / n`` bytes/s. It sleeps until the next transfer would
  finish; an arriving transfer interrupts it (``Process.interrupt``) and it re-plans. A finishing transfer
  succeeds the event its piece waits on;
- **the weight-reuse cache**: per core an LRU (:class:`collections.OrderedDict`) of streamed weight ids in
  the scratchpad space pinned weights leave free, looked up and updated when a piece starts.

Simulated time is in seconds. Besides start/end times the engine records each piece's *blocker*: the
piece whose completion let it start (its last-arriving input, the piece whose unit slot it took, or the
previous utterance's last piece); the result's critical-path attribution walks these links back.
"""

from __future__ import annotations

import gc
from collections import OrderedDict

import numpy as np
import simpy

from accelsim.map.plan import DMA_LOCAL_UNIT, UNITS_PER_CORE, Plan, Played

#: transfers within this many bytes of done finish together with the one the channel planned for (float
#: residue of the equal-share arithmetic), in arrival order
DRAM_DONE_BYTES = 1e-3


class ProcessorSharingChannel:
    """The shared DRAM channel: ``n`` active transfers each progress at ``bandwidth_Bps / n`` bytes/s.

    :meth:`transfer` starts one (it joins the channel now) and returns the event that succeeds when its last
    byte has arrived. The server process keeps the bytes left of every active transfer, in arrival order;
    it sleeps until the one with the fewest bytes left (first of equal minima: earliest arrival) would
    finish, re-planning whenever a transfer arrives (interrupt) or finishes.
    """

    def __init__(self, env: simpy.Environment, bandwidth_Bps: float) -> None:
        self.env = env
        self.bandwidth_Bps = bandwidth_Bps
        self.left_bytes: dict[int, float] = {}  # per active transfer (piece id), in arrival order
        self.done: dict[int, simpy.Event] = {}
        self.served_until_s = 0.0
        self.server = env.process(self._serve())

    @property
    def active(self) -> int:
        return len(self.left_bytes)

    def _advance(self) -> None:
        """Serve every active transfer its equal share from the last change until now."""
        now = self.env.now
        if self.left_bytes and now > self.served_until_s:
            served = (now - self.served_until_s) * self.bandwidth_Bps / len(self.left_bytes)
            for key in self.left_bytes:
                self.left_bytes[key] -= served
        self.served_until_s = now

    def transfer(self, key: int, nbytes: float) -> simpy.Event:
        """Issue ``nbytes`` for piece ``key`` now; the event succeeds when its last byte has arrived."""
        self._advance()
        self.left_bytes[key] = nbytes
        self.done[key] = done = self.env.event()
        self.server.interrupt()  # re-plan with one more transfer sharing the channel
        return done

    def _serve(self):
        while True:
            if not self.left_bytes:
                wait = self.env.event()  # idle until a transfer arrives (an interrupt)
            else:
                left = self.left_bytes
                key = min(left, key=left.__getitem__)  # fewest bytes left; ties: earliest arrival
                wait = self.env.timeout(max(0.0, left[key]) * len(left) / self.bandwidth_Bps)
            try:
                yield wait
            except simpy.Interrupt:
                continue
            self._advance()
            left = self.left_bytes
            left[key] = 0.0  # the planned one is done by construction (no float residue)
            finished = [k for k, b in left.items() if b <= DRAM_DONE_BYTES] if len(left) > 1 else [key]
            for k in finished:  # in arrival order
                del left[k]
                self.done.pop(k).succeed()


class Reference:
    """One run of the reference engine over ``plan`` (arrays indexed by piece id); :meth:`run` plays it."""

    def __init__(self, plan: Plan) -> None:
        plan = plan.expanded()  # cost columns per piece (a plan with cost keys stores them per key)
        self.plan = plan
        n = plan.n
        self.env = env = simpy.Environment()
        self.units = [simpy.PriorityResource(env, capacity=int(c)) for c in plan.unit_capacity]
        self.dram = ProcessorSharingChannel(env, float(plan.bandwidth_Bps))
        # plain Python views of the plan (the processes read them scalar by scalar)
        self.unit = plan.unit.tolist()
        self.busy_s = plan.busy_s.tolist()
        self.lead_s = plan.lead_s.tolist()
        self.compute_s = plan.compute_s.tolist()
        self.dram_bytes = plan.dram_bytes.tolist()
        self.tiles = plan.tiles.tolist()
        self.weight_id = plan.weight_id.tolist()
        self.hit_busy_s = plan.hit_busy_s.tolist()
        self.weight_bytes = plan.weight_bytes.tolist()
        # every dependency as explicit edges: links expanded by the plan's own rule (Plan.edges)
        edges = plan.edges()
        self.dep_ptr = edges.ptr.tolist()
        self.dep_src = edges.src.tolist()
        self.dep_delay_s = edges.delay_s.tolist()
        # weight-reuse cache per core: LRU over streamed weight ids -> bytes
        self.cache_bytes = plan.cache_bytes.tolist()
        self.cache: list[OrderedDict[int, float]] = [OrderedDict() for _ in self.cache_bytes]
        self.cache_used = [0.0] * len(self.cache_bytes)
        # results
        self.start_s = [0.0] * n
        self.end_s = [0.0] * n
        self.ready_s = [0.0] * n
        self.blocker = [-1] * n
        self.hit = [False] * n
        self.completed = 0
        # utterance gating: pieces of rank r > 0 without parents wait for every piece of rank r - 1
        self.rank = plan.utt_rank.tolist() if plan.utt_rank is not None and n else None
        self.members: list[np.ndarray] = []
        self.utterance_done: dict[int, simpy.Event] = {}
        if self.rank is not None:
            order = np.argsort(plan.utt_rank, kind="stable")
            bounds = np.searchsorted(plan.utt_rank[order], np.arange(int(plan.utt_rank.max()) + 2))
            self.members = [order[bounds[r]:bounds[r + 1]] for r in range(len(bounds) - 1)]
        # the issue stage's inbox for the current instant
        self.ready: list[int] = []
        self.ended: list[int] = []
        self.request: list[simpy.Event | None] = [None] * n  # each piece's unit request, made by the issue stage
        self.issued = env.event()  # succeeds when the issue stage has made this instant's requests
        self.wake: simpy.Event | None = None
        self.stage = env.process(self.issue_stage())
        # a piece's process is its "done" event: it ends when the piece does
        self.done = [env.process(self.piece(i)) for i in range(n)]

    def run(self) -> Played:
        self.env.run()
        if self.completed != self.plan.n:
            raise RuntimeError(f"simulation stalled: {self.completed} of {self.plan.n} ops finished "
                               "(dependency cycle?)")
        return Played(start_s=np.array(self.start_s, dtype=np.float64), end_s=np.array(self.end_s, dtype=np.float64),
                      blocker=np.array(self.blocker, dtype=np.int32), hit=np.array(self.hit, dtype=bool))

    # -- the issue stage --------------------------------------------------------------------------------
    def _notify(self, inbox: list[int], i: int) -> None:
        inbox.append(i)
        if self.wake is not None and not self.wake.triggered:
            self.wake.succeed()

    def issue_stage(self):
        """Hand out unit slots once per instant, after everything else of that instant (module docstring)."""
        env = self.env
        while True:
            if not (self.ready or self.ended):
                self.wake = env.event()
                yield self.wake
            while env.peek() == env.now:  # let every other event of this instant happen first
                yield env.timeout(0)
            ready, self.ready = sorted(self.ready), []
            ended, self.ended = sorted(self.ended), []
            if ready:
                issued, self.issued = self.issued, env.event()
                issued.succeed()  # the ready pieces then wait on their requests, granted in the order made:
                for i in ready:  # (a) newly ready pieces, lowest id first: a free slot now, else queue by id
                    self.request[i] = self.units[self.unit[i]].request(priority=i)
            for i in ended:  # (b) each ended piece's slot goes to the lowest-id piece waiting for its unit
                unit = self.units[self.unit[i]]
                waiting = len(unit.queue)
                yield unit.release(self.request[i])
                if len(unit.queue) < waiting:
                    j = unit.users[-1].priority  # the piece that took the slot
                    if self.ready_s[j] < env.now:
                        self.blocker[j] = i  # it was held up by piece i occupying the unit

    # -- one piece ---------------------------------------------------------------------------------------
    def parents(self, i: int) -> list[tuple[int, float]]:
        """Piece ``i``'s parents and the seconds each one's result needs to reach it (explicit edges, then
        its links' edges, as :meth:`Plan.edges` expands them)."""
        return [(self.dep_src[e], self.dep_delay_s[e]) for e in range(self.dep_ptr[i], self.dep_ptr[i + 1])]

    def piece(self, i: int):
        env = self.env
        parents = self.parents(i)
        if parents:
            for p, _delay in parents:
                yield self.done[p]
            # ready when the last result reaches this core; blocker: that parent (ties: the parent that
            # ended last, then the highest id)
            best = -1
            ready = 0.0
            for p, delay in parents:
                arrival = self.end_s[p] + delay
                if best < 0 or (arrival, self.end_s[p], p) > (ready, self.end_s[best], best):
                    best, ready = p, arrival
            self.ready_s[i], self.blocker[i] = ready, best
            if ready > env.now:
                yield env.timeout(ready - env.now)
        elif self.rank is not None and self.rank[i] > 0:
            r = self.rank[i] - 1
            self.blocker[i] = yield self._utterance_done(r)
            self.ready_s[i] = env.now
        self._notify(self.ready, i)
        yield self.issued
        yield self.request[i]
        self.start_s[i] = env.now
        nbytes = self.dram_bytes[i]
        if nbytes <= 0.0:
            yield env.timeout(self.busy_s[i])
        elif self._reuse_hit(i):
            self.hit[i] = True
            yield env.timeout(self.hit_busy_s[i])
        else:
            # one DRAM transfer of all bytes, sharing the channel from now on; the first tile's arrival time
            # uses the bandwidth share at issue (exact on an idle channel)
            arrived = self.dram.transfer(i, nbytes)
            first_tile = env.now + self.lead_s[i] + nbytes / self.tiles[i] * self.dram.active / self.dram.bandwidth_Bps
            yield arrived
            if self.unit[i] % UNITS_PER_CORE == DMA_LOCAL_UNIT:  # an embedding fetch: setup + latency + bytes
                yield env.timeout(self.lead_s[i])
            else:  # double-buffered compute on the tiles as they arrive
                end = max(first_tile + self.compute_s[i], env.now + self.lead_s[i] + self.compute_s[i] / self.tiles[i])
                yield env.timeout(end - env.now)
        self.end_s[i] = env.now
        self.completed += 1
        self._notify(self.ended, i)  # the process ends now: its children see it done

    def _utterance_done(self, rank: int) -> simpy.Event:
        """The event of utterance ``rank``'s last piece ending; its value is that piece (ties: highest id)."""
        if rank not in self.utterance_done:
            self.utterance_done[rank] = self.env.process(self._utterance(rank))
        return self.utterance_done[rank]

    def _utterance(self, rank: int):
        members = self.members[rank].tolist()
        yield simpy.AllOf(self.env, [self.done[j] for j in members])
        return max(members, key=lambda j: (self.end_s[j], j))

    def _reuse_hit(self, i: int) -> bool:
        """Look piece ``i``'s streamed weight up in its core's LRU cache; keep it there on a miss if it fits."""
        w = self.weight_id[i]
        if w < 0:
            return False
        core = self.unit[i] // UNITS_PER_CORE
        cache = self.cache[core]
        if w in cache:  # still in the scratchpad from an earlier use on this core
            cache.move_to_end(w)
            return True
        size = self.weight_bytes[w]
        if size <= self.cache_bytes[core]:  # keep this copy; evict least recently used weights to fit
            while cache and self.cache_used[core] + size > self.cache_bytes[core]:
                self.cache_used[core] -= cache.popitem(last=False)[1]
            cache[w] = size
            self.cache_used[core] += size
        return False


def play_reference(plan: Plan) -> Played:
    """Play ``plan`` out in time on the simpy reference engine; deterministic."""
    from accelsim.sim.fast import check_playable

    check_playable(plan)
    # a run allocates a process per piece and millions of short-lived events; Python's cyclic collector
    # would re-scan the live ones again and again (half the run time), so it waits until the run is over
    collecting = gc.isenabled()
    gc.disable()
    try:
        return Reference(plan).run()
    finally:
        if collecting:
            gc.enable()
