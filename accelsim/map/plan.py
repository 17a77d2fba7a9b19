"""The plan: the one input of an engine. What runs where, how long it takes alone, and what it waits for.

A plan is built by the mapping stage (``accelsim.map``) from a trace and an architecture; an engine
(``accelsim.sim.engine``) only plays it out in time. Its rows are *pieces*: a trace op that runs whole is one
piece; an op split over several cores is several pieces (one per core), plus whatever gather/reduce pieces
the split needs; a weight load at start-up is a piece too. ``piece_op`` names the trace op each piece
belongs to (-1 for pieces that belong to no trace op, e.g. a start-up load).

Units: every core has ``UNITS_PER_CORE`` units, numbered ``core * UNITS_PER_CORE + local`` with local 0 the
matrix unit, 1 the vector/SFU unit and 2 the DMA engines. ``unit_capacity[u]`` pieces may hold unit ``u``
at once; waiting pieces of a unit start in piece-id order (issue order).

Per-piece timing (seconds), the engine semantics that every engine implements identically:

- ``dram_bytes == 0``: the piece holds its unit for ``busy_s``.
- ``dram_bytes > 0``: the piece streams that many bytes over the shared (processor-sharing) DRAM channel of
  ``bandwidth_Bps``, issued when it starts; computing on ``tiles`` double-buffered tiles it ends at
  ``max(first_tile + compute_s, last_byte + lead_s + compute_s / tiles)``, with ``first_tile = start + lead_s
  + one tile at the channel share at issue``. On a DMA unit it ends ``lead_s`` after its last byte.
- ``weight_id >= 0`` (streamed matmul weights): the LRU reuse cache of the piece's core (``cache_bytes``
  per core, ``weight_bytes`` per weight id) may already hold the weight; then the piece takes
  ``hit_busy_s`` with no DRAM traffic.

Dependencies: the parents of piece ``i`` are ``dep_src[dep_ptr[i]:dep_ptr[i + 1]]``; edge ``e``'s result
needs ``dep_delay_s[e]`` to reach piece ``i``'s core (0 on the same core). With ``utt_rank`` set (sequential
utterances), pieces of utterance rank ``r + 1`` without parents are released when the last piece of rank
``r`` ends (``utt_rank`` is dense: every rank from 0 to the largest holds a piece).

Same-time ties, settled by rule (not by the order an event queue happens to hold events in), so that every
engine gives the same result bit for bit:

1. *Instants.* At each simulated time ``t`` first everything that happens at ``t`` takes effect -- DRAM
   transfers finish, pieces end (their results leave for their children, their utterance counts drop),
   delayed results arrive -- and the outcome of this does not depend on the order it is processed in. Then
   the *issue step*: (a) the pieces that became ready at ``t``, lowest piece id first, each take a free
   slot of their unit or join its queue; (b) the pieces that ended at ``t``, lowest piece id first, each
   hand their slot to the lowest-id piece waiting for that unit (which may be one from (a)), or leave it
   free. A piece started at ``t`` that takes no time ends at ``t`` too and is settled in a further round.
2. *DRAM.* Transfers that finish at ``t`` leave the channel before those issued at ``t`` join it. Pieces
   join in the order the issue step starts them ((a) in id order, then (b) in the order of the pieces whose
   slot they took), and a piece's first-tile share counts the transfers on the channel once it has joined.
   The channel finishes the transfer with the fewest bytes left (ties: earliest arrival) and with it every
   other within ``1e-3`` bytes of done.
3. *Reuse cache.* Lookups, insertions and LRU evictions happen in that same start order.
4. *Blocker.* A piece's blocker is its last input to arrive (latest ``end + delay``; ties: the parent that
   ended last, then the highest piece id); for a gated piece, the previous utterance's piece that ended
   last (ties: highest id); for a piece that waited for a slot (ready before it started), the piece whose
   slot it took.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

UNITS_PER_CORE = 3  # matrix, vector, dma
DMA_LOCAL_UNIT = 2


@dataclass(frozen=True, eq=False)
class Plan:
    """Flat arrays an engine plays (module docstring). Per piece unless said otherwise."""

    piece_op: np.ndarray  # int64, trace op id of each piece (-1: none)
    unit: np.ndarray  # int64, global unit id
    busy_s: np.ndarray  # float64
    lead_s: np.ndarray  # float64, dispatch + DMA setup + DRAM latency (streamed pieces)
    compute_s: np.ndarray  # float64, compute on on-chip operands (streamed pieces)
    dram_bytes: np.ndarray  # float64
    tiles: np.ndarray  # float64, >= 1
    weight_id: np.ndarray  # int64, -1: no reuse-cache lookup
    hit_busy_s: np.ndarray  # float64, time when the reuse cache hits
    dep_ptr: np.ndarray  # int64, length n + 1
    dep_src: np.ndarray  # int64, parents
    dep_delay_s: np.ndarray  # float64, per edge
    unit_capacity: np.ndarray  # int64, per unit
    weight_bytes: np.ndarray  # float64, per weight id
    cache_bytes: np.ndarray  # float64, per core
    bandwidth_Bps: float
    utt_rank: np.ndarray | None = None  # int64 per piece, or None (no utterance gating)
    notes: dict = field(default_factory=dict)  # what the mapping stage wants to report (not played)

    @property
    def n(self) -> int:
        return len(self.busy_s)

    @property
    def cores(self) -> int:
        return len(self.unit_capacity) // UNITS_PER_CORE

    def check(self) -> None:
        """Raise ValueError when the arrays are inconsistent (lengths, ranges, non-finite values)."""
        n = self.n
        for name in ("piece_op", "unit", "lead_s", "compute_s", "dram_bytes", "tiles", "weight_id", "hit_busy_s"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"plan: {name} has {len(getattr(self, name))} rows, expected {n}")
        if len(self.dep_ptr) != n + 1 or self.dep_ptr[0] != 0 or self.dep_ptr[-1] != len(self.dep_src):
            raise ValueError("plan: dep_ptr is not a CSR pointer over dep_src")
        if len(self.dep_delay_s) != len(self.dep_src):
            raise ValueError("plan: dep_delay_s must have one entry per edge")
        if len(self.unit_capacity) % UNITS_PER_CORE or (self.unit_capacity < 1).any():
            raise ValueError("plan: unit_capacity must list >= 1 per unit, UNITS_PER_CORE units per core")
        if n and (self.unit.min() < 0 or self.unit.max() >= len(self.unit_capacity)):
            raise ValueError("plan: unit id out of range")
        if len(self.dep_src) and (self.dep_src.min() < 0 or self.dep_src.max() >= n):
            raise ValueError("plan: dependency on a piece that does not exist")
        for name in ("busy_s", "lead_s", "compute_s", "dram_bytes", "hit_busy_s", "dep_delay_s", "cache_bytes",
                     "weight_bytes"):
            a = getattr(self, name)
            if len(a) and (not np.isfinite(a).all() or (a < 0).any()):
                raise ValueError(f"plan: {name} must be finite and >= 0")
        if n and (self.tiles < 1).any():
            raise ValueError("plan: tiles must be >= 1")
        if not (np.isfinite(self.bandwidth_Bps) and self.bandwidth_Bps > 0):
            raise ValueError("plan: bandwidth_Bps must be finite and > 0")


@dataclass(frozen=True, eq=False)
class Played:
    """What an engine returns: per piece start/end (s), blocker piece (-1: none) and reuse-cache hit."""

    start_s: np.ndarray
    end_s: np.ndarray
    blocker: np.ndarray
    hit: np.ndarray
