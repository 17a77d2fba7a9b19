"""Sub-array choice: the compiler may run a matmul on part of a core's matrix unit.

A fold's fill/drain skew grows with the array (``R + C - 2`` for OS, ``2R + C - 2`` for WS), so a small
GEMM (a GEMV of one hypothesis, a reduction shorter than the rows) can finish sooner on fewer rows, columns
or arrays than the core has: unused PEs stay idle and operands enter at the used sub-array's edge. The
mapper evaluates, for each distinct matmul shape, every geometry ``arrays' <= arrays, rows' <= rows,
cols' <= cols`` with the same closed forms as :mod:`accelsim.cost.matmul` (vectorised; a test checks they
agree) and keeps the fastest (ties: the full array). Because a larger unit offers every geometry of a
smaller one, more PEs or arrays can never make a matmul slower. Results are cycles.
"""

from __future__ import annotations

import numpy as np

from accelsim.spec.schema import PRECISION_BYTES, ArchSpec, MatrixUnit


def geometry_grid(matrix: MatrixUnit) -> np.ndarray:
    """Every (arrays, rows, cols) a core's matrix unit offers, full geometry first; shape (g, 3), int64."""
    a, r, c = np.meshgrid(np.arange(matrix.arrays, 0, -1), np.arange(matrix.rows, 0, -1),
                          np.arange(matrix.cols, 0, -1), indexing="ij")
    return np.stack([a.ravel(), r.ravel(), c.ravel()], axis=1).astype(np.int64)


def _ceil(a, b):
    return -(-a // b)


def grid_cycles(m: int, k: int, n: int, matrix: MatrixUnit, read_bytes_per_cycle: float, w_prec: str,
                a_prec: str, c_prec: str, grid: np.ndarray) -> np.ndarray:
    """:func:`accelsim.cost.matmul.matmul_cycles` of ``(m x k) @ (k x n)`` on each geometry of ``grid``."""
    return shapes_grid_cycles(np.array([m]), np.array([k]), np.array([n]), matrix, read_bytes_per_cycle, w_prec,
                              a_prec, c_prec, grid)[0]


def shapes_grid_cycles(m: np.ndarray, k: np.ndarray, n: np.ndarray, matrix: MatrixUnit, read_bytes_per_cycle: float,
                       w_prec: str, a_prec: str, c_prec: str, grid: np.ndarray) -> np.ndarray:
    """:func:`grid_cycles` of several shapes (int arrays ``m``, ``k``, ``n``) at once: shape (shapes, geometries),
    the same integers."""
    arrays, rows, cols = grid[:, 0], grid[:, 1], grid[:, 2]
    ms, ks, ns = (np.asarray(x, dtype=np.int64).tolist() for x in (m, k, n))
    m, k, n = (np.array(x, dtype=np.int64).reshape(-1, 1) for x in (ms, ks, ns))
    v = matrix.macs_per_pe_cycle[c_prec]
    if float(v).is_integer():
        k_steps = _ceil(k, int(v))
    else:  # as int(-(-k // v)) of each Python int k (float floor division, then truncation)
        k_steps = np.array([int(-(-x // v)) for x in ks], dtype=np.int64).reshape(-1, 1)
    npa = _ceil(n, arrays)
    if matrix.dataflow == "os":
        fold = np.minimum(_ceil(m, rows) * _ceil(npa, cols) * (k_steps + rows + cols - 2) - 1,
                          _ceil(npa, rows) * _ceil(m, cols) * (k_steps + rows + cols - 2) - 1)
    else:
        fold = _ceil(k_steps, rows) * _ceil(npa, cols) * (m + 2 * rows + cols - 2) - 1
    # k * n * bytes and m * k * bytes per shape as Python computes them: exact int products, then one float product
    w_bytes = np.array([x * y * PRECISION_BYTES[w_prec] for x, y in zip(ks, ns)], dtype=np.float64).reshape(-1, 1)
    a_bytes = np.array([x * y * PRECISION_BYTES[a_prec] for x, y in zip(ms, ks)], dtype=np.float64).reshape(-1, 1)
    nbytes = (w_bytes * _ceil(m, rows) + a_bytes * _ceil(npa, cols)).astype(np.int64)
    rate = float(read_bytes_per_cycle)  # as accelsim.cost.matmul.matmul_cycles: a float rate is never truncated
    if rate.is_integer() and rate < 2.0 ** 62:
        reads = _ceil(nbytes, int(rate))
    else:  # fractional, or beyond int64 (ceil(nbytes / rate) is then exact: 1 for any nbytes > 0)
        reads = np.ceil(nbytes / rate).astype(np.int64)
    return np.maximum(fold, reads)


def _precisions(pclass: str, arch: ArchSpec) -> tuple[str, str, str]:
    if pclass in ("matmul", "matmul_wide"):
        mp = getattr(arch.precision, pclass)
        return mp.weights, mp.activations, mp.compute
    p = getattr(arch.precision, pclass)
    return p, p, p


def _cycles(m: int, k: int, n: int, pclass: str, arch: ArchSpec, grid: np.ndarray) -> np.ndarray:
    return grid_cycles(m, k, n, arch.core.matrix, arch.core.scratchpad.read_bytes_per_cycle,
                       *_precisions(pclass, arch), grid)


def shapes_best_cycles(m: np.ndarray, k: np.ndarray, n: np.ndarray, pclass: str, arch: ArchSpec,
                       grid: np.ndarray) -> np.ndarray:
    """:func:`best_cycles` of several shapes of one precision class at once (int64 per shape)."""
    return shapes_grid_cycles(m, k, n, arch.core.matrix, arch.core.scratchpad.read_bytes_per_cycle,
                              *_precisions(pclass, arch), grid).min(axis=1)


def best_geometry(m: int, k: int, n: int, pclass: str, arch: ArchSpec, grid: np.ndarray) -> tuple[int, int, int]:
    """Fastest (arrays, rows, cols) for this matmul (ties: the first in ``grid``, i.e. the full array)."""
    return tuple(int(x) for x in grid[int(np.argmin(_cycles(m, k, n, pclass, arch, grid)))])


def best_cycles(m: int, k: int, n: int, pclass: str, arch: ArchSpec, grid: np.ndarray) -> int:
    """Cycles of this matmul on its fastest geometry of ``grid``."""
    return int(_cycles(m, k, n, pclass, arch, grid).min())


def with_geometry(arch: ArchSpec, geometry: tuple[int, int, int]) -> ArchSpec:
    """``arch`` whose matrix unit is the sub-array ``geometry`` = (arrays, rows, cols)."""
    mat = arch.core.matrix.model_copy(update={"arrays": geometry[0], "rows": geometry[1], "cols": geometry[2]})
    return arch.model_copy(update={"core": arch.core.model_copy(update={"matrix": mat})})
