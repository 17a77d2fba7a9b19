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

import numpy as np
import pandas as pd

from accelsim.cost.op import category_codes, cost_arrays
from accelsim.cost.transfer import tensor_bytes
from accelsim.map.build import weight_precision
from accelsim.map.mapping import Mapping, StreamMap
from accelsim.spec.schema import ArchSpec
from accelsim.trace.format import WeightMeta
from accelsim.trace.io import Workload


def place_streams(ops: pd.DataFrame, work: np.ndarray, arch: ArchSpec) -> dict[str, int]:
    """Stream name -> core index (see module docstring); ``work[i]`` is op i's machine-independent work."""
    codes, names = category_codes(ops["stream"])
    pcodes, pnames = category_codes(ops["phase"])
    is_enc = np.array([p == "encoder" for p in pnames], dtype=bool)[pcodes]
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


def choose_residency(ops: pd.DataFrame, op_core: np.ndarray, weights: dict[str, WeightMeta],
                     arch: ArchSpec) -> Residency:
    """Pin weights per core (see module docstring)."""
    wbytes = {w: tensor_bytes(meta.elements, weight_precision(arch, meta.pclass)) for w, meta in weights.items()}
    codes, wnames = category_codes(ops["weight"])
    kcodes, knames = category_codes(ops["kind"])
    is_mm = np.array([k == "matmul" for k in knames], dtype=bool)[kcodes]
    is_emb = np.array([k == "embedding" for k in knames], dtype=bool)[kcodes]
    rows = np.where(is_emb, ops["m"].to_numpy() * ops["n"].to_numpy(), 0).astype(np.float64)
    nw = len(wnames)
    reads = np.bincount(codes * arch.cores + op_core, minlength=nw * arch.cores).reshape(nw, arch.cores)
    # fetches a cache would still need: runs of consecutive uses of a weight among its core's matmuls (in
    # issue order); a run re-reads the weight from the scratchpad, so only its first use costs DRAM bytes
    mm_idx = np.flatnonzero(is_mm)
    order = mm_idx[np.argsort(op_core[mm_idx], kind="stable")]
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


def naive_mapping(arch: ArchSpec, workload: Workload) -> tuple[Mapping, Residency]:
    """Today's mapping as a :class:`Mapping` (every stream whole on one core, per-core pinning, free load)."""
    ops = workload.ops
    n = len(ops)
    wclass = {w: meta.pclass for w, meta in workload.meta.weights.items()}
    on_chip = cost_arrays(ops, arch, wclass, np.ones(n, dtype=bool))
    placement = place_streams(ops, (on_chip["macs"] + on_chip["elem_ops"]).astype(np.float64), arch)
    scodes, snames = category_codes(ops["stream"])
    core = np.array([placement[s] for s in snames], dtype=np.int64)[scodes]
    residency = choose_residency(ops, core, workload.meta.weights, arch)
    pinned = {w: (c,) for c, ws in enumerate(residency.pinned) for w in sorted(ws)}
    streams = {s: StreamMap((c,)) for s, c in placement.items()}
    return Mapping(name="naive", streams=streams, pinned=pinned), residency
