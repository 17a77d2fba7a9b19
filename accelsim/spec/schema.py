"""What the chip IS: frozen pydantic models of an accelerator, validated on load.

Quantities with units are parsed once (:mod:`accelsim.spec.units`) and stored in SI base units: bytes,
bytes/s, Hz, s. Plain counts carry their unit in the field name (``setup_cycles``, ``bytes_per_cycle``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from accelsim.spec.units import parse_quantity

#: Execution precisions a unit may support, with their storage size in bytes per element.
PRECISION_BYTES: dict[str, float] = {
    "fp32": 4.0,
    "fp16": 2.0,
    "hfp8": 1.0,
    "int8": 1.0,
    "int4": 0.5,
    "int2": 0.25,
}
PrecisionName = Literal["fp32", "fp16", "hfp8", "int8", "int4", "int2"]

#: Vector/SFU functions with a pipeline latency (the trace's ``func`` values map onto these).
VECTOR_FUNCS = ("sigmoid", "tanh", "exp", "log", "relu", "add", "mul", "max", "copy", "scale")
VectorFunc = Literal["sigmoid", "tanh", "exp", "log", "relu", "add", "mul", "max", "copy", "scale"]


def _q(kind: str):
    return BeforeValidator(lambda v: parse_quantity(v, kind))


Bytes = Annotated[float, _q("bytes"), Field(gt=0, description="bytes")]
Bandwidth = Annotated[float, _q("bandwidth"), Field(gt=0, description="bytes per second")]
Frequency = Annotated[float, _q("frequency"), Field(gt=0, description="Hz")]
Seconds = Annotated[float, _q("time"), Field(ge=0, description="seconds")]
PosRate = Annotated[float, Field(gt=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MatrixUnit(_Strict):
    """A core's MAC arrays: ``arrays`` systolic arrays of ``rows`` x ``cols`` processing elements (PEs).

    Each PE performs ``macs_per_pe_cycle[p]`` multiply-accumulates per cycle at precision ``p`` (SIMD lanes
    along the reduction dimension); a precision missing from the mapping is not supported.
    """

    arrays: int = Field(ge=1, description="independent arrays per core (corelets); N is split across them")
    rows: int = Field(ge=1, description="PE rows per array")
    cols: int = Field(ge=1, description="PE columns per array")
    dataflow: Literal["os", "ws"] = Field(description="output stationary or weight stationary")
    macs_per_pe_cycle: dict[PrecisionName, PosRate] = Field(min_length=1, description="MACs per PE per cycle")
    accumulator_bits: dict[PrecisionName, Annotated[int, Field(ge=8)]] = Field(
        default_factory=dict, description="accumulator width per input precision (informational)"
    )

    @property
    def pes(self) -> int:
        return self.arrays * self.rows * self.cols


class VectorUnit(_Strict):
    """The special-function / vector unit: ``lanes`` SIMD lanes, pipelined functions."""

    lanes: int = Field(ge=1, description="SIMD lanes per core")
    elems_per_lane_cycle: dict[PrecisionName, PosRate] = Field(
        min_length=1, description="elements per lane per cycle at each supported precision"
    )
    latency_cycles: dict[VectorFunc, Annotated[int, Field(ge=0)]] = Field(
        description="pipeline latency of each function, cycles (paid once per pass over a tensor)"
    )

    @model_validator(mode="after")
    def _all_funcs(self) -> VectorUnit:
        missing = [f for f in VECTOR_FUNCS if f not in self.latency_cycles]
        if missing:
            raise ValueError(f"latency_cycles lacks {missing} (needs every one of {list(VECTOR_FUNCS)})")
        return self


class Scratchpad(_Strict):
    size: Bytes = Field(description="bytes per core")
    read_bytes_per_cycle: PosRate
    write_bytes_per_cycle: PosRate
    weight_fraction: float = Field(gt=0, le=1, description="share of size that may hold resident weights")


class Dma(_Strict):
    engines: int = Field(ge=1, description="DMA engines per core (concurrent embedding/state transfers)")
    setup_cycles: int = Field(ge=0, description="descriptor setup per transfer, cycles")
    tile: Bytes = Field(description="weight-stream tile, bytes: tile i+1 loads while tile i computes")


class Core(_Strict):
    matrix: MatrixUnit
    vector: VectorUnit
    scratchpad: Scratchpad
    dma: Dma


class Interconnect(_Strict):
    topology: Literal["ring", "crossbar"] = "ring"
    bytes_per_cycle: PosRate = Field(description="link width between neighbouring cores")
    hop_cycles: int = Field(ge=0, description="latency per hop, cycles")


class OffChip(_Strict):
    bandwidth: Bandwidth
    latency: Seconds = Field(description="first-byte latency of a DRAM read, s")
    capacity: Bytes


class Overheads(_Strict):
    dispatch_cycles: int = Field(ge=0, description="fixed cost to issue any op on a unit, cycles")
    sync_cycles: int = Field(ge=0, description="cross-core dependency synchronisation, cycles")


class MatmulPrecision(_Strict):
    weights: PrecisionName
    activations: PrecisionName

    @property
    def compute(self) -> str:
        """The MAC precision: the wider of the two operands."""
        return max((self.weights, self.activations), key=lambda p: PRECISION_BYTES[p])


class PrecisionPolicy(_Strict):
    """Which precision each class of operation (the trace's ``pclass``) executes in."""

    matmul: MatmulPrecision
    matmul_wide: MatmulPrecision
    nonlinear: PrecisionName
    elementwise: PrecisionName
    softmax: PrecisionName


class Scheduler(_Strict):
    utterances: Literal["sequential", "overlapped"] = Field(
        default="sequential", description="sequential: one utterance at a time (single-stream latency)"
    )
    placement: Literal["balanced", "single_core"] = Field(
        default="balanced", description="stream -> core placement policy (docs/simulator.md)"
    )
    weight_reuse: bool = Field(
        default=True, description="keep streamed weights in free scratchpad space for the next use (LRU)"
    )
    mapping: Literal["search", "naive"] = Field(
        default="search", description="search: the mapper's searched mapping; naive: one core per stream, "
        "per-core pinning (the baseline; docs/simulator.md)"
    )
    overlap: Literal["full", "none"] = Field(
        default="full", description="full: ops overlap across cores and units; none: every op waits for the "
        "previous one (per-op latencies summed, the paper's method)"
    )


class ArchSpec(_Strict):
    """A whole accelerator: identical cores, interconnect, DRAM, overheads and the precision policy."""

    name: str = Field(min_length=1)
    source: str = Field(default="", description="file it was loaded from (filled by the loader)")
    description: str = ""
    clock: Frequency
    cores: int = Field(ge=1)
    core: Core
    interconnect: Interconnect
    offchip: OffChip
    overheads: Overheads
    precision: PrecisionPolicy
    scheduler: Scheduler = Scheduler()

    @model_validator(mode="after")
    def _precisions_supported(self) -> ArchSpec:
        problems = []
        mm = self.core.matrix.macs_per_pe_cycle
        vec = self.core.vector.elems_per_lane_cycle
        for cls in ("matmul", "matmul_wide"):
            prec = getattr(self.precision, cls)
            if prec.compute not in mm:
                problems.append(
                    f"precision.{cls} computes in {prec.compute} but core.matrix.macs_per_pe_cycle supports only "
                    f"{sorted(mm)}"
                )
        for cls in ("nonlinear", "elementwise", "softmax"):
            prec = getattr(self.precision, cls)
            if prec not in vec:
                problems.append(
                    f"precision.{cls} = {prec} but core.vector.elems_per_lane_cycle supports only {sorted(vec)}"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def precision_mode(self) -> str:
        """Short name of the matmul precision: ``int4`` when weights and activations agree, else ``w4a8``."""
        mm = self.precision.matmul
        if mm.weights == mm.activations:
            return mm.weights
        bits = {p: int(PRECISION_BYTES[p] * 8) for p in PRECISION_BYTES}
        return f"w{bits[mm.weights]}a{bits[mm.activations]}"

    @property
    def cycle_s(self) -> float:
        return 1.0 / self.clock
