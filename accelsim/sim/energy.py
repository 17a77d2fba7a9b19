"""Energy of a finished run: its action counts priced by the arch's energy table (``accelsim.cost.energy``).

Counts per op come from the op's kind, shape and precisions (evaluated once per distinct key, as
``cost_arrays`` does), what the run decided (DRAM bytes after reuse hits, stream tiles) and its placement: each
dependency edge between ops on different cores carries the producer's result bytes over the ring hops between
them (charged to the consumer). Static power runs for the whole simulated time; by phase it is split along the
critical-path attribution (``RunResult.by_phase``), so each family of totals sums to the run's energy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from accelsim.cost.energy import (
    COMPONENTS,
    component_of,
    EnergyTable,
    dynamic_pJ,
    energy_table,
    op_action_counts,
    op_precisions,
    peak_pJ_per_mac,
    static_J,
    tops_per_W,
)
from accelsim.cost.op import dense_key
from accelsim.trace.coded import op_codes
from accelsim.cost.transfer import ring_hops
from accelsim.sim.aggregate import energy_of_ops
from accelsim.spec.ert import action_names, load_ert
from accelsim.spec.schema import ArchSpec
from accelsim.errors import SpecError
from accelsim.trace.format import PHASES

if TYPE_CHECKING:
    from accelsim.sim.result import RunResult


def load_energy_table(arch: ArchSpec) -> EnergyTable | None:
    """The arch's energy table, reading its ERT file (relative to the arch file) if it names one; None when the
    arch has no ``energy:`` section."""
    if arch.energy is None:
        return None
    ert = None
    if arch.energy.ert:
        path = Path(arch.energy.ert)
        if not path.is_absolute() and arch.source:
            path = Path(arch.source).parent / path
        ert = load_ert(path)
    return energy_table(arch, ert)


@dataclass(frozen=True)
class RunEnergy:
    """Energy of one run. Joules; ``counts`` are action totals (``accelsim.spec.ert.action_names``)."""

    by_component_J: dict[str, float]  # COMPONENTS, sums to total_J
    by_phase_J: dict[str, float]  # PHASES, sums to total_J
    counts: dict[str, float]
    static_W: float
    sim_s: float
    audio_s: float
    utterances: int
    macs: float
    peak_tops_per_W: float  # configured whole-chip peak at the run's matmul precision

    @property
    def total_J(self) -> float:
        return float(sum(self.by_component_J.values()))

    def summary(self) -> dict[str, float]:
        """Flat, unit-suffixed energy keys for ``RunResult.summary()``."""
        total = self.total_J
        chip = total - self.by_component_J["dram"]
        out = {
            "energy_J": total,
            "energy_per_utt_mJ": total / max(self.utterances, 1) * 1e3,
            "energy_mJ_per_audio_s": total / self.audio_s * 1e3,
            "avg_power_W": total / self.sim_s if self.sim_s > 0 else 0.0,
            "effective_tops_per_W": tops_per_W(self.macs, total),
            "chip_tops_per_W": tops_per_W(self.macs, chip),
            "peak_tops_per_W": self.peak_tops_per_W,
        }
        out.update({f"energy_{c}_J": v for c, v in self.by_component_J.items()})
        out.update({f"energy_phase_{p}_J": v for p, v in self.by_phase_J.items()})
        return out


def _per_key_counts(result: RunResult) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """(energy key of each op class, op count per key, on-chip counts matrix per key x action, action names).

    A key is a distinct (kind, func, precision class, weight, m, k, n), numbered in order of first appearance
    among the ops (as :func:`accelsim.cost.op.dense_key` numbers them); found from the op classes' first ops
    (:func:`accelsim.map.build.op_classes` refine these keys by stream, and are numbered in that order too)."""
    from accelsim.map.build import op_classes

    arch = result.arch
    wclass = {w: meta.pclass for w, meta in result.workload.meta.weights.items()}
    oc = op_codes(result.workload)
    op_class, class_first = op_classes(result.workload)
    cols, labels = [], {}
    for name in ("kind", "func", "pclass", "weight"):
        lab = getattr(oc, name)
        labels[name] = list(lab.names)
        cols.append(lab.codes[class_first])
    cols += [oc.m[class_first].astype(np.int64), oc.k[class_first].astype(np.int64),
             oc.n[class_first].astype(np.int64)]
    class_key, key_first = dense_key(cols)
    per_class = np.bincount(op_class, minlength=len(class_first))
    per_key = np.zeros(len(key_first), dtype=np.int64)
    np.add.at(per_key, class_key, per_class)  # == np.bincount of the ops' keys (ints)
    names = list(action_names())
    index = {a: i for i, a in enumerate(names)}
    matrix = np.zeros((len(key_first), len(names)), dtype=np.float64)
    for row, op in enumerate(key_first.tolist()):
        kind, func, pclass = (labels[c][cols[i][op]] for i, c in enumerate(("kind", "func", "pclass")))
        w_prec, a_prec, prec = op_precisions(arch, kind, pclass, wclass.get(labels["weight"][cols[3][op]], ""))
        counts = op_action_counts(kind, func, int(cols[4][op]), int(cols[5][op]), int(cols[6][op]), w_prec,
                                  a_prec, prec, arch.core.matrix)
        for action, count in counts.items():
            matrix[row, index[action]] = count
    return class_key, per_key, matrix, names


#: the per-op actions a run's data movement adds, in the order they are priced (``stream_action_counts``
#: order, then the ring's byte-hops)
EXTRA_ACTIONS = ("dram.byte", "scratchpad.write_byte", "scratchpad.read_byte", "dma.setup", "ring.byte_hop")


def _exact_counts(result: RunResult, hop_table: np.ndarray) -> bool:
    """Whether the run's extra action counts (DRAM bytes, result bytes, tiles, byte-hops) are multiples of 1/8
    whose sums over the ops stay below ``EXACT_LIMIT / 8`` (:func:`accelsim.sim.aggregate.energy_of_ops`)."""
    from accelsim.sim.aggregate import EXACT_LIMIT, eighths_only

    ops, rows = result.ops, result.row_costs
    oc = op_codes(result.workload)
    out_bytes = np.asarray(rows["out_bytes"], dtype=np.float64)
    tiles = np.asarray(rows["tiles"], dtype=np.float64)
    parts = (ops.dram_bytes, ops.x_dram_bytes, out_bytes, tiles, hop_table.reshape(-1))
    if not all(eighths_only(np.asarray(v, dtype=np.float64)) for v in parts):
        return False
    top = max(float(v.max(initial=0.0)) for v in parts[:4])
    # an action's sum: at most twice the largest value per op; the ring's at most it per edge times the hops
    most = max(2.0 * top * len(ops.op_class), top * float(hop_table.max(initial=0.0)) * len(oc.dep_src))
    return most * 8.0 < EXACT_LIMIT


def run_energy(result: RunResult) -> RunEnergy | None:
    """Energy of ``result`` (module doc); None when its arch has no ``energy:`` section.

    Per op: the on-chip counts of its key plus what the run's data movement adds (``stream_action_counts``:
    DRAM bytes after reuse hits, stream tiles, an embedding's row copy; and each input edge's result bytes
    times the ring hops between the cores), priced per component; summed in one compiled pass
    (:func:`accelsim.sim.aggregate.energy_of_ops`) in the order numpy sums per-op arrays."""
    from accelsim.map.build import op_classes

    table = load_energy_table(result.arch)
    if table is None:
        return None
    arch = result.arch
    class_key, per_key, matrix, names = _per_key_counts(result)
    oc = op_codes(result.workload)
    ops = result.ops
    rows = result.row_costs
    hop_table = np.array([[0 if a == b else (ring_hops(a, b, arch.cores) if arch.interconnect.topology == "ring"
                                             else 1) for b in range(arch.cores)] for a in range(arch.cores)],
                         dtype=np.float64)
    key_pJ = dynamic_pJ({a: matrix[:, i] for i, a in enumerate(names)}, table)
    comps = list(key_pJ)
    key_matrix = np.ascontiguousarray(np.array(  # (key, component): an op's components side by side
        [np.broadcast_to(np.asarray(key_pJ[c], dtype=np.float64), (len(matrix),)) for c in comps],
        dtype=np.float64).reshape(len(comps), len(matrix)).T)
    extra_comp = np.array([comps.index(component_of(a)) if a in table.action_pJ else -1 for a in EXTRA_ACTIONS],
                          dtype=np.int64)
    extra_pJ = np.array([table.action_pJ.get(a, 0.0) for a in EXTRA_ACTIONS], dtype=np.float64)
    kind_names = list(oc.kind.names)
    wl_class = op_classes(result.workload)[0]
    args = (ops.op_class, ops.row, ops.core, ops.dram_bytes, oc.kind.codes[ops.class_first], ops.x_op,
            ops.x_dram_bytes, np.asarray(rows["out_bytes"], dtype=np.float64), np.asarray(rows["tiles"]),
            kind_names.index("matmul") if "matmul" in kind_names else -1,
            kind_names.index("embedding") if "embedding" in kind_names else -1, oc.phase.codes, len(oc.phase.names),
            oc.dep_ptr, oc.dep_src, hop_table, class_key[wl_class[ops.class_first]], key_matrix, extra_comp,
            extra_pJ)
    # byte counts that are multiples of 1/8 sum exactly in any order (integers of eighths); else pairwise sums
    by_comp_pJ, per_phase_pJ, extra_totals, extra_nonzero = energy_of_ops(*args, _exact_counts(result, hop_table))
    for a, ok, nonzero in zip(EXTRA_ACTIONS, extra_comp, extra_nonzero):
        if ok < 0 and nonzero:
            raise SpecError(f"energy table has no energy for action {a!r}, which the run performs")
    by_component = {c: float(by_comp_pJ[i]) * 1e-12 for i, c in enumerate(comps)}
    by_component["static"] = static_J(table, result.sim_s)
    by_component = {c: by_component[c] for c in COMPONENTS}
    per_phase = per_phase_pJ * 1e-12
    dyn_phase = {p: float(per_phase[i]) for i, p in enumerate(oc.phase.names)}
    crit = result.by_phase
    by_phase = {p: dyn_phase.get(p, 0.0) + table.static_W * crit.get(p, 0.0) for p in PHASES}

    totals = per_key @ matrix
    counts = {a: float(totals[i]) for i, a in enumerate(names)}
    for i, a in enumerate(EXTRA_ACTIONS):
        counts[a] = counts.get(a, 0.0) + float(extra_totals[i])
    macs = float(sum(v for a, v in counts.items() if a.startswith("mac.")))
    mm = arch.precision.matmul.compute
    peak = 2.0 / peak_pJ_per_mac(table, arch, mm)
    values = [*by_component.values(), *by_phase.values()]
    # a run whose time is already non-finite (e.g. a near-zero bandwidth) passes its energy on unchecked: the
    # result boundary (accelsim.validation.check_summary) refuses it naming the inputs; finite time and
    # non-finite energy would be a bug here
    if np.isfinite(result.sim_s) and (not np.isfinite(values).all() or min(values) < 0):
        raise ValueError(f"energy of {result.workload.name} on {arch.name} is not finite and >= 0: {by_component}")
    return RunEnergy(by_component, by_phase, counts, table.static_W, result.sim_s, result.workload.audio_seconds,
                     int(result.workload.meta.audio.utterances), macs, peak)
