"""Energy as action counts x energy per action, plus static power x time. Pure functions, no simpy, no I/O.

Actions (names in :func:`accelsim.spec.ert.action_names`, energies in pJ): a MAC per precision, an SFU element
operation per precision and function class, a scratchpad byte read / written, a DRAM byte, a byte moved one ring
hop, a DMA descriptor. Counts of one op come from its kind, shape and precisions (:func:`op_action_counts`)
plus what the run decided (streamed bytes, tiles: :func:`stream_action_counts`; cross-core edges:
:func:`ring_action_counts`). Energy is linear in the counts, so it is additive over ops and never negative.

Scratchpad traffic per op (the scratchpad is the only on-chip store the units read and write):

- matmul: operands as the timing model reads them (weights once per row fold, activations once per column
  fold: :func:`accelsim.cost.matmul.operand_bytes`), the result written once; streamed weights are also
  written into the tile buffer as they arrive from DRAM.
- vector / SFU: every pass reads its operands (two for ``add`` / ``mul``, one otherwise) and writes its result
  (one value per row for a reduction); a gather reads and writes its ``m x n`` elements once.
- embedding: a resident table row is read and written (a copy); a streamed one is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from accelsim.cost.matmul import operand_bytes
from accelsim.cost.vector import passes
from accelsim.errors import SpecError
from accelsim.spec.ert import action_names
from accelsim.spec.schema import PRECISION_BYTES, ArchSpec, MatrixUnit

#: Function class of each vector-unit function (``accelsim.spec.schema.VECTOR_FUNCS``).
SFU_CLASS_OF = {"sigmoid": "transcendental", "tanh": "transcendental", "exp": "transcendental",
                "log": "transcendental", "add": "arithmetic", "mul": "arithmetic", "scale": "arithmetic",
                "max": "compare", "relu": "compare", "copy": "move"}
BINARY_FUNCS = frozenset({"add", "mul"})
#: Components of the breakdown; ``static`` is power x time, the rest are action energies.
COMPONENTS = ("mac", "sfu", "sram", "dram", "ring", "static")
_COMPONENT_OF_PREFIX = {"mac": "mac", "sfu": "sfu", "scratchpad": "sram", "dram": "dram", "dma": "dram",
                        "ring": "ring"}
MATMUL_CLASSES = ("matmul", "matmul_wide")


def component_of(action: str) -> str:
    """Breakdown component of an action: DMA descriptors count with DRAM (they exist to move DRAM data)."""
    return _COMPONENT_OF_PREFIX[action.split(".", 1)[0]]


@dataclass(frozen=True)
class EnergyTable:
    """Energy per action (pJ) and static power (W) of one chip."""

    action_pJ: Mapping[str, float]
    static_W_per_core: float
    static_W_uncore: float
    cores: int

    @property
    def static_W(self) -> float:
        """Leakage + clock power of the whole chip, W."""
        return self.static_W_per_core * self.cores + self.static_W_uncore


def energy_table(arch: ArchSpec, ert_pJ: Mapping[str, float] | None = None) -> EnergyTable:
    """The arch's energy table: ``energy:`` fields, overridden by the ERT's actions (``ert_pJ``, pJ).

    Raises SpecError naming every action the arch needs (MACs of each matrix precision, SFU classes of each
    vector precision, the byte and descriptor actions) that neither gives, or a missing static power.
    """
    from accelsim.spec.ert import actions_from_spec

    spec = arch.energy
    where = arch.source or arch.name
    if spec is None:
        raise SpecError(f"{where}: the architecture has no energy: section (see arch/base_ibm7nm.yaml)")
    table = {**actions_from_spec(spec), **(ert_pJ or {})}
    need = [f"mac.{p}" for p in arch.core.matrix.macs_per_pe_cycle]
    vector_precisions = arch.core.vector.elems_per_lane_cycle
    need += [a for a in action_names() if a.startswith("sfu.") and a.split(".")[1] in vector_precisions]
    need += [a for a in action_names() if not a.startswith(("mac.", "sfu."))]
    missing = [a for a in need if a not in table]
    missing += [f for f in ("static_W_per_core", "static_W_uncore") if getattr(spec, f) is None]
    if missing:
        raise SpecError(f"{where}: energy lacks {', '.join(missing)}: give them in the energy: section or in "
                        f"the ERT file (energy.ert = {spec.ert!r})")
    return EnergyTable(table, float(spec.static_W_per_core), float(spec.static_W_uncore), arch.cores)


def op_precisions(arch: ArchSpec, kind: str, pclass: str, weight_pclass: str) -> tuple[str, str, str]:
    """(weight, activation, execution) precision of an op under the arch's policy, as the timing model uses."""
    policy = arch.precision
    if kind == "matmul":
        if pclass in MATMUL_CLASSES:
            mp = getattr(policy, pclass)
            return mp.weights, mp.activations, mp.compute
        p = getattr(policy, pclass)
        return p, p, p
    if kind == "embedding":
        wc = weight_pclass or pclass
        p = getattr(policy, wc).weights if wc in MATMUL_CLASSES else getattr(policy, wc)
        return p, p, p
    p = getattr(policy, pclass).activations if pclass in MATMUL_CLASSES else getattr(policy, pclass)
    return p, p, p


def op_action_counts(kind: str, func: str, m: int, k: int, n: int, w_prec: str, a_prec: str, prec: str,
                     matrix: MatrixUnit) -> dict[str, float]:
    """On-chip action counts of one op (module doc), without what streaming from DRAM adds."""
    if kind == "matmul":
        return {f"mac.{prec}": float(m * k * n),
                "scratchpad.read_byte": float(operand_bytes(m, k, n, matrix, w_prec, a_prec)),
                "scratchpad.write_byte": float(m * n * PRECISION_BYTES[a_prec])}
    b = PRECISION_BYTES[prec]
    if kind == "embedding":
        return {"scratchpad.read_byte": 0.0, "scratchpad.write_byte": 0.0, "dma.setup": 1.0}
    if kind == "gather":
        return {"scratchpad.read_byte": m * n * b, "scratchpad.write_byte": m * n * b}
    out: dict[str, float] = {"scratchpad.read_byte": 0.0, "scratchpad.write_byte": 0.0}
    for f, elements, depth in passes(kind, func, m, n, k):
        action = f"sfu.{prec}.{SFU_CLASS_OF[f]}"
        out[action] = out.get(action, 0.0) + float(elements)
        out["scratchpad.read_byte"] += (2 if f in BINARY_FUNCS else 1) * elements * b
        out["scratchpad.write_byte"] += (m if depth > 0 else elements) * b
    return out


def stream_action_counts(kind: np.ndarray | tuple, dram_bytes: np.ndarray, tiles: np.ndarray, out_bytes: np.ndarray
                         ) -> dict[str, np.ndarray]:
    """Per-op counts the run's data movement adds: DRAM bytes, their landing in the scratchpad, descriptors.

    ``kind`` op kinds (strings, or a pair of integer codes and their labels), ``dram_bytes`` bytes each op
    fetched from DRAM (0 on a reuse hit or when resident), ``tiles`` weight-stream tiles of a streamed matmul
    (one descriptor each), ``out_bytes`` an embedding's result bytes (a resident row is copied: read once more).
    """
    streamed = dram_bytes > 0
    if isinstance(kind, tuple):  # (codes, labels): no string per op
        codes, names = kind
        is_mm = codes == (list(names).index("matmul") if "matmul" in names else -1)
        is_emb = codes == (list(names).index("embedding") if "embedding" in names else -1)
    else:
        is_mm = kind == "matmul"
        is_emb = kind == "embedding"
    return {
        "dram.byte": np.asarray(dram_bytes, dtype=np.float64),
        "scratchpad.write_byte": np.where(streamed, dram_bytes, 0.0) + np.where(is_emb & ~streamed, out_bytes, 0.0),
        "scratchpad.read_byte": np.where(is_emb & ~streamed, out_bytes, 0.0),
        "dma.setup": np.where(is_mm & streamed, tiles, 0.0).astype(np.float64),
    }


def ring_action_counts(src_bytes: np.ndarray, hops: np.ndarray) -> np.ndarray:
    """Byte-hops of cross-core dependency edges: the producer's result bytes times the hops they travel."""
    return np.asarray(src_bytes, dtype=np.float64) * np.asarray(hops, dtype=np.float64)


def dynamic_pJ(counts: Mapping[str, float | np.ndarray], table: EnergyTable) -> dict[str, float | np.ndarray]:
    """Energy (pJ) per component (all of :data:`COMPONENTS` but ``static``) of the given action counts."""
    out: dict[str, float | np.ndarray] = {c: 0.0 for c in COMPONENTS if c != "static"}
    for action, count in counts.items():
        if action not in table.action_pJ:
            if np.any(np.asarray(count) != 0):
                raise SpecError(f"energy table has no energy for action {action!r}, which the run performs")
            continue
        comp = component_of(action)
        out[comp] = out[comp] + np.asarray(count, dtype=np.float64) * table.action_pJ[action]
    return out


def static_J(table: EnergyTable, sim_s: float) -> float:
    """Static (leakage + clock) energy of the chip over ``sim_s`` simulated seconds, J."""
    return table.static_W * sim_s


def peak_pJ_per_mac(table: EnergyTable, arch: ArchSpec, precision: str) -> float:
    """Whole-chip energy per MAC of a large GEMM at ``precision`` with every array busy, pJ.

    The MAC itself, the scratchpad operand reads of the output-stationary dataflow at best reuse (a weight
    byte per array row of outputs, an activation byte per column of both arrays:
    ``b / rows + b / (arrays x cols)``) and the static power shared over the peak MAC rate. Result writes
    (``b / k`` per MAC) and DRAM are left out (the published chip efficiencies exclude DRAM).
    """
    mat = arch.core.matrix
    b = PRECISION_BYTES[precision]
    bytes_per_mac = b / mat.rows + b / (mat.arrays * mat.cols)
    peak_macs_per_s = arch.clock * arch.cores * mat.pes * mat.macs_per_pe_cycle[precision]
    return (table.action_pJ[f"mac.{precision}"] + bytes_per_mac * table.action_pJ["scratchpad.read_byte"]
            + table.static_W / peak_macs_per_s * 1e12)


def tops_per_W(macs: float, energy_J: float) -> float:
    """Operations (2 per MAC) per joule, in TOPS/W (= 2 / pJ per MAC); 0 when no energy was spent."""
    return 2.0 * macs / energy_J / 1e12 if energy_J > 0 else 0.0
