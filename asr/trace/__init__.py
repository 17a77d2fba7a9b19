"""Operator traces of real decodes for accelsim: ops per executed call, paper-scale re-emission (docs/search.md)."""

from asr.trace.dims import LMDims, TraceDims, dims_from_model_config
from asr.trace.record import UttRecord, build_trace, stretch_events, write_trace

__all__ = ["LMDims", "TraceDims", "UttRecord", "build_trace", "dims_from_model_config", "stretch_events",
           "write_trace"]
