"""The plan: the one input of an engine. What runs where, how long it takes alone, and what it waits for.

A plan is built by the mapping stage (``accelsim.map``) from a trace and an architecture; an engine
(``accelsim.sim.engine``) only plays it out in time. Its rows are *pieces*: a trace op that runs whole is one
piece; an op split over several cores is several pieces (one per core), plus whatever gather/reduce pieces
the split needs; a weight load at start-up is a piece too. ``piece_op`` names the trace op each piece
belongs to (-1 for pieces that belong to no trace op, e.g. a start-up load).

Units: every core has ``UNITS_PER_CORE`` units, numbered ``core * UNITS_PER_CORE + local`` with local 0 the
matrix unit, 1 the vector/SFU unit and 2 the DMA engines. ``unit_capacity[u]`` pieces may hold unit ``u``
at once; waiting pieces of a unit start in piece-id order (issue order).

*Cost keys.* With ``piece_key`` set, the per-piece columns ``unit``, ``busy_s``, ``lead_s``, ``compute_s``,
``dram_bytes``, ``tiles``, ``weight_id``, ``hit_busy_s`` and ``links.out_cycles`` are tables by *key*: piece
``i`` has ``unit[piece_key[i]]`` and so on (pieces of the same op shape on the same core share one row, so a
long plan stores a few integers per piece instead of eight columns). Without it (None) they are per piece
(``piece_key[i] == i``). :meth:`Plan.expanded` gives the per-piece form; engines play both alike.

Per-piece timing (seconds), the engine semantics that every engine implements identically:

- ``dram_bytes == 0``: the piece holds its unit for ``busy_s``.
- ``dram_bytes > 0``: the piece streams that many bytes over the shared (processor-sharing) DRAM channel of
  ``bandwidth_Bps``, issued when it starts; computing on ``tiles`` double-buffered tiles it ends at
  ``max(first_tile + compute_s, last_byte + lead_s + compute_s / tiles)``, with ``first_tile = start + lead_s
  + one tile at the channel share at issue``. On a DMA unit it ends ``lead_s`` after its last byte.
- ``weight_id >= 0`` (streamed matmul weights): the LRU reuse cache of the piece's core (``cache_bytes``
  per core, ``weight_bytes`` per weight id) may already hold the weight; then the piece takes
  ``hit_busy_s`` with no DRAM traffic.

Dependencies: the parents of piece ``i`` are its *explicit edges* ``dep_src[dep_ptr[i]:dep_ptr[i + 1]]``,
edge ``e``'s result needing ``dep_delay_s[e]`` to reach piece ``i``'s core, plus the edges its *links* stand
for (``links``, a :class:`Links`, or None). A link is a compact set of edges between two ranges of piece ids,
children ``[child_lo, child_lo + child_cnt)`` and parents ``[parent_lo, parent_lo + parent_cnt)``: every child
waits for every parent (an all-gather: one link instead of ``child_cnt x parent_cnt`` edges), or, when
``diagonal``, child ``child_lo + j`` waits for parent ``parent_lo + j`` only (equal counts). A link's edge
``p -> c`` needs ``0`` s when ``p`` and ``c`` are on the same core (``unit // UNITS_PER_CORE``), else
``(link_cycles[core(p), core(c)] + out_cycles[p]) / clock_hz`` (per core pair: sync + hops x hop cycles; per
piece: its result's bytes over the link width, rounded up). :meth:`Plan.edges` expands both into one explicit
CSR (each child's explicit edges, then its links' edges in link order); every engine plays a plan exactly as it
plays that expansion. With ``utt_rank`` set (sequential utterances), pieces of utterance rank ``r + 1`` without
parents are released when the last piece of rank ``r`` ends (``utt_rank`` is dense: every rank from 0 to the
largest holds a piece).

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

from dataclasses import dataclass, field, replace

import numpy as np

UNITS_PER_CORE = 3  # matrix, vector, dma
DMA_LOCAL_UNIT = 2
#: the per-piece columns that are tables by key when a plan has ``piece_key`` (besides ``links.out_cycles``)
KEYED_COLUMNS = ("unit", "busy_s", "lead_s", "compute_s", "dram_bytes", "tiles", "weight_id", "hit_busy_s")


@dataclass(frozen=True, eq=False)
class Links:
    """Compact dependency edges (module docstring), one row per link, and the delay model of their edges."""

    child_lo: np.ndarray  # piece id (int32 in a built plan), first child piece
    child_cnt: np.ndarray  # int16 in a built plan (int32 where an op has 2**15 pieces or more), >= 1
    parent_lo: np.ndarray  # piece id, first parent piece
    parent_cnt: np.ndarray  # as child_cnt, >= 1 (== child_cnt when diagonal)
    diagonal: np.ndarray  # bool
    out_cycles: np.ndarray  # float64 per piece (per key when the plan has piece_key): cycles its result needs
    # on a core-to-core link
    link_cycles: np.ndarray  # float64 (cores x cores): fixed cycles of a transfer from core a to core b
    clock_hz: float

    @property
    def n(self) -> int:
        return len(self.child_lo)

    @staticmethod
    def empty(pieces: int, cores: int) -> Links:
        z = np.zeros(0, dtype=np.int32)
        return Links(z, z.astype(np.int16), z, z.astype(np.int16), np.zeros(0, dtype=bool), np.zeros(pieces),
                     np.zeros((cores, cores)), 1.0)


@dataclass(frozen=True, eq=False)
class Edges:
    """An explicit dependency CSR: the parents of piece ``i`` are ``src[ptr[i]:ptr[i + 1]]``, each result
    needing ``delay_s[e]`` to arrive."""

    ptr: np.ndarray
    src: np.ndarray
    delay_s: np.ndarray


@dataclass(frozen=True, eq=False)
class Plan:
    """Flat arrays an engine plays (module docstring). Per piece unless said otherwise; the cost columns
    (:data:`KEYED_COLUMNS`) per key when ``piece_key`` is set."""

    piece_op: np.ndarray  # int32 or int64 (ids: either), trace op id of each piece (-1: none)
    unit: np.ndarray  # int32 or int64, global unit id
    busy_s: np.ndarray  # float64
    lead_s: np.ndarray  # float64, dispatch + DMA setup + DRAM latency (streamed pieces)
    compute_s: np.ndarray  # float64, compute on on-chip operands (streamed pieces)
    dram_bytes: np.ndarray  # float64
    tiles: np.ndarray  # float64, >= 1
    weight_id: np.ndarray  # int32 or int64, -1: no reuse-cache lookup
    hit_busy_s: np.ndarray  # float64, time when the reuse cache hits
    dep_ptr: np.ndarray  # int64, length n + 1 (explicit edges; a built plan has none: its edges are links,
    # and its dep_ptr is :func:`no_explicit_edges`)
    dep_src: np.ndarray  # piece ids, parents
    dep_delay_s: np.ndarray  # float64, per edge
    unit_capacity: np.ndarray  # int64, per unit
    weight_bytes: np.ndarray  # float64, per weight id
    cache_bytes: np.ndarray  # float64, per core
    bandwidth_Bps: float
    utt_rank: np.ndarray | None = None  # any integer dtype (built: int16 below 2**15 ranks) per piece, or None
    # (no utterance gating)
    notes: dict = field(default_factory=dict)  # what the mapping stage wants to report (not played)
    links: Links | None = None  # compact edges besides the explicit ones (module docstring)
    piece_key: np.ndarray | None = None  # any integer dtype (built: int16 below 2**15 keys) per piece: row of the
    # cost columns (None: piece id)

    @property
    def keys(self) -> int:
        """Rows of the cost columns (``n`` when the plan has no ``piece_key``)."""
        return len(self.busy_s)

    def column(self, name: str) -> np.ndarray:
        """A cost column (``busy_s``, ``unit``, ...) per piece (a gather when the plan has keys)."""
        col = getattr(self, name)
        return col if self.piece_key is None else col[self.piece_key]

    def expanded(self) -> Plan:
        """The same plan with every cost column per piece (no ``piece_key``); itself when it has none."""
        if self.piece_key is None:
            return self
        key = self.piece_key
        links = self.links
        if links is not None:
            links = replace(links, out_cycles=links.out_cycles[key])
        return replace(self, **{c: getattr(self, c)[key] for c in KEYED_COLUMNS}, links=links, piece_key=None)

    def edges(self) -> Edges:
        """Every dependency edge as one explicit CSR by child: its explicit edges, then its links' edges in
        link order (for inspection and small plans: an all-gather link becomes ``child_cnt x parent_cnt``)."""
        if self.links is None or not self.links.n:
            return Edges(self.dep_ptr, self.dep_src, self.dep_delay_s)
        if self.piece_key is not None:
            return self.expanded().edges()
        from accelsim.map.edges import expand_links

        lk = self.links
        ptr, src, delay = expand_links(
            np.ascontiguousarray(self.dep_ptr, dtype=np.int64), np.ascontiguousarray(self.dep_src, dtype=np.int64),
            np.ascontiguousarray(self.dep_delay_s, dtype=np.float64), *_link_arrays(lk),
            np.ascontiguousarray(self.unit, dtype=np.int64))
        return Edges(ptr, src, delay)

    @property
    def n(self) -> int:
        return len(self.piece_op)

    @property
    def cores(self) -> int:
        return len(self.unit_capacity) // UNITS_PER_CORE

    def check(self) -> None:
        """Raise ValueError when the arrays are inconsistent (lengths, ranges, non-finite values)."""
        n, nk = self.n, self.keys
        for name in KEYED_COLUMNS:
            if len(getattr(self, name)) != nk:
                raise ValueError(f"plan: {name} has {len(getattr(self, name))} rows, expected {nk}")
        if self.piece_key is None:
            if nk != n:
                raise ValueError(f"plan: busy_s has {nk} rows, expected {n} (one per piece without piece_key)")
        elif len(self.piece_key) != n:
            raise ValueError(f"plan: piece_key has {len(self.piece_key)} rows, expected {n}")
        elif n and (self.piece_key.min() < 0 or self.piece_key.max() >= nk):
            raise ValueError("plan: piece_key out of range")
        if len(self.dep_ptr) != n + 1 or self.dep_ptr[0] != 0 or self.dep_ptr[-1] != len(self.dep_src):
            raise ValueError("plan: dep_ptr is not a CSR pointer over dep_src")
        if len(self.dep_delay_s) != len(self.dep_src):
            raise ValueError("plan: dep_delay_s must have one entry per edge")
        if len(self.unit_capacity) % UNITS_PER_CORE or (self.unit_capacity < 1).any():
            raise ValueError("plan: unit_capacity must list >= 1 per unit, UNITS_PER_CORE units per core")
        if nk and (self.unit.min() < 0 or self.unit.max() >= len(self.unit_capacity)):
            raise ValueError("plan: unit id out of range")
        if len(self.dep_src) and (self.dep_src.min() < 0 or self.dep_src.max() >= n):
            raise ValueError("plan: dependency on a piece that does not exist")
        for name in ("busy_s", "lead_s", "compute_s", "dram_bytes", "hit_busy_s", "dep_delay_s", "cache_bytes",
                     "weight_bytes"):
            a = getattr(self, name)
            if len(a) and (not np.isfinite(a).all() or (a < 0).any()):
                raise ValueError(f"plan: {name} must be finite and >= 0")
        if nk and (self.tiles < 1).any():
            raise ValueError("plan: tiles must be >= 1")
        if not (np.isfinite(self.bandwidth_Bps) and self.bandwidth_Bps > 0):
            raise ValueError("plan: bandwidth_Bps must be finite and > 0")
        if self.links is not None:
            self._check_links(self.links)

    def _check_links(self, lk: Links) -> None:
        n, m = self.n, lk.n
        for name in ("child_cnt", "parent_lo", "parent_cnt", "diagonal"):
            if len(getattr(lk, name)) != m:
                raise ValueError(f"plan: links.{name} has {len(getattr(lk, name))} rows, expected {m}")
        if len(lk.out_cycles) != self.keys:
            raise ValueError(f"plan: links.out_cycles has {len(lk.out_cycles)} rows, expected {self.keys}")
        if lk.link_cycles.shape != (self.cores, self.cores):
            raise ValueError(f"plan: links.link_cycles must be {self.cores} x {self.cores} (cores x cores)")
        if m:
            if (lk.child_cnt < 1).any() or (lk.parent_cnt < 1).any():
                raise ValueError("plan: a link needs >= 1 child and >= 1 parent")
            if not _ranges_inside(lk.child_lo, lk.child_cnt, n) or not _ranges_inside(lk.parent_lo, lk.parent_cnt, n):
                raise ValueError("plan: a link names a piece that does not exist")
            if (lk.diagonal & (lk.child_cnt != lk.parent_cnt)).any():
                raise ValueError("plan: a diagonal link needs as many parents as children")
        for name in ("out_cycles", "link_cycles"):
            a = getattr(lk, name)
            if a.size and (not np.isfinite(a).all() or (a < 0).any()):
                raise ValueError(f"plan: links.{name} must be finite and >= 0")
        if not (np.isfinite(lk.clock_hz) and lk.clock_hz > 0):
            raise ValueError("plan: links.clock_hz must be finite and > 0")


def _ranges_inside(lo: np.ndarray, cnt: np.ndarray, n: int) -> bool:
    """Whether every range ``[lo, lo + cnt)`` lies in ``[0, n)`` (blockwise: no link-sized temporaries)."""
    block = 1 << 20
    for a in range(0, len(lo), block):
        x, c = lo[a:a + block], cnt[a:a + block]
        if x.min() < 0 or (x + c).max() > n:
            return False
    return True


def _link_arrays(lk: Links) -> tuple:
    """The link arrays in the dtypes the compiled kernels take."""
    return (np.ascontiguousarray(lk.child_lo, dtype=np.int64), np.ascontiguousarray(lk.child_cnt, dtype=np.int32),
            np.ascontiguousarray(lk.parent_lo, dtype=np.int64), np.ascontiguousarray(lk.parent_cnt, dtype=np.int32),
            np.ascontiguousarray(lk.diagonal, dtype=np.bool_), np.ascontiguousarray(lk.out_cycles, dtype=np.float64),
            np.ascontiguousarray(lk.link_cycles, dtype=np.float64), float(lk.clock_hz))


def no_explicit_edges(pieces: int) -> np.ndarray:
    """The ``dep_ptr`` of a plan of ``pieces`` pieces without explicit edges: ``pieces + 1`` zeros, stored as
    one (a read-only broadcast view: a long plan's dependencies are links, and this saves 8 bytes a piece)."""
    return np.broadcast_to(np.zeros(1, dtype=np.int64), (pieces + 1,))


@dataclass(frozen=True, eq=False)
class Played:
    """What an engine returns: per piece start/end (s, float64), blocker piece (int32, -1: none) and
    reuse-cache hit (bool)."""

    start_s: np.ndarray
    end_s: np.ndarray
    blocker: np.ndarray
    hit: np.ndarray
