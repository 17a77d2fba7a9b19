"""What a run produced: per-op times, critical-path attribution, utilisation, bytes; summary and timeline.

Time attribution (``phase_<p>_s``, ``kind_<k>_s``, ``unit_<u>_s``): *critical-path, exclusive*. Starting
from the op that finishes last, the engine's blocker links (the op whose completion let each op start)
are followed back to time 0. Each op on that path owns the interval from its blocker's end to its own end
(its wait for the result to cross cores, queueing behind nothing, and its own execution). The intervals
tile ``[0, sim_s]`` exactly, so the phases (and the kinds, and the units) each sum to ``sim_s``. Work that
ran in parallel off the critical path is not counted there; see ``busy_<u>_s`` and the utilisations.
The path runs over the plan's *pieces* (an op split over cores is several pieces; a start-up weight load is
a piece of no op, attributed to the pseudo-phase ``load``).

Resource use per phase (``use_<phase>_<unit>_busy_s``, ``use_<phase>_dram_bytes``, ``use_<phase>_channel_s``):
*inclusive*, everything the phase's pieces used wherever they ran: unit busy time summed over cores, bytes
fetched from DRAM and the DRAM channel-seconds those bytes occupy (bytes / bandwidth). These do not sum to
``sim_s``; they say what dropping a phase would free, also for work hidden under another phase.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from accelsim.cost.op import UNITS
from accelsim.sim.aggregate import busy_by_unit_s, use_by_label
from accelsim.map.naive import Residency
from accelsim.spec.schema import ArchSpec
from accelsim.trace.coded import op_codes
from accelsim.trace.format import OP_KINDS, PHASES
from accelsim.trace.io import Workload

if TYPE_CHECKING:
    import pandas as pd


LOAD_PHASE = "load"


@dataclass(frozen=True, eq=False)
class PieceRun:
    """Per-piece arrays of a played plan: the op each piece belongs to (-1: a start-up load), its times (s),
    blocker piece, core, local unit (index into UNITS), DRAM bytes fetched and whether it hit on chip."""

    piece_op: np.ndarray
    start_s: np.ndarray
    end_s: np.ndarray
    blocker: np.ndarray
    core: np.ndarray
    unit: np.ndarray
    dram_bytes: np.ndarray


@dataclass(eq=False)
class RunResult:
    """One simulation run. Arrays are indexed by op id; times in seconds."""

    arch: ArchSpec
    workload: Workload
    start_s: np.ndarray
    end_s: np.ndarray
    blocker: np.ndarray
    core: np.ndarray
    unit: np.ndarray  # index into accelsim.cost.UNITS
    costs: dict[str, np.ndarray]
    resident: np.ndarray
    placement: dict[str, int]
    residency: Residency
    record_timeline: bool = False
    pieces: PieceRun | None = None  # per-piece arrays of the plan (None: pieces are the ops)
    mapping: object | None = None  # the accelsim.map.mapping.Mapping that was played
    wall_s: float = field(default=0.0, compare=False)
    wall_phases_s: dict[str, float] = field(default_factory=dict, compare=False)  # host seconds per stage

    @property
    def sim_s(self) -> float:
        return float(self.end_s.max())

    @property
    def rtf(self) -> float:
        return self.sim_s / self.workload.audio_seconds

    @cached_property
    def _piece_path(self) -> np.ndarray:
        """Piece ids on the critical path, last first."""
        pr = self.pieces
        end, blocker = (pr.end_s, pr.blocker) if pr is not None else (self.end_s, self.blocker)
        last = int(np.argmax(end))
        if "accelsim.sim.fast" in sys.modules:  # compiled walk, when the fast engine has loaded it anyway
            return sys.modules["accelsim.sim.fast"].blocker_chain(blocker, last)
        path = []
        i = last
        while i >= 0:
            path.append(i)
            i = int(blocker[i])
        return np.array(path, dtype=np.int64)

    @cached_property
    def critical_path(self) -> np.ndarray:
        """Op ids of the pieces on the critical path, last first (-1: a start-up load)."""
        path = self._piece_path
        return path if self.pieces is None else self.pieces.piece_op[path]

    def _attribute(self, codes: np.ndarray, names: list[str]) -> dict[str, float]:
        """Critical-path time per label (``names[codes[op]]``; loads: ``load``), s; the values sum to ``sim_s``."""
        path = self._piece_path
        pr = self.pieces
        end, blocker = (pr.end_s, pr.blocker) if pr is not None else (self.end_s, self.blocker)
        blk = blocker[path]
        prev = np.where(blk >= 0, end[np.maximum(blk, 0)], 0.0)
        ops = path if pr is None else pr.piece_op[path]
        labels = np.where(ops >= 0, codes[np.maximum(ops, 0)], len(names))
        spans = np.bincount(labels, weights=end[path] - prev, minlength=len(names) + 1)
        out = {name: float(spans[k]) for k, name in enumerate(names)}
        out[LOAD_PHASE] = out.get(LOAD_PHASE, 0.0) + float(spans[len(names)])
        return out

    def _codes(self, column: str) -> tuple[np.ndarray, list[str]]:
        """Integer codes per op and labels of a text column (the workload's cached integer view)."""
        lab = getattr(op_codes(self.workload), column)
        return lab.codes, list(lab.names)

    def _op_labels(self, column: str) -> np.ndarray:
        """The labels of a text column, one Python string per op (for the pandas tables below)."""
        lab = getattr(op_codes(self.workload), column)
        return np.array(lab.names, dtype=object)[lab.codes]

    @cached_property
    def by_phase(self) -> dict[str, float]:
        got = self._attribute(*self._codes("phase"))
        return {p: got.get(p, 0.0) for p in (*PHASES, LOAD_PHASE)}

    @cached_property
    def phase_use(self) -> dict[str, dict[str, float]]:
        """Per phase (and ``load``): busy seconds per unit summed over cores, DRAM bytes and channel-seconds."""
        pr = self.pieces
        if pr is None:
            op, start, end, unit, dram = (np.arange(len(self.end_s)), self.start_s, self.end_s, self.unit,
                                          self.costs["dram_bytes"])
        else:
            op, start, end, unit, dram = pr.piece_op, pr.start_s, pr.end_s, pr.unit, pr.dram_bytes
        codes, names = self._codes("phase")
        busy, nbytes = use_by_label(np.asarray(op), codes, len(names), np.asarray(unit), len(UNITS),
                                    np.asarray(start, dtype=np.float64), np.asarray(end, dtype=np.float64),
                                    np.asarray(dram, dtype=np.float64))
        names = [*names, LOAD_PHASE]
        out = {}
        for p in (*PHASES, LOAD_PHASE):
            row = {f"{u}_busy_s": 0.0 for u in UNITS} | {"dram_bytes": 0.0, "channel_s": 0.0}
            if p in names:
                i = names.index(p)
                row.update({f"{u}_busy_s": float(busy[i, j]) for j, u in enumerate(UNITS)})
                row["dram_bytes"] = float(nbytes[i])
                row["channel_s"] = float(nbytes[i] / self.arch.offchip.bandwidth)
            out[p] = row
        return out

    @cached_property
    def by_kind(self) -> dict[str, float]:
        got = self._attribute(*self._codes("kind"))
        return {k: got.get(k, 0.0) for k in OP_KINDS}

    @cached_property
    def by_unit(self) -> dict[str, float]:
        got = self._attribute(np.asarray(self.unit, dtype=np.int64), list(UNITS))
        return {u: got.get(u, 0.0) for u in UNITS}

    @cached_property
    def busy_by_unit(self) -> dict[str, float]:
        """Total busy time of each unit type summed over cores (and pieces), s."""
        pr = self.pieces
        start, end, unit = (self.start_s, self.end_s, self.unit) if pr is None else (pr.start_s, pr.end_s, pr.unit)
        got = busy_by_unit_s(np.asarray(unit), len(UNITS), np.asarray(start, dtype=np.float64),
                             np.asarray(end, dtype=np.float64))
        return {u: float(got[k]) for k, u in enumerate(UNITS)}

    @property
    def dram_bytes_total(self) -> float:
        """All bytes fetched from DRAM, start-up loads included."""
        if self.pieces is None:
            return float(self.costs["dram_bytes"].sum())
        return float(self.pieces.dram_bytes.sum())

    def _util(self) -> dict[str, float]:
        arch = self.arch
        cycles = self.sim_s * arch.clock * arch.cores
        mat = arch.core.matrix
        vec = arch.core.vector
        if "precision_code" in self.costs:  # integer codes, labels sorted (as np.unique would give)
            code, names = self.costs["precision_code"], list(self.costs["precision_names"])
        else:
            uniq, code = np.unique(self.costs["precision"], return_inverse=True)
            names = list(uniq)
        macs = self.costs["macs"].astype(np.float64)
        ideal_mat = 0.0
        ideal_vec = 0.0
        for k, p in enumerate(names):
            sel = code == k
            if p in mat.macs_per_pe_cycle:
                ideal_mat += macs[sel].sum() / (mat.pes * mat.macs_per_pe_cycle[p])
            if p in vec.elems_per_lane_cycle:
                ideal_vec += self.costs["elem_ops"][sel].sum() / (vec.lanes * vec.elems_per_lane_cycle[p])
        dram = self.dram_bytes_total
        return {
            "util_matrix": float(ideal_mat / cycles),
            "util_sfu": float(ideal_vec / cycles),
            "util_dram": float(dram / (arch.offchip.bandwidth * self.sim_s)),
        }

    @cached_property
    def energy(self):
        """Energy of the run (:class:`accelsim.sim.energy.RunEnergy`); None when the arch has no energy: section."""
        from accelsim.sim.energy import run_energy

        return run_energy(self)

    def summary(self) -> dict[str, float | int | str]:
        """Flat, unit-suffixed metrics. ``phase_*_s``, ``kind_*_s`` and ``unit_*_s`` are critical-path
        exclusive attributions (module docstring) and each family sums to ``sim_s``; ``busy_*_s`` are unit busy
        times summed over cores; ``reuse_*`` count matmuls that found a streamed weight still in
        the scratchpad (weight reuse) and the DRAM bytes that saved; ``util_*`` are achieved / peak work (MACs at
        each op's precision, SFU element
        operations, DRAM bytes) over ``sim_s`` and all cores, in 0..1."""
        meta = self.workload.meta
        out: dict[str, float | int | str] = {
            "arch": self.arch.name,
            "workload": self.workload.name,
            "precision_mode": self.arch.precision_mode,
            "beam": meta.search.beam,
            "fusion": meta.search.fusion,
            "synthetic": str(meta.synthetic).lower(),
            "cores": self.arch.cores,
            "audio_s": float(meta.audio.seconds),
            "sim_s": self.sim_s,
            "rtf": self.rtf,
            "num_ops": int(len(self.end_s)),
        }
        out.update({f"phase_{p}_s": v for p, v in self.by_phase.items()})
        out.update({f"kind_{k}_s": v for k, v in self.by_kind.items()})
        out.update({f"unit_{u}_s": v for u, v in self.by_unit.items()})
        out.update({f"busy_{u}_s": v for u, v in self.busy_by_unit.items()})
        for p, row in self.phase_use.items():
            out.update({f"use_{p}_{key}": v for key, v in row.items()})
        out.update(self._util())
        out.update({
            "dram_bytes": self.dram_bytes_total,
            "load_dram_bytes": float(self.pieces.dram_bytes[self.pieces.piece_op < 0].sum()) if self.pieces is not None else 0.0,
            "weight_bytes": float(sum(self.residency.weight_bytes.values())),
            "resident_weight_bytes": float(self.residency.resident_bytes),
            "streamed_weight_bytes": float(self.residency.streamed_bytes),
            # distinct weights (a weight split over cores pins a slice on each, and counts once)
            "resident_weights": len(frozenset().union(*self.residency.pinned)),
            "streamed_weights": len(self.residency.weight_bytes) - len(frozenset().union(*self.residency.pinned)),
            "reuse_hits": int(np.count_nonzero(self.costs["reuse_saved_bytes"])),
            "reuse_saved_bytes": float(self.costs["reuse_saved_bytes"].sum()),
            "matrix_macs": int(self.costs["macs"].sum()),
            "sfu_ops": int(self.costs["elem_ops"].sum()),
            "critical_path_ops": int(len(self.critical_path)),
            "mapping": getattr(self.mapping, "name", "naive"),
            "overlap": self.arch.scheduler.overlap,
            "split_streams": int(sum(len(sm.cores) > 1 for sm in getattr(self.mapping, "streams", {}).values())),
        })
        out.update(self.energy.summary() if self.energy is not None else {})  # energy_*: accelsim.sim.energy
        return out

    @cached_property
    def timeline(self) -> pd.DataFrame | None:
        """One row per op (when ``record_timeline``): op_id, core, unit, phase, kind, stream, start_s, end_s."""
        if not self.record_timeline:
            return None
        import pandas as pd

        return pd.DataFrame({
            "op_id": np.arange(self.workload.n_ops, dtype=np.int64),
            "core": self.core,
            "unit": pd.Categorical(np.array(UNITS, dtype=object)[self.unit], categories=list(UNITS)),
            "phase": self._op_labels("phase"),
            "kind": self._op_labels("kind"),
            "stream": self._op_labels("stream"),
            "start_s": self.start_s,
            "end_s": self.end_s,
            "dram_bytes": self.costs["dram_bytes"],
            "resident": self.resident,
        })

    def per_op(self) -> pd.DataFrame:
        """Per-op costs and times (always available)."""
        import pandas as pd

        return pd.DataFrame({
            "op_id": np.arange(self.workload.n_ops, dtype=np.int64), "core": self.core,
            "unit": np.array(UNITS, dtype=object)[self.unit], "phase": self._op_labels("phase"),
            "kind": self._op_labels("kind"), "start_s": self.start_s, "end_s": self.end_s,
            "pure_s": self.costs["busy_s"], "dram_bytes": self.costs["dram_bytes"], "macs": self.costs["macs"],
            "resident": self.resident,
        })
