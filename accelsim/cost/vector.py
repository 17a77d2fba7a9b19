"""Vector / special-function unit timing: an op is a sequence of pipelined passes over its elements.

A pass of function ``f`` over ``e`` elements costs ``ceil(e / (lanes * elems_per_lane_cycle[p])) +
latency_cycles[f]`` cycles (throughput plus pipeline fill); passes run back to back because each consumes
the previous one's result. Row reductions (softmax max/sum, top-k) add a ``log2(n)``-deep tree of ``add`` or
``max`` latencies. Results are cycles; ``elem_ops`` counts element operations for SFU utilisation.
"""

from __future__ import annotations

import math

from accelsim.cost.systolic import ceil_div
from accelsim.spec.schema import PRECISION_BYTES, Scratchpad, VectorUnit

#: LSTM cell update per cell: sigmoid(i, f, o), tanh(g), f*c and i*g, c = sum, tanh(c), h = o * tanh(c).
LSTM_PASSES: tuple[tuple[str, int], ...] = (
    ("sigmoid", 3), ("tanh", 1), ("mul", 2), ("add", 1), ("tanh", 1), ("mul", 1),
)

#: Trace ``func`` names that map onto a unit function of a different name.
FUNC_ALIASES = {"": "copy", "identity": "copy", "sub": "add", "div": "mul", "neg": "scale", "min": "max"}


def unit_func(func: str) -> str:
    return FUNC_ALIASES.get(func, func)


def passes(kind: str, func: str, m: int, n: int, k: int) -> list[tuple[str, int, int]]:
    """(function, elements, reduction_depth) for each pass of a vector op of this kind and shape."""
    e = m * n
    if kind == "lstm_pointwise":
        return [(f, mult * e, 0) for f, mult in LSTM_PASSES]
    if kind in ("nonlinear", "elementwise"):
        return [(unit_func(func), e, 0)]
    depth = math.ceil(math.log2(max(n, 2)))
    if kind == "softmax":  # log-softmax: max, x - max, exp, sum, log of m sums, subtract
        return [("max", e, depth), ("add", e, 0), ("exp", e, 0), ("add", e, depth), ("log", m, 0), ("add", e, 0)]
    if kind == "topk":  # k best of n: ceil(log2 k) + 1 compare-select rounds, each a max reduction
        rounds = math.ceil(math.log2(max(k, 2))) + 1
        return [("max", e, depth)] * rounds
    raise ValueError(f"op kind {kind!r} does not run on the vector unit")


def vector_cycles(kind: str, func: str, m: int, n: int, k: int, vector: VectorUnit, precision: str) -> int:
    """Cycles of a vector op (lstm_pointwise, nonlinear, elementwise, softmax, topk) at ``precision``."""
    rate = vector.lanes * vector.elems_per_lane_cycle[precision]
    total = 0
    for f, elements, depth in passes(kind, func, m, n, k):
        lat = vector.latency_cycles[f]
        tree = depth * vector.latency_cycles["max" if f == "max" else "add"]
        total += math.ceil(elements / rate) + lat + tree
    return total


def elem_ops(kind: str, func: str, m: int, n: int, k: int) -> int:
    """Element operations the SFU performs for the op (sum of pass sizes)."""
    return sum(e for _, e, _ in passes(kind, func, m, n, k))


def work_counts(kind: str, func: str, m: int, k: int, n: int) -> tuple[int, int]:
    """(MACs, SFU element operations) of one op: the machine-independent work every cost model counts (a
    matmul's ``m x k x n`` MACs; embedding lookups and gathers are copies, no element operations)."""
    if kind == "matmul":
        return m * k * n, 0
    if kind in ("embedding", "gather"):
        return 0, 0
    return 0, elem_ops(kind, func, m, n, k)


def gather_cycles(m: int, n: int, scratchpad: Scratchpad, vector: VectorUnit, precision: str) -> int:
    """Reorder/copy ``m x n`` elements inside the scratchpad: bytes over the slower of read/write ports."""
    nbytes = m * n * PRECISION_BYTES[precision]
    port = min(scratchpad.read_bytes_per_cycle, scratchpad.write_bytes_per_cycle)
    return ceil_div(math.ceil(nbytes), math.ceil(port)) + vector.latency_cycles["copy"]
