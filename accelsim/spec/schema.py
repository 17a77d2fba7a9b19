"""What the chip IS: frozen pydantic models of an accelerator, validated on load.

Quantities with units are parsed once (:mod:`accelsim.spec.units`) and stored in SI base units: bytes,
bytes/s, Hz, s. Plain counts carry their unit in the field name (``setup_cycles``, ``bytes_per_cycle``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, model_validator

from accelsim.spec.units import parse_quantity
from accelsim.validation import StrictModel

#: Execution precisions a unit may support, with their storage size in bytes per element.
PRECISION_BYTES: dict[str, float] = {
    "fp32": 4.0,
    "fp16": 2.0,
    "hfp8": 1.0,
    "int8": 1.0,
    "int4": 0.5,
    "int2": 0.25,
    "tf32": 4.0,  # stored as fp32, multiplied with a 10-bit mantissa (GPU tensor cores)
    "bf16": 2.0,
    "fp8": 1.0,  # OCP FP8 (E4M3 / E5M2)
}
PrecisionName = Literal["fp32", "fp16", "hfp8", "int8", "int4", "int2", "tf32", "bf16", "fp8"]

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
#: Most cores, DMA engines or other replicated units a chip may have: the simulator keeps per-unit state, so an
#: absurd count would exhaust memory instead of failing with a message.
MAX_UNITS = 4096


class _Strict(StrictModel):
    """Strict base (accelsim.validation.StrictModel): no unknown keys, no bool/float-as-int, finite floats."""


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
    engines: int = Field(ge=1, le=MAX_UNITS, description="DMA engines per core (concurrent embedding/state transfers)")
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
    engine: Literal["fast", "reference"] = Field(
        default="fast", description="which engine plays the plan: fast (compiled) or reference (simpy); same results"
    )
    mapping: Literal["search", "naive"] = Field(
        default="search", description="search: the mapper's searched mapping; naive: one core per stream, "
        "per-core pinning (the baseline; docs/simulator.md)"
    )
    overlap: Literal["full", "none"] = Field(
        default="full", description="full: ops overlap across cores and units; none: every op waits for the "
        "previous one (per-op latencies summed, the paper's method)"
    )


#: Function classes of SFU/vector element operations for energy (each VECTOR_FUNCS entry belongs to one).
SFU_CLASSES = ("transcendental", "arithmetic", "compare", "move")
SfuClass = Literal["transcendental", "arithmetic", "compare", "move"]
PicoJoules = Annotated[float, Field(ge=0, allow_inf_nan=False, description="picojoules")]
Watts = Annotated[float, Field(ge=0, allow_inf_nan=False, description="watts")]


class Energy(_Strict):
    """Energy per action (pJ, at the chip's efficiency point) and static power (W); see docs/simulator.md "Energy".

    Energy of a run = sum over actions of count x pJ + static W x simulated seconds. ``ert`` names an
    Accelergy-style energy reference table (path relative to the architecture file loaded, or absolute) whose
    actions override the fields here; without ``ert`` every field is required.
    """

    ert: str | None = Field(default=None, description="Accelergy-style ERT YAML overriding per-action energies")
    mac_pJ: dict[PrecisionName, PicoJoules] = Field(default_factory=dict, description="one MAC per precision")
    sfu_op_pJ: dict[PrecisionName, dict[SfuClass, PicoJoules]] = Field(
        default_factory=dict, description="one SFU element operation per precision and function class")
    scratchpad_read_pJ_per_byte: PicoJoules | None = None
    scratchpad_write_pJ_per_byte: PicoJoules | None = None
    dram_pJ_per_byte: PicoJoules | None = None
    ring_pJ_per_byte_hop: PicoJoules | None = None
    dma_setup_pJ: PicoJoules | None = Field(default=None, description="one DMA descriptor (transfer or tile)")
    static_W_per_core: Watts | None = Field(default=None, description="leakage + clock tree of one core")
    static_W_uncore: Watts | None = Field(default=None, description="leakage + clock of ring, DRAM controller, PHY")

    @model_validator(mode="after")
    def _complete_without_ert(self) -> Energy:
        if self.ert is not None:
            return self
        missing = [name for name, value in self if name != "ert" and value in (None, {})]
        missing += [f"sfu_op_pJ.{p} lacks {[c for c in SFU_CLASSES if c not in classes]}"
                    for p, classes in self.sfu_op_pJ.items() if set(classes) != set(SFU_CLASSES)]
        if missing:
            raise ValueError(f"energy lacks {missing}: give every field (or an ert: file that supplies them)")
        return self


#: GPU matmul kernel families: one per execution precision, plus mixed-input ``w4a16`` (int4 weights
#: dequantized to fp16 in the kernel, fp16 activations).
GpuKernelName = Literal["fp32", "tf32", "fp16", "bf16", "fp8", "int8", "w4a16"]
Fraction = Annotated[float, Field(gt=0, le=1)]
#: The trace's op kinds (accelsim.trace.format.OP_KINDS), for per-kind GPU fields.
GpuOpKind = Literal["matmul", "lstm_pointwise", "nonlinear", "elementwise", "softmax", "topk", "gather", "embedding"]


class GpuMatmulKernel(_Strict):
    """How one family of GPU GEMM kernels runs: output tiles, one per thread block (CTA) on one SM."""

    tiles: list[Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=2, max_length=2)]] = Field(
        min_length=1, description="candidate output tiles [rows, cols]; the library picks the fastest (heuristic)")
    efficiency: Fraction = Field(description="share of the SM's matrix-unit peak the kernel's main loop reaches")
    dequant_elems_per_sm_cycle: PosRate | None = Field(
        default=None, description="mixed-input kernels: weight elements one SM dequantizes per cycle")
    sm_load_bytes_per_cycle: PosRate | None = Field(
        default=None, description="this family's operand load rate per SM, when it differs from gpu's")
    gemv_cols: int | None = Field(
        default=None, ge=1, description="one-row products (m = 1) may also run a GEMV kernel: tiles of 1 x gemv_cols")


class GpuLastLevelCache(_Strict):
    """The L2: shared by all SMs; a weight it holds is not re-read from HBM."""

    size: Bytes
    bandwidth: Bandwidth = Field(description="aggregate L2 -> SM read bandwidth, bytes/s")


class GpuLaunch(_Strict):
    """Per-kernel overhead: ``graph`` = CUDA-graph replay, ``eager`` = one host launch per kernel."""

    mode: Literal["graph", "eager"]
    graph_matmul_s: Seconds = Field(description="GEMM kernel node in a replayed graph: launch, prologue, epilogue, s")
    graph_pointwise_s: Seconds = Field(description="pointwise kernel node in a replayed graph, s")
    eager_matmul_s: Seconds = Field(description="host launch + dispatch of an eager GEMM (library call), s")
    eager_pointwise_s: Seconds = Field(description="host launch + dispatch of an eager pointwise kernel, s")


class Gpu(_Strict):
    """A GPU as one logical device (``cores: 1``): every kernel spreads over all ``sms`` SMs and occupies the
    whole device. ``core.matrix`` describes ONE SM's matrix units (tensor cores; fp32 on the CUDA cores),
    ``core.scratchpad`` the L2 share that keeps weights between kernels, ``offchip`` the HBM."""

    sms: int = Field(ge=1, description="streaming multiprocessors")
    sm_load_bytes_per_cycle: PosRate = Field(description="operand bytes one SM loads per cycle (L2 -> shared mem)")
    llc: GpuLastLevelCache
    launch: GpuLaunch
    matmul: dict[GpuKernelName, GpuMatmulKernel] = Field(min_length=1, description="GEMM kernel families")
    kernels_per_op: dict[GpuOpKind, Annotated[int, Field(ge=1)]] = Field(
        default_factory=dict, description="kernels a trace op of this kind launches (default 1)")

    def problems(self, arch: ArchSpec) -> list[str]:
        """Cross-field checks against the rest of the architecture (collected, not raised)."""
        out = []
        if arch.cores != 1:
            out.append(f"gpu: cores = {arch.cores}: a GPU is one logical device (cores: 1, gpu.sms = {self.sms})")
        mm = arch.core.matrix.macs_per_pe_cycle
        for name, kernel in self.matmul.items():
            prec = "fp16" if name == "w4a16" else name
            if prec not in mm:
                out.append(f"gpu.matmul.{name} computes in {prec}, which core.matrix.macs_per_pe_cycle lacks")
            if name == "w4a16" and kernel.dequant_elems_per_sm_cycle is None:
                out.append("gpu.matmul.w4a16 needs dequant_elems_per_sm_cycle (mixed input)")
        if arch.core.scratchpad.size != self.llc.size:
            out.append(f"gpu: core.scratchpad.size = {arch.core.scratchpad.size:.0f} B must equal gpu.llc.size = "
                       f"{self.llc.size:.0f} B (on a GPU the scratchpad that keeps weights is the L2)")
        return out



class ArchSpec(_Strict):
    """A whole accelerator: identical cores, interconnect, DRAM, overheads and the precision policy."""

    name: str = Field(min_length=1)
    source: str = Field(default="", description="file it was loaded from (filled by the loader)")
    description: str = ""
    clock: Frequency
    cores: int = Field(ge=1, le=MAX_UNITS)
    core: Core
    interconnect: Interconnect
    offchip: OffChip
    overheads: Overheads
    precision: PrecisionPolicy
    scheduler: Scheduler = Scheduler()
    energy: Energy | None = None  # per-action energies and static power (None: the run reports no energy)
    gpu: Gpu | None = Field(default=None, description="present: the chip is a GPU (accelsim.cost.gpu times its ops)")

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
        if self.gpu is not None:
            problems += self.gpu.problems(self)
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
