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
    EnergyTable,
    dynamic_pJ,
    energy_table,
    op_action_counts,
    op_precisions,
    peak_pJ_per_mac,
    static_J,
    stream_action_counts,
    tops_per_W,
)
from accelsim.cost.op import dense_key
from accelsim.trace.coded import op_codes
from accelsim.cost.transfer import ring_hops
from accelsim.sim.aggregate import ring_byte_hops
from accelsim.spec.ert import action_names, load_ert
from accelsim.spec.schema import ArchSpec
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


def _per_key_counts(result: RunResult) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(codes per op, counts matrix per distinct key x action, action names) of the on-chip counts."""
    arch = result.arch
    wclass = {w: meta.pclass for w, meta in result.workload.meta.weights.items()}
    oc = op_codes(result.workload)
    cols, labels = [], {}
    for name in ("kind", "func", "pclass", "weight"):
        lab = getattr(oc, name)
        codes, labels[name] = lab.codes, list(lab.names)
        cols.append(codes)
    cols += [getattr(oc, c).astype(np.int64, copy=False) for c in ("m", "k", "n")]
    key, first = dense_key(cols)
    names = list(action_names())
    index = {a: i for i, a in enumerate(names)}
    matrix = np.zeros((len(first), len(names)), dtype=np.float64)
    for row, op in enumerate(first.tolist()):
        kind, func, pclass = (labels[c][cols[i][op]] for i, c in enumerate(("kind", "func", "pclass")))
        w_prec, a_prec, prec = op_precisions(arch, kind, pclass, wclass.get(labels["weight"][cols[3][op]], ""))
        counts = op_action_counts(kind, func, int(cols[4][op]), int(cols[5][op]), int(cols[6][op]), w_prec,
                                  a_prec, prec, arch.core.matrix)
        for action, count in counts.items():
            matrix[row, index[action]] = count
    return key, matrix, names


def run_energy(result: RunResult) -> RunEnergy | None:
    """Energy of ``result`` (module doc); None when its arch has no ``energy:`` section."""
    table = load_energy_table(result.arch)
    if table is None:
        return None
    arch = result.arch
    n = result.workload.n_ops
    key, matrix, names = _per_key_counts(result)
    oc = op_codes(result.workload)
    costs = result.costs
    extra = stream_action_counts((oc.kind.codes, oc.kind.names), costs["dram_bytes"], costs["tiles"],
                                 costs["out_bytes"])
    core = np.asarray(result.core, dtype=np.int64)
    hop_table = np.array([[0 if a == b else (ring_hops(a, b, arch.cores) if arch.interconnect.topology == "ring"
                                             else 1) for b in range(arch.cores)] for a in range(arch.cores)],
                         dtype=np.float64)
    # per op: ring_action_counts of its input edges (result bytes x hops), summed in edge order (compiled)
    extra["ring.byte_hop"] = ring_byte_hops(oc.dep_ptr, oc.dep_src, np.asarray(costs["out_bytes"], np.float64),
                                            core, hop_table)

    # per-op dynamic energy by component: on-chip counts (per key) plus the run's extras (per op)
    key_pJ = dynamic_pJ({a: matrix[:, i] for i, a in enumerate(names)}, table)
    extra_pJ = dynamic_pJ(extra, table)
    # one component's per-op array at a time: its total, then added into the per-op sum in component order
    by_component = {}
    op_pJ = None
    for c in key_pJ:
        per_op = (np.broadcast_to(np.asarray(key_pJ[c], dtype=np.float64), (len(matrix),))[key]
                  + np.broadcast_to(np.asarray(extra_pJ[c], dtype=np.float64), (n,)))
        by_component[c] = float(per_op.sum()) * 1e-12
        op_pJ = per_op if op_pJ is None else np.add(op_pJ, per_op, out=op_pJ)
    per_op = None
    by_component["static"] = static_J(table, result.sim_s)
    by_component = {c: by_component[c] for c in COMPONENTS}
    pcodes, pnames = oc.phase.codes, list(oc.phase.names)
    per_phase = np.bincount(pcodes, weights=op_pJ, minlength=len(pnames)) * 1e-12
    dyn_phase = {p: float(per_phase[i]) for i, p in enumerate(pnames)}
    crit = result.by_phase
    by_phase = {p: dyn_phase.get(p, 0.0) + table.static_W * crit.get(p, 0.0) for p in PHASES}

    totals = np.bincount(key, minlength=len(matrix)) @ matrix
    counts = {a: float(totals[i]) for i, a in enumerate(names)}
    for a, v in extra.items():
        counts[a] = counts.get(a, 0.0) + float(np.sum(v))
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
