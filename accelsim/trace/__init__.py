"""Operator traces: the contract between ``asr`` (which writes them) and the simulator (which reads them)."""

from accelsim.trace.builder import TraceBuilder
from accelsim.trace.format import FORMAT_VERSION, OP_COLUMNS, OP_KINDS, PHASES, PRECISION_CLASSES, WorkloadMeta
from accelsim.trace.io import Workload, load_workload, write_workload

__all__ = [
    "FORMAT_VERSION",
    "OP_COLUMNS",
    "OP_KINDS",
    "PHASES",
    "PRECISION_CLASSES",
    "TraceBuilder",
    "Workload",
    "WorkloadMeta",
    "load_workload",
    "write_workload",
]
