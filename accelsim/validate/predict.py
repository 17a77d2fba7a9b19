"""Predict measured-table rows with the simulator's cost path: one row = one op alone on an idle device.

:func:`predict_plain` runs every row through :func:`accelsim.cost.op.op_cost`, exactly as ``accelsim run`` costs
a trace op (any architecture). :func:`predict_seconds` is the vectorized GPU fast path the calibration
evaluates thousands of times; a test keeps the two equal row by row.

A row's weight counts as held on chip (L2 on a GPU, the pinnable scratchpad otherwise) when it fits there:
the benchmark runs the same op again and again, so a weight that fits stays cached.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from accelsim.cost.gpu import (gemm_device_seconds, launch_seconds, matmul_kernel_name, pointwise_bytes,
                               pointwise_device_seconds)
from accelsim.cost.op import op_cost
from accelsim.cost.transfer import tensor_bytes
from accelsim.errors import SpecError
from accelsim.spec.schema import ArchSpec, Gpu, MatmulPrecision, PrecisionPolicy
from accelsim.validate.measured import DTYPE_PRECISION, OP_KIND, MeasuredTableError, trace_shape

FLOAT_PRECISIONS = ("fp32", "fp16", "bf16", "tf32")


def policy_for_dtype(dtype: str) -> PrecisionPolicy:
    """Precision policy that runs every class at the row's dtype (pointwise in fp16 for integer dtypes)."""
    w, a = DTYPE_PRECISION[dtype]
    mm = MatmulPrecision(weights=w, activations=a)
    vec = a if a in FLOAT_PRECISIONS else "fp16"
    return PrecisionPolicy(matmul=mm, matmul_wide=mm, nonlinear=vec, elementwise=vec, softmax=vec)


def on_chip_bytes(arch: ArchSpec) -> float:
    """Bytes of weights an isolated op finds on chip: the whole L2 on a GPU, else the pinnable scratchpad."""
    if arch.gpu is not None:
        return arch.gpu.llc.size
    return arch.core.scratchpad.size * arch.core.scratchpad.weight_fraction


def predict_plain(df: pd.DataFrame, arch: ArchSpec) -> np.ndarray:
    """Seconds of each row through ``op_cost`` (``busy_s``: launch/dispatch + compute + any streaming)."""
    out = np.zeros(len(df))
    archs: dict[str, ArchSpec] = {}
    budget = on_chip_bytes(arch)
    rows = zip(df["op"], df["dtype"], df["M"], df["K"], df["N"])
    for i, (op, dtype, m, k, n) in enumerate(rows):
        if dtype not in archs:
            archs[dtype] = arch.model_copy(update={"precision": policy_for_dtype(dtype)})
        a = archs[dtype]
        kind, func = OP_KIND[op]
        tm, tk, tn = trace_shape(op, int(m), int(k), int(n))
        resident = True
        if kind == "matmul":
            resident = tensor_bytes(tk * tn, a.precision.matmul.weights) <= budget
        try:
            cost = op_cost(kind, func, "matmul" if kind == "matmul" else "nonlinear", tm, tk, tn, "", resident, a)
        except SpecError as exc:
            raise MeasuredTableError(f"row {i + 2} ({op} {dtype} {m}x{k}x{n}): {exc}") from None
        except KeyError as exc:
            raise MeasuredTableError(f"row {i + 2} ({op} {dtype}): {arch.source or arch.name} has no "
                                     f"throughput for precision {exc}") from None
        out[i] = cost.busy_s
    if not np.isfinite(out).all():
        raise MeasuredTableError(f"{arch.source or arch.name}: a prediction is not finite")
    return out


def predict_seconds(df: pd.DataFrame, arch: ArchSpec, gpu: Gpu | None = None) -> np.ndarray:
    """Vectorized :func:`predict_plain` for a GPU arch whose weights all fit its L2 (``gpu`` overrides)."""
    gpu = gpu or arch.gpu
    out = np.zeros(len(df))
    m, k, n = (df[c].to_numpy(np.int64) for c in ("M", "K", "N"))
    for (op, dtype), idx in df.groupby(["op", "dtype"], sort=False).indices.items():
        kind, func = OP_KIND[op]
        w, a = DTYPE_PRECISION[dtype]
        launch = launch_seconds(kind, gpu)
        if kind == "matmul":
            dev = gemm_device_seconds(m[idx], k[idx], n[idx], matmul_kernel_name(w, a), arch, gpu)
        else:
            vec = policy_for_dtype(dtype).nonlinear
            nbytes = np.array([pointwise_bytes(kind, func, *_mkn(op, m[i], k[i], n[i]), vec) for i in idx])
            dev = pointwise_device_seconds(nbytes, arch, gpu)
        out[idx] = launch + dev
    return out


def _mkn(op: str, m: int, k: int, n: int) -> tuple[int, int, int]:
    tm, tk, tn = trace_shape(op, int(m), int(k), int(n))
    return tm, tn, tk  # pointwise_bytes takes (m, n, k)
