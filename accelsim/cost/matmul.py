"""Matmul timing on a core's matrix unit: systolic folds at the precision's SIMD width, scratchpad-bound.

An MPE performs ``v = macs_per_pe_cycle[p]`` MACs per cycle along the reduction dimension, so a GEMM
``(m x k) @ (k x n)`` streams ``ceil(k / v)`` reduction steps per output (OS) or holds ``v`` weights per PE
(WS). The ``n`` output columns are split evenly over the core's ``arrays``. For OS the mapper picks the
better orientation (outputs as ``m x n`` or ``n x m`` on the array), as a compiler would for a GEMV.
The operands must also come out of the scratchpad: weights once per row fold, activations once per column
fold, at ``read_bytes_per_cycle``; the op takes the longer of the two. Results are cycles.
"""

from __future__ import annotations

import math

from accelsim.cost.systolic import ceil_div, os_cycles, ws_cycles
from accelsim.spec.schema import PRECISION_BYTES, MatrixUnit, Scratchpad


def array_cycles(m: int, k: int, n: int, matrix: MatrixUnit, precision: str) -> int:
    """Fold-timing cycles of the GEMM on one core's arrays (all arrays in parallel on slices of ``n``)."""
    v = matrix.macs_per_pe_cycle[precision]
    n_per_array = ceil_div(n, matrix.arrays)
    k_steps = ceil_div(k, int(v)) if float(v).is_integer() else int(-(-k // v))
    if matrix.dataflow == "os":
        return min(
            os_cycles(m, k_steps, n_per_array, matrix.rows, matrix.cols),
            os_cycles(n_per_array, k_steps, m, matrix.rows, matrix.cols),
        )
    return ws_cycles(m, k_steps, n_per_array, matrix.rows, matrix.cols)


def operand_bytes(m: int, k: int, n: int, matrix: MatrixUnit, w_prec: str, a_prec: str) -> float:
    """Bytes read from the scratchpad: weights once per row fold of m, activations once per column fold."""
    row_folds = ceil_div(m, matrix.rows)
    col_folds = ceil_div(ceil_div(n, matrix.arrays), matrix.cols)
    return k * n * PRECISION_BYTES[w_prec] * row_folds + m * k * PRECISION_BYTES[a_prec] * col_folds


def matmul_cycles(m: int, k: int, n: int, matrix: MatrixUnit, scratchpad: Scratchpad,
                  w_prec: str, a_prec: str, compute_prec: str) -> int:
    """Cycles for ``(m x k) @ (k x n)`` with operands on chip: max(array fold timing, scratchpad reads)."""
    fold = array_cycles(m, k, n, matrix, compute_prec)
    nbytes = int(operand_bytes(m, k, n, matrix, w_prec, a_prec))
    rate = scratchpad.read_bytes_per_cycle  # a float field: 1.99 B/cycle is 1.99, never truncated to 1
    reads = ceil_div(nbytes, int(rate)) if float(rate).is_integer() else math.ceil(nbytes / rate)
    return max(fold, reads)


def peak_macs_per_cycle(matrix: MatrixUnit, precision: str) -> float:
    """Roofline compute ceiling of one core, MACs per cycle."""
    return matrix.pes * matrix.macs_per_pe_cycle[precision]
