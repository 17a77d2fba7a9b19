"""Pure cost functions: (op, spec) -> cycles, seconds, bytes. No simpy, no globals, no I/O."""

from accelsim.cost.matmul import array_cycles, matmul_cycles, peak_macs_per_cycle
from accelsim.cost.op import KIND_UNIT, UNITS, OpCost, cost_arrays, op_cost
from accelsim.cost.systolic import fold_schedule, os_cycles, schedule_cycles, ws_cycles
from accelsim.cost.transfer import core_transfer_seconds, streamed_seconds, tensor_bytes
from accelsim.cost.vector import elem_ops, gather_cycles, vector_cycles

__all__ = [
    "KIND_UNIT",
    "UNITS",
    "OpCost",
    "array_cycles",
    "core_transfer_seconds",
    "cost_arrays",
    "elem_ops",
    "fold_schedule",
    "gather_cycles",
    "matmul_cycles",
    "op_cost",
    "os_cycles",
    "peak_macs_per_cycle",
    "schedule_cycles",
    "streamed_seconds",
    "tensor_bytes",
    "vector_cycles",
    "ws_cycles",
]
