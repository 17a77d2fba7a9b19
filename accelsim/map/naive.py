"""The ``naive`` mapping (``scheduler.mapping: naive``): today's policy, kept as the baseline.

Placement (which core runs each stream) and residency (which weights stay in each core's scratchpad); no op
is split, each core pins only in its own scratchpad, pinned weights sit on chip at time zero for free.

Placement, ``balanced``: streams are split into two phase groups that never overlap in time for one
utterance -- the encoder (its layers' two directions) and the decoder (prediction, joint, LMs, search) --
and within each group assigned longest-processing-time first: streams sorted by work (MACs plus SFU element
operations of their ops -- a machine-independent measure, so that a faster unit or more bandwidth never
changes the placement; ties by name), each to the least-loaded core (ties: lowest index). The two
directions of an encoder layer have equal work, so they land on different cores, and so do the prediction
network and the two LMs. ``single_core`` puts everything on core 0 (a baseline).

Residency: a weight belongs to the core that reads it most (ties: lowest core). Each core pins its weights
greedily by DRAM bytes saved per scratchpad byte, largest first (ties: smaller first, then by name), while
they fit in ``scratchpad.size * weight_fraction``; a weight that does not fit is skipped and smaller ones are
still tried. Bytes saved per byte: for a matmul weight, the number of *runs* of consecutive uses among its
core's matmuls in issue order (with ``scheduler.weight_reuse`` the rest of a run hits the reuse cache anyway;
without it, every use); for an embedding table, rows read / table size. Everything not pinned is streamed
from DRAM (double-buffered tiles) -- and, with ``weight_reuse``, kept in the unpinned space (LRU) so that the
next use on the same core may find it there (the engine decides, at simulation time). So that this reuse
can work, each core first reserves room for its largest *bursty* weight (read at least twice per run on
average, e.g. an encoder layer's recurrent weights, read once per frame) when that weight fits the budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from accelsim.cost.vector import work_counts
from accelsim.cost.transfer import tensor_bytes
from accelsim.map.build import op_classes, weight_precision
from accelsim.map.mapping import Mapping, StreamMap
from accelsim.spec.schema import ArchSpec
from accelsim.trace.format import WeightMeta
from accelsim.trace.coded import OpCodes, as_codes, op_codes
from accelsim.trace.io import Workload

if TYPE_CHECKING:
    import pandas as pd


def place_streams(ops: pd.DataFrame | OpCodes, work: np.ndarray, arch: ArchSpec) -> dict[str, int]:
    """Stream name -> core index (see module docstring); ``work[i]`` is op i's machine-independent work."""
    oc = as_codes(ops)
    codes, names = oc.stream.codes, oc.stream.names
    is_enc = oc.phase.rows_of("encoder")
    per_stream = np.bincount(codes, weights=work, minlength=len(names))
    enc_ops = np.bincount(codes, weights=is_enc, minlength=len(names))
    all_ops = np.bincount(codes, minlength=len(names))
    if arch.scheduler.placement == "single_core" or arch.cores == 1:
        return {s: 0 for s in names}
    out: dict[str, int] = {}
    for want_encoder in (True, False):  # a stream belongs to the encoder group when most of its ops do
        members = [(s, float(per_stream[i])) for i, s in enumerate(names)
                   if (2 * enc_ops[i] > all_ops[i]) == want_encoder]
        load = [0.0] * arch.cores
        for name, w in sorted(members, key=lambda t: (-t[1], t[0])):
            core = min(range(arch.cores), key=lambda c: (load[c], c))
            out[name] = core
            load[core] += w
    return out


@dataclass(frozen=True)
class Residency:
    """Weights pinned on each core, their bytes, and every weight's bytes at the arch's precision."""

    pinned: tuple[frozenset[str], ...]  # per core
    weight_bytes: dict[str, float]
    home: dict[str, int]
    held_bytes: tuple[float, ...] | None = None  # per core, when slices of split weights are pinned

    @property
    def resident_bytes(self) -> float:
        if self.held_bytes is not None:
            return float(sum(self.held_bytes))
        return sum(self.weight_bytes[w] for core in self.pinned for w in core)

    @property
    def streamed_bytes(self) -> float:
        pinned = set().union(*self.pinned) if self.pinned else set()
        return sum(b for w, b in self.weight_bytes.items() if w not in pinned)


def choose_residency(ops: pd.DataFrame | OpCodes, op_core: np.ndarray, weights: dict[str, WeightMeta],
                     arch: ArchSpec) -> Residency:
    """Pin weights per core (see module docstring)."""
    wbytes = {w: tensor_bytes(meta.elements, weight_precision(arch, meta.pclass)) for w, meta in weights.items()}
    oc = as_codes(ops)
    codes, wnames = oc.weight.codes, oc.weight.names
    is_mm = oc.kind.rows_of("matmul")
    is_emb = oc.kind.rows_of("embedding")
    rows = np.where(is_emb, oc.m * oc.n, 0).astype(np.float64)
    nw = len(wnames)
    reads = np.bincount(codes.astype(np.int64) * arch.cores + op_core,  # int64: codes may be int32
                         minlength=nw * arch.cores).reshape(nw, arch.cores)
    # fetches a cache would still need: runs of consecutive uses of a weight among its core's matmuls (in
    # issue order); a run re-reads the weight from the scratchpad, so only its first use costs DRAM bytes
    mm_idx = np.flatnonzero(is_mm)
    order = mm_idx[np.argsort(_small_ints(op_core[mm_idx]), kind="stable")]
    seq_w, seq_c = codes[order], op_core[order]
    new_run = np.ones(len(order), dtype=bool)
    new_run[1:] = (seq_w[1:] != seq_w[:-1]) | (seq_c[1:] != seq_c[:-1])
    mm_reads = np.bincount(codes, weights=is_mm, minlength=nw)
    runs = np.bincount(seq_w[new_run], minlength=nw)
    mm_runs = runs if arch.scheduler.weight_reuse else mm_reads
    row_reads = np.bincount(codes, weights=rows, minlength=nw)
    home = {w: int(np.argmax(reads[i])) for i, w in enumerate(wnames) if w}  # argmax: first (lowest) core on ties
    budget = arch.core.scratchpad.size * arch.core.scratchpad.weight_fraction
    pinned: list[set[str]] = [set() for _ in range(arch.cores)]
    used = [0.0] * arch.cores
    reserve: list[tuple[float, str]] = [(0.0, "")] * arch.cores
    if arch.scheduler.weight_reuse:  # keep room for the largest bursty weight (reused in runs) of each core
        for i, w in enumerate(wnames):
            if w and mm_reads[i] >= 2 * runs[i] > 0 and wbytes[w] <= budget:
                reserve[home[w]] = max(reserve[home[w]], (wbytes[w], w))
    cands = []
    for i, w in enumerate(wnames):
        if not w:
            continue
        benefit = float(mm_runs[i]) + float(row_reads[i]) / weights[w].elements
        cands.append((-benefit, wbytes[w], w))
    for _neg, size, w in sorted(cands):
        c = home[w]
        if used[c] + size <= budget - reserve[c][0]:
            pinned[c].add(w)
            used[c] += size
    return Residency(tuple(frozenset(p) for p in pinned), wbytes, home)


def naive_mapping(arch: ArchSpec, workload: Workload, *,
                  placement_only: bool = False) -> tuple[Mapping, Residency | None]:
    """Today's mapping as a :class:`Mapping` (every stream whole on one core, per-core pinning, free load);
    with ``placement_only``, streams only (nothing pinned, no residency)."""
    oc = op_codes(workload)
    work = _work(workload)
    placement = place_streams(oc, work, arch)
    streams = {s: StreamMap((c,)) for s, c in placement.items()}
    if placement_only:
        return Mapping(name="naive", streams=streams, pinned={}), None
    core = np.array([placement[s] for s in oc.stream.names], dtype=np.int64)[oc.stream.codes]
    residency = choose_residency(oc, core, workload.meta.weights, arch)
    pinned = {w: (c,) for c, ws in enumerate(residency.pinned) for w in sorted(ws)}
    return Mapping(name="naive", streams=streams, pinned=pinned), residency


def _small_ints(x: np.ndarray) -> np.ndarray:
    """``x`` (ints >= 0) as int8 or int16 when they fit: numpy's stable argsort of such keys is a radix sort
    (linear), and a stable sort's order is the same whatever the key dtype."""
    if not len(x) or x.min() < 0 or x.max() >= 2**15:
        return x
    return x.astype(np.int8 if x.max() < 2**7 else np.int16)


def _work(workload: Workload) -> np.ndarray:
    """Machine-independent work of every op (:func:`accelsim.cost.vector.work_counts`: MACs plus SFU element
    operations), evaluated once per op class (:func:`accelsim.map.build.op_classes`, kept on the workload)."""
    oc = op_codes(workload)
    op_class, first = op_classes(workload)
    cols = [oc.kind.codes, oc.func.codes, oc.m, oc.k, oc.n]
    work = np.array([sum(work_counts(oc.kind.names[kc], oc.func.names[fc], m, k, n))
                     for kc, fc, m, k, n in np.stack([c[first] for c in cols], axis=1).tolist()], dtype=np.float64)
    return work[op_class]
