"""Placement (which core runs each stream) and residency (which weights stay in each core's scratchpad).

Placement, ``balanced``: streams are split into two phase groups that never overlap in time for one
utterance -- the encoder (its layers' two directions) and the decoder (prediction, joint, LMs, search) --
and within each group assigned longest-processing-time first: streams sorted by estimated work (sum of their
ops' on-chip busy time; ties by name), each to the least-loaded core (ties: lowest index). The two
directions of an encoder layer have equal work, so they land on different cores, and so do the prediction
network and the two LMs. ``single_core`` puts everything on core 0 (a baseline).

Residency: a weight belongs to the core that reads it most (ties: lowest core). Each core pins its weights
greedily by DRAM bytes saved per scratchpad byte (the number of matmuls that read the weight; embeddings
count rows read / table size), largest first, ties smaller first then by name, while they fit in
``scratchpad.size * weight_fraction``; a weight that does not fit is skipped and smaller ones are still tried.
Everything not pinned is streamed from DRAM on every use (double-buffered tiles).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from accelsim.cost.transfer import tensor_bytes
from accelsim.spec.schema import ArchSpec
from accelsim.trace.format import WeightMeta


def phase_group(phase: str) -> str:
    return "encoder" if phase == "encoder" else "decoder"


def place_streams(ops: pd.DataFrame, work_s: np.ndarray, arch: ArchSpec) -> dict[str, int]:
    """Stream name -> core index (see module docstring)."""
    streams = ops["stream"].astype(str).to_numpy()
    phases = ops["phase"].astype(str).to_numpy()
    frame = pd.DataFrame({"stream": streams, "phase": phases, "work": work_s})
    per = frame.groupby("stream", sort=True).agg(work=("work", "sum"), phase=("phase", lambda p: p.mode().iloc[0]))
    if arch.scheduler.placement == "single_core" or arch.cores == 1:
        return {s: 0 for s in per.index}
    out: dict[str, int] = {}
    for group in ("encoder", "decoder"):
        members = per[[phase_group(p) == group for p in per["phase"]]]
        load = [0.0] * arch.cores
        for name, work in sorted(zip(members.index, members["work"]), key=lambda t: (-t[1], t[0])):
            core = min(range(arch.cores), key=lambda c: (load[c], c))
            out[name] = core
            load[core] += work
    return out


@dataclass(frozen=True)
class Residency:
    """Weights pinned on each core, their bytes, and every weight's bytes at the arch's precision."""

    pinned: tuple[frozenset[str], ...]  # per core
    weight_bytes: dict[str, float]
    home: dict[str, int]

    @property
    def resident_bytes(self) -> float:
        return sum(self.weight_bytes[w] for core in self.pinned for w in core)

    @property
    def streamed_bytes(self) -> float:
        pinned = set().union(*self.pinned) if self.pinned else set()
        return sum(b for w, b in self.weight_bytes.items() if w not in pinned)


def weight_precision(arch: ArchSpec, pclass: str) -> str:
    policy = getattr(arch.precision, pclass)
    return policy.weights if hasattr(policy, "weights") else policy


def choose_residency(ops: pd.DataFrame, op_core: np.ndarray, weights: dict[str, WeightMeta],
                     arch: ArchSpec) -> Residency:
    """Pin weights per core (see module docstring)."""
    wbytes = {w: tensor_bytes(meta.elements, weight_precision(arch, meta.pclass)) for w, meta in weights.items()}
    names = ops["weight"].astype(str).to_numpy()
    kinds = ops["kind"].astype(str).to_numpy()
    read_bytes = np.where(kinds == "embedding", ops["m"].to_numpy() * ops["n"].to_numpy(), 0).astype(np.float64)
    frame = pd.DataFrame({"w": names, "core": op_core, "mm": kinds == "matmul", "rows": read_bytes})
    frame = frame[frame["w"] != ""]
    counts = frame.groupby(["w", "core"], sort=True).size().reset_index(name="reads")
    home: dict[str, int] = {}
    for w, grp in counts.groupby("w", sort=True):
        best = grp.sort_values(["reads", "core"], ascending=[False, True]).iloc[0]
        home[str(w)] = int(best["core"])
    per_w = frame.groupby("w", sort=True).agg(mm=("mm", "sum"), rows=("rows", "sum"))
    budget = arch.core.scratchpad.size * arch.core.scratchpad.weight_fraction
    pinned: list[set[str]] = [set() for _ in range(arch.cores)]
    used = [0.0] * arch.cores
    cands = []
    for w, row in per_w.iterrows():
        elements = weights[str(w)].elements
        benefit = float(row["mm"]) + float(row["rows"]) / elements
        cands.append((-benefit, wbytes[str(w)], str(w)))
    for _neg, size, w in sorted(cands):
        c = home[w]
        if used[c] + size <= budget:
            pinned[c].add(w)
            used[c] += size
    return Residency(tuple(frozenset(p) for p in pinned), wbytes, home)
