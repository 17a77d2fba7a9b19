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

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from accelsim.cost.op import UNITS
from accelsim.map.naive import Residency
from accelsim.spec.schema import ArchSpec
from accelsim.trace.coded import op_codes
from accelsim.trace.format import OP_KINDS, PHASES
from accelsim.trace.io import Workload

if TYPE_CHECKING:
    import pandas as pd


LOAD_PHASE = "load"


@dataclass(frozen=True, eq=False)
class OpRun:
    """Per-op values of a run, kept compactly: a table per op *class* (``op_class``: ops of equal class have
    equal pieces and costs, :func:`accelsim.map.build.op_classes`) -- cost row of the op's first piece, root
    core, MACs, SFU element operations, and busy s, DRAM bytes, reuse-saved bytes and residency as they are
    without any reuse-cache hit -- plus the ops whose busy / DRAM / saved / resident differ (``x_op``, in
    order; e.g. after a hit). :meth:`column` gives a full per-op array."""

    op_class: np.ndarray
    class_first: np.ndarray  # per class: its first op
    row: np.ndarray
    core: np.ndarray
    macs: np.ndarray
    elem_ops: np.ndarray
    busy_s: np.ndarray
    dram_bytes: np.ndarray
    saved_bytes: np.ndarray
    resident: np.ndarray
    x_op: np.ndarray
    x_busy_s: np.ndarray
    x_dram_bytes: np.ndarray
    x_saved_bytes: np.ndarray
    x_resident: np.ndarray

    def column(self, name: str) -> np.ndarray:
        """Per-op array of a class column (``row``, ``core``, ``macs``, ``elem_ops``, ``busy_s``, ``dram_bytes``,
        ``saved_bytes``, ``resident``), the exceptions filled in."""
        out = getattr(self, name)[self.op_class]
        if name in ("busy_s", "dram_bytes", "saved_bytes", "resident") and len(self.x_op):
            out[self.x_op] = getattr(self, "x_" + name)
        return out


@dataclass(frozen=True, eq=False)
class RunTotals:
    """What the summary needs from the played pieces, summed in one compiled pass
    (:func:`accelsim.sim.aggregate.run_of_pieces`; each sum in the order numpy would sum it)."""

    use_busy_s: np.ndarray  # (phase label + load, unit): piece busy seconds
    use_dram_bytes: np.ndarray  # per phase label + load
    busy_by_unit_s: np.ndarray  # per unit (index into UNITS)
    dram_bytes: float  # all pieces
    load_dram_bytes: float  # start-up loads
    saved_bytes: float  # over ops
    reuse_hits: int  # ops with saved bytes
    macs: int
    elem_ops: int
    macs_by_precision: np.ndarray  # per precision code (float sums)
    elem_ops_by_precision: np.ndarray  # per precision code (ints)
    path_op: np.ndarray  # op of each critical-path piece, last first (-1: a load)
    path_phase_s: np.ndarray  # per phase label + load
    path_kind_s: np.ndarray  # per kind label + load
    path_unit_s: np.ndarray  # per unit + load


class OpCosts(Mapping):
    """Per-op cost columns of a run (``out_bytes``, ``unit``, ``precision_code``, ``tiles``, ``macs``,
    ``elem_ops``, ``dram_bytes``, ``reuse_saved_bytes``, ``busy_s``; ``precision_names``, ``precision``,
    ``distinct_keys``), each built on first use from the run's compact form and then kept."""

    _ROW = ("out_bytes", "unit", "precision_code", "tiles")
    _OPS = {"macs": "macs", "elem_ops": "elem_ops", "dram_bytes": "dram_bytes", "reuse_saved_bytes": "saved_bytes",
            "busy_s": "busy_s"}
    _KEYS = (*_ROW, *_OPS, "precision_names", "precision", "distinct_keys")

    def __init__(self, ops: OpRun, row_costs: dict[str, np.ndarray]) -> None:
        self._ops = ops
        self._rows = row_costs
        self._got: dict[str, np.ndarray] = {}

    def __getitem__(self, key: str) -> np.ndarray:
        if key not in self._KEYS:
            raise KeyError(key)
        got = self._got.get(key)
        if got is None:
            if key in self._ROW:
                got = self._rows[key][self._row()]
            elif key in self._OPS:
                got = self._ops.column(self._OPS[key])
            elif key == "precision":
                got = self._rows["precision_names"][self["precision_code"]]
            else:
                got = self._rows[key]
            self._got[key] = got
        return got

    def _row(self) -> np.ndarray:
        row = self._got.get("_row")
        if row is None:
            row = self._got["_row"] = self._ops.column("row")
        return row

    def __iter__(self) -> Iterator[str]:
        return iter(self._KEYS)

    def __len__(self) -> int:
        return len(self._KEYS)


@dataclass(eq=False)
class RunResult:
    """One simulation run. Per-op arrays are indexed by op id; times in seconds. ``start_s`` and ``end_s`` are
    stored; ``blocker``, ``core``, ``unit``, ``resident`` and ``costs`` are built from the compact per-class
    form (:class:`OpRun`) on first use; the summary's totals come from the pieces' pass (:class:`RunTotals`)."""

    arch: ArchSpec
    workload: Workload
    start_s: np.ndarray
    end_s: np.ndarray
    op_blocker: np.ndarray  # per op: the op whose completion let it start (-1: none or a load); int32 or int64
    ops: OpRun
    row_costs: dict[str, np.ndarray]  # cost columns per cost row (out_bytes, unit, precision_code, tiles, ...)
    totals: RunTotals
    placement: dict[str, int]
    residency: Residency
    record_timeline: bool = False
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
    def blocker(self) -> np.ndarray:
        """Per op: the op whose completion let it start (-1: none or a start-up load), int64."""
        return self.op_blocker.astype(np.int64)

    @cached_property
    def core(self) -> np.ndarray:
        """Per op: its root core."""
        return self.ops.column("core")

    @cached_property
    def unit(self) -> np.ndarray:
        """Per op: its unit (index into accelsim.cost.UNITS)."""
        return self.costs["unit"]

    @cached_property
    def resident(self) -> np.ndarray:
        """Per op: whether its weight was on chip (pinned, or found in the reuse space)."""
        return self.ops.column("resident")

    @cached_property
    def costs(self) -> OpCosts:
        """Per-op cost columns (:class:`OpCosts`)."""
        return OpCosts(self.ops, self.row_costs)

    @property
    def critical_path(self) -> np.ndarray:
        """Op ids of the pieces on the critical path, last first (-1: a start-up load)."""
        return self.totals.path_op

    @staticmethod
    def _attribute(spans: np.ndarray, names: list[str]) -> dict[str, float]:
        """Critical-path time per label (``spans``: per label, then loads), s; the values sum to ``sim_s``."""
        out = {name: float(spans[k]) for k, name in enumerate(names)}
        out[LOAD_PHASE] = out.get(LOAD_PHASE, 0.0) + float(spans[len(names)])
        return out

    def _op_labels(self, column: str) -> np.ndarray:
        """The labels of a text column, one Python string per op (for the pandas tables below)."""
        lab = getattr(op_codes(self.workload), column)
        return np.array(lab.names, dtype=object)[lab.codes]

    @cached_property
    def by_phase(self) -> dict[str, float]:
        got = self._attribute(self.totals.path_phase_s, list(op_codes(self.workload).phase.names))
        return {p: got.get(p, 0.0) for p in (*PHASES, LOAD_PHASE)}

    @cached_property
    def phase_use(self) -> dict[str, dict[str, float]]:
        """Per phase (and ``load``): busy seconds per unit summed over cores, DRAM bytes and channel-seconds."""
        busy, nbytes = self.totals.use_busy_s, self.totals.use_dram_bytes
        names = [*op_codes(self.workload).phase.names, LOAD_PHASE]
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
        got = self._attribute(self.totals.path_kind_s, list(op_codes(self.workload).kind.names))
        return {k: got.get(k, 0.0) for k in OP_KINDS}

    @cached_property
    def by_unit(self) -> dict[str, float]:
        got = self._attribute(self.totals.path_unit_s, list(UNITS))
        return {u: got.get(u, 0.0) for u in UNITS}

    @cached_property
    def busy_by_unit(self) -> dict[str, float]:
        """Total busy time of each unit type summed over cores (and pieces), s."""
        return {u: float(self.totals.busy_by_unit_s[k]) for k, u in enumerate(UNITS)}

    @property
    def dram_bytes_total(self) -> float:
        """All bytes fetched from DRAM, start-up loads included."""
        return float(self.totals.dram_bytes)

    def _util(self) -> dict[str, float]:
        arch = self.arch
        cycles = self.sim_s * arch.clock * arch.cores
        mat = arch.core.matrix
        vec = arch.core.vector
        tot = self.totals
        ideal_mat = 0.0
        ideal_vec = 0.0
        for k, p in enumerate(list(self.row_costs["precision_names"])):  # labels sorted, as np.unique gives
            if p in mat.macs_per_pe_cycle:
                ideal_mat += tot.macs_by_precision[k] / (mat.pes * mat.macs_per_pe_cycle[p])
            if p in vec.elems_per_lane_cycle:
                ideal_vec += tot.elem_ops_by_precision[k] / (vec.lanes * vec.elems_per_lane_cycle[p])
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
        tot = self.totals
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
            "load_dram_bytes": float(tot.load_dram_bytes),
            "weight_bytes": float(sum(self.residency.weight_bytes.values())),
            "resident_weight_bytes": float(self.residency.resident_bytes),
            "streamed_weight_bytes": float(self.residency.streamed_bytes),
            # distinct weights (a weight split over cores pins a slice on each, and counts once)
            "resident_weights": len(frozenset().union(*self.residency.pinned)),
            "streamed_weights": len(self.residency.weight_bytes) - len(frozenset().union(*self.residency.pinned)),
            "reuse_hits": int(tot.reuse_hits),
            "reuse_saved_bytes": float(tot.saved_bytes),
            "matrix_macs": int(tot.macs),
            "sfu_ops": int(tot.elem_ops),
            "critical_path_ops": int(len(tot.path_op)),
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
