"""GPU kernel timing: one trace op = one or more kernels, each spread over all SMs; pure functions.

A GPU (``arch.gpu`` present) is one logical device: a kernel occupies the whole chip, so kernels run one after
another (one CUDA stream). A kernel's time is its launch overhead (``gpu.launch``: CUDA-graph replay or an
eager host launch) plus its device time:

- **GEMM** ``(m x k) @ (k x n)``: the output is cut into tiles ``tm x tn`` (one thread block each, on one SM);
  ``ceil(tiles / sms)`` waves run one after another (*wave quantization*: 133 tiles on 132 SMs take two
  waves). A tile computes ``tm * tn * k`` MACs (padding included) at the SM's matrix-unit peak for the
  kernel's precision (``core.matrix``: one SM's tensor cores) times the kernel family's ``efficiency``, while
  loading its operand panels ``(tm + tn) * k`` elements at ``sm_load_bytes_per_cycle`` (tile-level roofline
  per SM: the slower of the two); a mixed-input kernel (W4A16) also dequantizes its ``k * tn`` weights. The
  library picks the fastest of the family's candidate tiles. The whole kernel is also bounded by its bytes
  over the L2 (``gpu.llc.bandwidth``): weights plus activations in and out.
- **pointwise** kinds (LSTM cell, nonlinear, elementwise, softmax, top-k, gather, embedding) are memory-bound:
  every pass reads its operands and writes its result, at the L2 bandwidth when the bytes fit in the L2, else
  at the HBM bandwidth; ``gpu.kernels_per_op`` says how many kernels (and launches) a trace op takes.

Weights the L2 does not hold stream from HBM (``dram_bytes``): :mod:`accelsim.cost.op` hands them to the
engine's shared DRAM channel, which overlaps them with the kernel's compute. Every function works on numpy
arrays as well as scalars (the calibration evaluates all rows at once). Seconds throughout.
"""

from __future__ import annotations

import numpy as np

from accelsim.cost.vector import passes
from accelsim.errors import SpecError
from accelsim.spec.schema import PRECISION_BYTES, ArchSpec, Gpu, GpuMatmulKernel

#: Operands each pointwise function reads (the rest read one); every pass writes one result.
BINARY_FUNCS = frozenset({"add", "mul", "max"})


def matmul_kernel_name(w_prec: str, a_prec: str) -> str:
    """GEMM kernel family of a (weight, activation) precision pair: the common precision, or ``w4a16``."""
    if w_prec == a_prec:
        return w_prec
    if w_prec == "int4" and a_prec in ("fp16", "bf16"):
        return "w4a16"
    raise SpecError(f"no GPU GEMM kernel multiplies {w_prec} weights with {a_prec} activations "
                    "(supported: equal precisions, or int4 weights with fp16/bf16 activations = w4a16)")


def _kernel(arch: ArchSpec, name: str) -> GpuMatmulKernel:
    gpu = arch.gpu
    if name not in gpu.matmul:
        raise SpecError(f"{arch.source or arch.name}: a {name} GEMM needs gpu.matmul.{name}, which is not described "
                        f"(described: {', '.join(sorted(gpu.matmul))})")
    return gpu.matmul[name]


def sm_peak_macs_per_s(arch: ArchSpec, precision: str) -> float:
    """Matrix-unit peak of ONE SM at ``precision``, MACs per second (``core.matrix`` is one SM)."""
    matrix = arch.core.matrix
    return matrix.pes * matrix.macs_per_pe_cycle[precision] * arch.clock


def gemm_wave_seconds(m, k, n, name: str, arch: ArchSpec, gpu: Gpu | None = None):
    """Device time of the GEMM's tiles (waves x slowest of compute and operand load per tile), fastest tile.

    Returns ``(seconds, tile_index)`` (index ``len(tiles)``: the GEMV kernel); ``gpu`` overrides ``arch.gpu``.
    """
    gpu = gpu or arch.gpu
    kernel = gpu.matmul[name]
    compute_prec = "fp16" if name == "w4a16" else name
    a_bytes = PRECISION_BYTES[compute_prec]
    w_bytes = PRECISION_BYTES["int4"] if name == "w4a16" else a_bytes
    peak = sm_peak_macs_per_s(arch, compute_prec) * kernel.efficiency
    load_Bps = (kernel.sm_load_bytes_per_cycle or gpu.sm_load_bytes_per_cycle) * arch.clock
    m, k, n = (np.asarray(x, dtype=np.float64) for x in (m, k, n))
    best = np.full(np.broadcast(m, k, n).shape, np.inf)
    which = np.zeros(best.shape, dtype=np.int64)
    candidates = [tuple(t) for t in kernel.tiles] + ([(1, kernel.gemv_cols)] if kernel.gemv_cols else [])
    for i, (tm, tn) in enumerate(candidates):
        gemv = i >= len(kernel.tiles)  # the GEMV kernel serves one-row products only
        tiles = np.ceil(m / tm) * np.ceil(n / tn)
        waves = np.ceil(tiles / gpu.sms)
        compute_s = tm * tn * k / peak
        load_s = (tm * k * a_bytes + k * tn * w_bytes) / load_Bps
        tile_s = np.maximum(compute_s, load_s)
        if kernel.dequant_elems_per_sm_cycle is not None:
            tile_s = tile_s + k * tn / (kernel.dequant_elems_per_sm_cycle * arch.clock)
        t = waves * tile_s
        if gemv:
            t = np.where(m == 1, t, np.inf)
        better = t < best
        best = np.where(better, t, best)
        which = np.where(better, i, which)
    return best, which


def gemm_device_seconds(m, k, n, name: str, arch: ArchSpec, gpu: Gpu | None = None):
    """Device time of a GEMM whose weights are in the L2: max(tile waves, bytes over the L2), s."""
    gpu = gpu or arch.gpu
    compute_prec = "fp16" if name == "w4a16" else name
    a_bytes = PRECISION_BYTES[compute_prec]
    w_bytes = PRECISION_BYTES["int4"] if name == "w4a16" else a_bytes
    waves_s, _ = gemm_wave_seconds(m, k, n, name, arch, gpu)
    m, k, n = (np.asarray(x, dtype=np.float64) for x in (m, k, n))
    l2_s = (k * n * w_bytes + m * k * a_bytes + m * n * a_bytes) / gpu.llc.bandwidth
    return np.maximum(waves_s, l2_s)


def pointwise_bytes(kind: str, func: str, m: int, n: int, k: int, precision: str) -> float:
    """Bytes a pointwise op's kernels read and write (each pass: its operands in, its result out)."""
    size = PRECISION_BYTES[precision]
    if kind in ("gather", "embedding"):
        return 2.0 * m * n * size
    total = 0.0
    for f, elements, _depth in passes(kind, func, m, n, k):
        total += elements * ((2 if f in BINARY_FUNCS else 1) + 1) * size
    return total


def pointwise_device_seconds(nbytes, arch: ArchSpec, gpu: Gpu | None = None):
    """Device time of memory-bound kernels moving ``nbytes``: L2 bandwidth when they fit the L2, else HBM, s."""
    gpu = gpu or arch.gpu
    nbytes = np.asarray(nbytes, dtype=np.float64)
    bw = np.where(nbytes <= gpu.llc.size, gpu.llc.bandwidth, arch.offchip.bandwidth)
    return nbytes / bw


def kernels_of(kind: str, gpu: Gpu) -> int:
    """Kernels (launches) one trace op of ``kind`` takes."""
    return gpu.kernels_per_op.get(kind, 1)


def launch_seconds(kind: str, gpu: Gpu) -> float:
    """Launch overhead of one trace op of ``kind``: kernels x (graph node or eager host launch), s."""
    launch = gpu.launch
    if launch.mode == "graph":
        per = launch.graph_matmul_s if kind == "matmul" else launch.graph_pointwise_s
    else:
        per = launch.eager_matmul_s if kind == "matmul" else launch.eager_pointwise_s
    return kernels_of(kind, gpu) * per


def gpu_op_cost(kind: str, func: str, pclass: str, m: int, k: int, n: int, weight_pclass: str, resident: bool,
                arch: ArchSpec):
    """:class:`~accelsim.cost.op.OpCost` of one trace op on the GPU ``arch`` (the ``op_cost`` GPU branch).

    Every kind runs on the ``matrix`` unit of the one logical core, which here means "the GPU": kernels
    serialize. ``resident``: the op's weight is in the L2; otherwise its bytes stream from HBM.
    """
    from accelsim.cost.op import MATMUL_CLASSES, OpCost
    from accelsim.cost.transfer import busy_seconds, stream_tiles, tensor_bytes
    from accelsim.cost.vector import work_counts

    gpu = arch.gpu
    policy = arch.precision
    dispatch_s = launch_seconds(kind, gpu)
    first_s = arch.offchip.latency
    dram = 0.0
    tiles = 1
    if kind == "matmul":
        mp = getattr(policy, pclass) if pclass in MATMUL_CLASSES else None
        w_prec, a_prec = (mp.weights, mp.activations) if mp else (getattr(policy, pclass),) * 2
        name = matmul_kernel_name(w_prec, a_prec)
        _kernel(arch, name)
        compute_s = float(gemm_device_seconds(m, k, n, name, arch))
        prec = "fp16" if name == "w4a16" else name
        out_bytes = tensor_bytes(m * n, a_prec)
        if not resident:
            dram = tensor_bytes(k * n, w_prec)
            tiles = stream_tiles(dram, arch.core.dma.tile)
    else:
        if kind == "embedding" and weight_pclass:
            wp = getattr(policy, weight_pclass)
            prec = wp.weights if weight_pclass in MATMUL_CLASSES else wp
        else:
            prec = getattr(policy, pclass).activations if pclass in MATMUL_CLASSES else getattr(policy, pclass)
        out_bytes = tensor_bytes(m * (k if kind == "topk" else n), prec)
        if kind == "embedding" and not resident:
            compute_s = 0.0
            dram = tensor_bytes(m * n, prec)
        else:
            compute_s = float(pointwise_device_seconds(pointwise_bytes(kind, func, m, n, k, prec), arch))
    busy, first_s = busy_seconds(kind, dispatch_s, compute_s, dram, tiles, first_s, arch.offchip.bandwidth)
    macs, ops = work_counts(kind, func, m, k, n)
    return OpCost("matrix", busy, dispatch_s, compute_s, dram, tiles, first_s, macs, ops, out_bytes, prec)
