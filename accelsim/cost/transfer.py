"""Data movement: bytes per precision, double-buffered weight streaming from DRAM, core-to-core transfers.

Times are seconds; cycle counts say so in their names.
"""

from __future__ import annotations

import math

from accelsim.spec.schema import PRECISION_BYTES, ArchSpec


def tensor_bytes(elements: int, precision: str) -> float:
    """Storage of ``elements`` values at ``precision`` (INT4 packs two per byte), bytes."""
    return elements * PRECISION_BYTES[precision]


def stream_tiles(nbytes: float, tile_bytes: float) -> int:
    """Number of equal tiles a weight stream of ``nbytes`` is cut into (at least 1)."""
    return max(1, math.ceil(nbytes / tile_bytes))


def streamed_seconds(compute_s: float, nbytes: float, tiles: int, bandwidth: float, first_s: float) -> float:
    """Time of an op whose weights stream from DRAM in ``tiles`` tiles, double-buffered, on an idle channel.

    Tile ``i + 1`` loads while tile ``i`` computes: ``first_s + x + (tiles - 1) * max(c, x) + c`` where
    ``x = nbytes / tiles / bandwidth`` and ``c = compute_s / tiles``; ``first_s`` is DMA setup plus DRAM
    latency, paid once.
    """
    x = nbytes / tiles / bandwidth
    c = compute_s / tiles
    return first_s + x + (tiles - 1) * max(c, x) + c


def ring_hops(src: int, dst: int, cores: int) -> int:
    """Hops between two cores on a bidirectional ring (shorter way round)."""
    d = abs(src - dst)
    return min(d, cores - d)


def core_transfer_seconds(arch: ArchSpec, src: int, dst: int, nbytes: float) -> float:
    """Time to hand ``nbytes`` of activations from core ``src`` to ``dst`` (0 on the same core), s.

    Synchronisation, hop latency and serialisation over one link; ring contention is not modelled.
    """
    if src == dst:
        return 0.0
    ic = arch.interconnect
    hops = ring_hops(src, dst, arch.cores) if ic.topology == "ring" else 1
    cycles = arch.overheads.sync_cycles + hops * ic.hop_cycles + math.ceil(nbytes / ic.bytes_per_cycle)
    return cycles / arch.clock


def busy_seconds(kind: str, dispatch_s: float, compute_s: float, dram_bytes: float, tiles: int, first_s: float,
                 bandwidth: float) -> tuple[float, float]:
    """(busy s, first-byte s) of an op on an idle chip: an embedding from DRAM is setup + latency + bytes, a
    streamed op double-buffers its tiles (:func:`streamed_seconds`), an on-chip op is dispatch + compute (and
    has no first byte)."""
    if dram_bytes <= 0:
        return dispatch_s + compute_s, 0.0
    if kind == "embedding":
        return dispatch_s + first_s + dram_bytes / bandwidth, first_s
    return dispatch_s + streamed_seconds(compute_s, dram_bytes, tiles, bandwidth, first_s), first_s

