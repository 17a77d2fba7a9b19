"""Cost of one trace op on one core: which unit runs it, how long, how many bytes, MACs and SFU operations.

:func:`op_cost` is a pure function of (kind, func, precision class, shape, weight class, residency, arch);
:func:`cost_arrays` evaluates it once per distinct key of a whole ops table (long traces repeat a few
hundred shapes) and broadcasts the results into numpy arrays for the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from accelsim.cost.factorize import factorize_int64
from accelsim.cost.gpu import gpu_op_cost
from accelsim.cost.matmul import matmul_cycles
from accelsim.cost.transfer import busy_seconds, stream_tiles, tensor_bytes
from accelsim.cost.vector import gather_cycles, vector_cycles, work_counts
from accelsim.errors import SpecError
from accelsim.spec.schema import ArchSpec
from accelsim.trace.coded import OpTable, op_table

if TYPE_CHECKING:
    import pandas as pd

UNITS = ("matrix", "vector", "dma")
KIND_UNIT = {
    "matmul": "matrix",
    "lstm_pointwise": "vector",
    "nonlinear": "vector",
    "elementwise": "vector",
    "softmax": "vector",
    "topk": "vector",
    "gather": "vector",
    "embedding": "dma",
}
MATMUL_CLASSES = ("matmul", "matmul_wide")


@dataclass(frozen=True)
class OpCost:
    """Cost of one op. Times in seconds; ``dram_bytes`` > 0 means the op streams that much from DRAM."""

    unit: str
    busy_s: float  # whole op on an idle chip: dispatch + compute (+ streaming when dram_bytes > 0)
    dispatch_s: float  # fixed issue overhead, part of busy_s
    compute_s: float  # compute on on-chip operands, without dispatch (matmul folds, SFU passes, copies)
    dram_bytes: float
    tiles: int  # weight-stream tiles (1 when not streamed)
    first_s: float  # DMA setup + DRAM latency before the first byte (0 when not streamed)
    macs: int
    elem_ops: int
    out_bytes: float  # bytes of the op's result (what a consumer on another core must receive)
    precision: str  # execution precision


def _vector_precision(arch: ArchSpec, pclass: str) -> str:
    policy = arch.precision
    if pclass in MATMUL_CLASSES:
        return getattr(policy, pclass).activations
    return getattr(policy, pclass)


def _check(supported: dict, prec: str, arch: ArchSpec, unit_field: str, what: str) -> None:
    if prec not in supported:
        raise SpecError(
            f"{arch.source or arch.name}: {what} needs {prec}, which {unit_field} does not support "
            f"(supported: {', '.join(sorted(supported))}); change the precision policy or add {prec} to {unit_field}"
        )


def op_cost(kind: str, func: str, pclass: str, m: int, k: int, n: int, weight_pclass: str, resident: bool,
            arch: ArchSpec) -> OpCost:
    """Pure cost of one op on one core of ``arch`` (weights resident in the scratchpad or streamed)."""
    if arch.gpu is not None:  # a GPU: the op's kernels spread over all SMs (accelsim.cost.gpu)
        return gpu_op_cost(kind, func, pclass, m, k, n, weight_pclass, resident, arch)
    core = arch.core
    clock = arch.clock
    dispatch_s = arch.overheads.dispatch_cycles / clock
    first_s = core.dma.setup_cycles / clock + arch.offchip.latency
    unit = KIND_UNIT[kind]
    dram = 0.0
    tiles = 1
    if kind == "matmul":
        if pclass in MATMUL_CLASSES:
            mp = getattr(arch.precision, pclass)
            w_prec, a_prec, c_prec = mp.weights, mp.activations, mp.compute
        else:
            w_prec = a_prec = c_prec = getattr(arch.precision, pclass)
        _check(core.matrix.macs_per_pe_cycle, c_prec, arch, "core.matrix.macs_per_pe_cycle",
               f"a matmul of precision class {pclass!r}")
        compute_s = matmul_cycles(m, k, n, core.matrix, core.scratchpad, w_prec, a_prec, c_prec) / clock
        prec = c_prec
        out_bytes = tensor_bytes(m * n, a_prec)
        if not resident:
            dram = tensor_bytes(k * n, w_prec)
            tiles = stream_tiles(dram, core.dma.tile)
    elif kind == "embedding":
        prec = getattr(arch.precision, weight_pclass).weights if weight_pclass in MATMUL_CLASSES else \
            _vector_precision(arch, weight_pclass or pclass)
        nbytes = tensor_bytes(m * n, prec)
        out_bytes = nbytes
        if resident:
            compute_s = (core.dma.setup_cycles + np.ceil(nbytes / core.scratchpad.read_bytes_per_cycle)) / clock
        else:
            compute_s = 0.0
            dram = nbytes
    else:
        prec = _vector_precision(arch, pclass)
        _check(core.vector.elems_per_lane_cycle, prec, arch, "core.vector.elems_per_lane_cycle",
               f"a {kind} op of precision class {pclass!r}")
        if kind == "gather":
            cycles = gather_cycles(m, n, core.scratchpad, core.vector, prec)
        else:
            cycles = vector_cycles(kind, func, m, n, k, core.vector, prec)
        compute_s = cycles / clock
        out_bytes = tensor_bytes(m * (k if kind == "topk" else n), prec)
    busy, first_s = busy_seconds(kind, dispatch_s, compute_s, dram, tiles, first_s, arch.offchip.bandwidth)
    macs, ops = work_counts(kind, func, m, k, n)
    return OpCost(unit, busy, dispatch_s, float(compute_s), dram, tiles, first_s, macs, ops, out_bytes, prec)


def category_codes(column: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Integer codes and their string labels of a (categorical) column, without materializing strings."""
    import pandas as pd

    if not isinstance(column.dtype, pd.CategoricalDtype):
        column = column.astype("category")
    return column.cat.codes.to_numpy().astype(np.int64), [str(c) for c in column.cat.categories]


def factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes, uniques) of an int64 array: ``uniques`` in order of first appearance, ``codes`` (int64) index it
    (what ``pandas.factorize`` returns; :mod:`accelsim.cost.factorize`, without importing pandas or Arrow)."""
    return factorize_int64(np.ascontiguousarray(values, dtype=np.int64))


def dense_key(cols: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Dense code (0..k-1) of each row's tuple of int columns, and a representative row per code.

    The columns are packed into one int64 key by mixed radix (each column offset by its minimum); when the
    radix product would overflow, the partial key is first re-coded densely (hash factorization). O(n), no
    per-row Python work.
    """
    n = len(cols[0]) if cols else 0
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    key = np.zeros(n, dtype=np.int64)
    card = 1
    for col in cols:
        col = np.asarray(col, dtype=np.int64)
        lo = int(col.min())
        span = int(col.max()) - lo + 1
        if span > 1 << 31:  # sparse values: code them densely first
            col_codes, col_uniques = factorize(col)
            col, lo, span = col_codes.astype(np.int64, copy=False), 0, len(col_uniques)
        if card * span >= 1 << 62:
            key, key_uniques = factorize(key)
            key = key.astype(np.int64, copy=False)
            card = len(key_uniques)
        key *= span  # in place: long tables would otherwise allocate three key-sized temporaries per column
        key += col
        if lo:
            key -= lo
        card *= span
    codes, uniq = factorize(key)
    codes = codes.astype(np.int64, copy=False)
    first = np.empty(len(uniq), dtype=np.int64)
    first[codes[::-1]] = np.arange(n - 1, -1, -1, dtype=np.int64)  # the first row holding each code
    return codes, first


class CostMemo:
    """:func:`op_cost` results of one architecture, kept across :func:`cost_arrays` calls (the mapper's search
    costs the same shapes for every candidate plan)."""

    def __init__(self, arch: ArchSpec) -> None:
        self.arch = arch
        self.costs: dict[tuple, OpCost] = {}
        self.extra: dict = {}  # other per-arch memos (e.g. sub-array geometry times)


def cost_arrays(ops: pd.DataFrame | OpTable, arch: ArchSpec, weight_pclass: dict[str, str],
                resident: np.ndarray, memo: CostMemo | None = None,
                fields: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """Per-op cost columns for a whole ops table, evaluating :func:`op_cost` once per distinct key.

    ``ops`` is a pandas ops table or its :class:`~accelsim.trace.coded.OpTable`; ``weight_pclass`` maps weight
    name -> its precision class; ``resident[i]`` says whether op i's weight is pinned on chip (ignored for ops
    without weights); ``memo`` (of this ``arch``) keeps op costs across calls. Besides the per-op
    :class:`OpCost` fields, ``precision`` comes as integer codes too (``precision_code`` into the sorted labels
    ``precision_names``), and ``distinct_keys`` holds the number of distinct cost keys. ``fields`` limits the
    per-op columns to those named (plus ``distinct_keys``).
    """
    table = ops if isinstance(ops, OpTable) else op_table(ops)
    if memo is not None and memo.arch is not arch:
        raise ValueError("cost_arrays: the memo belongs to another architecture")
    wnames = table.weight.names
    wcodes = table.weight.codes
    wclasses = sorted({weight_pclass.get(w, "") for w in wnames} | {""})
    wclass_of = np.array([wclasses.index(weight_pclass.get(w, "")) for w in wnames], dtype=np.int8)
    no_weight = np.array([w == "" for w in wnames], dtype=bool)[wcodes]
    cols = [table.kind.codes, table.func.codes, table.pclass.codes, table.m, table.k, table.n, wclass_of[wcodes],
            (np.asarray(resident, dtype=bool) | no_weight).view(np.int8)]
    codes, first = dense_key(cols)
    uniques = np.stack([col[first] for col in cols], axis=1)
    kinds, funcs, pclasses = table.kind.names, table.func.names, table.pclass.names
    cache = memo.costs if memo is not None else {}
    costs = []
    for r in uniques.tolist():
        key = (kinds[r[0]], funcs[r[1]], pclasses[r[2]], r[3], r[4], r[5], wclasses[r[6]], bool(r[7]))
        c = cache.get(key)
        if c is None:
            c = cache[key] = op_cost(*key, arch)
        costs.append(c)
    want = set(fields) if fields is not None else None
    out: dict[str, np.ndarray] = {}
    for field in ("busy_s", "dispatch_s", "compute_s", "dram_bytes", "first_s", "out_bytes"):
        if want is None or field in want:
            out[field] = np.array([getattr(c, field) for c in costs], dtype=np.float64)[codes]
    for field in ("tiles", "macs", "elem_ops"):
        if want is None or field in want:
            out[field] = np.array([getattr(c, field) for c in costs], dtype=np.int64)[codes]
    if want is None or "unit" in want:
        out["unit"] = np.array([UNITS.index(c.unit) for c in costs], dtype=np.int8)[codes]
    if want is None or want & {"precision", "precision_code", "precision_names"}:
        precisions = sorted({c.precision for c in costs})
        out["precision_code"] = np.array([precisions.index(c.precision) for c in costs], dtype=np.int8)[codes]
        out["precision_names"] = np.array(precisions, dtype=object)  # labels of precision_code (sorted)
        if want is None or "precision" in want:  # the labels per row (an object array: 8 bytes a row)
            out["precision"] = out["precision_names"][out["precision_code"]]
    out["distinct_keys"] = np.array([len(costs)])
    return out
