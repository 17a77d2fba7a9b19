"""Calibrate a GPU architecture on a measured per-op table: a few efficiencies and overheads, not a lookup.

What is fitted (every other number of the arch stays as published or assumed):

- graph replay (on the ``graph_us`` column): ``gpu.launch.graph_matmul_s`` and ``graph_pointwise_s`` (kernel nodes),
  ``gpu.sm_load_bytes_per_cycle``, ``gpu.llc.bandwidth``, each GEMM family's ``efficiency``, the W4A16
  ``dequant_elems_per_sm_cycle`` and the integer ``gpu.kernels_per_op.lstm_pointwise``;
- eager (on ``median_us``, with the graph values fixed): ``gpu.launch.eager_matmul_s`` and
  ``eager_pointwise_s``.

The objective is the mean absolute percentage error (MAPE) over the rows (robust to the eager table's
occasional 3x launch outliers, unlike squared error); Nelder-Mead on log parameters, restarted from
its best point while that improves, deterministic.
:func:`leave_one_shape_out` refits without all rows of one (K, N) shape and predicts them: the honest
estimate of the error on shapes the fit never saw.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from accelsim.spec.schema import ArchSpec, Gpu
from accelsim.validate.measured import DTYPE_PRECISION, OP_KIND
from accelsim.validate.predict import predict_seconds

LSTM_KERNELS_CANDIDATES = tuple(range(1, 13))
RESTARTS = 4  # Nelder-Mead runs, each from the previous best, while they still improve


def get_path(gpu: Gpu, path: str) -> float:
    obj = gpu
    for part in path.split("."):
        obj = obj[part] if isinstance(obj, dict) else getattr(obj, part)
    return float(obj)


def with_values(gpu: Gpu, values: dict[str, float]) -> Gpu:
    """A copy of ``gpu`` with the dotted-path ``values`` replaced (validated)."""
    raw = gpu.model_dump()
    for path, value in values.items():
        node = raw
        parts = path.split(".")
        for part in parts[:-1]:
            node = node[part]
        node[parts[-1]] = int(round(value)) if parts[-1] == "lstm_pointwise" else float(value)
    return Gpu.model_validate(raw)


def mape(pred: np.ndarray, measured: np.ndarray) -> float:
    """Mean absolute percentage error, as a fraction."""
    return float(np.mean(np.abs(pred - measured) / measured))


def graph_paths(gpu: Gpu, df: pd.DataFrame) -> list[str]:
    """Continuous graph-mode parameters the rows of ``df`` can inform."""
    paths = ["sm_load_bytes_per_cycle", "llc.bandwidth"]
    if (df["op"] == "matmul").any():
        paths.append("launch.graph_matmul_s")
    if (df["op"] != "matmul").any():
        paths.append("launch.graph_pointwise_s")
    families = set()
    for op, dtype in zip(df["op"], df["dtype"]):
        if OP_KIND[op][0] == "matmul":
            w, a = DTYPE_PRECISION[dtype]
            families.add("w4a16" if w != a else w)
    for name in sorted(families & set(gpu.matmul)):
        paths.append(f"matmul.{name}.efficiency")
        if gpu.matmul[name].sm_load_bytes_per_cycle is not None:
            paths.append(f"matmul.{name}.sm_load_bytes_per_cycle")
        if gpu.matmul[name].dequant_elems_per_sm_cycle is not None:
            paths.append(f"matmul.{name}.dequant_elems_per_sm_cycle")
    return paths


def _fit_continuous(arch: ArchSpec, gpu: Gpu, df: pd.DataFrame, column: str, paths: list[str]) -> Gpu:
    measured = df[column].to_numpy() * 1e-6
    x0 = np.log([get_path(gpu, p) for p in paths])
    caps = np.array([0.0 if p.endswith("efficiency") else np.inf for p in paths])  # efficiency <= 1

    def objective(x):
        x = np.minimum(x, caps)
        try:
            g = with_values(gpu, dict(zip(paths, np.exp(x))))
        except ValueError:
            return 1e9
        return mape(predict_seconds(df, arch, g), measured)

    best_x, best_f = x0, objective(x0)
    for _ in range(RESTARTS):  # restart from the best point: the objective is piecewise (tile choice, ceil)
        res = minimize(objective, best_x, method="Nelder-Mead",
                       options={"maxfev": 400 * len(paths), "xatol": 1e-4, "fatol": 1e-6, "adaptive": True})
        if res.fun >= best_f - 1e-6:
            break
        best_x, best_f = res.x, res.fun
    return with_values(gpu, dict(zip(paths, np.exp(np.minimum(best_x, caps)))))


def fit_graph(arch: ArchSpec, df: pd.DataFrame, column: str = "graph_us") -> Gpu:
    """Graph-replay parameters fitted on ``df[column]`` (launch mode forced to graph)."""
    gpu = with_values(arch.gpu, {}).model_copy(update={"launch": arch.gpu.launch.model_copy(update={"mode": "graph"})})
    paths = graph_paths(gpu, df)
    has_lstm = bool((df["op"] == "lstm_pointwise").any())
    for _ in range(2):  # continuous fit, then the integer kernel count, then the continuous fit again
        gpu = _fit_continuous(arch, gpu, df, column, paths)
        if not has_lstm:
            break
        measured = df[column].to_numpy() * 1e-6
        scores = [(mape(predict_seconds(df, arch, with_values(gpu, {"kernels_per_op.lstm_pointwise": c})),
                        measured), c) for c in LSTM_KERNELS_CANDIDATES]
        gpu = with_values(gpu, {"kernels_per_op.lstm_pointwise": min(scores)[1]})
    return gpu


def fit_eager(arch: ArchSpec, gpu: Gpu, df: pd.DataFrame, column: str = "median_us") -> Gpu:
    """Eager launch overheads fitted on ``df[column]``, the graph-fitted device parameters fixed."""
    eager = gpu.model_copy(update={"launch": gpu.launch.model_copy(update={"mode": "eager"})})
    paths = []
    if (df["op"] == "matmul").any():
        paths.append("launch.eager_matmul_s")
    if (df["op"] != "matmul").any():
        paths.append("launch.eager_pointwise_s")
    fitted = _fit_continuous(arch, eager, df, column, paths)
    return fitted.model_copy(update={"launch": fitted.launch.model_copy(update={"mode": gpu.launch.mode})})


def fitted_values(gpu: Gpu, df: pd.DataFrame) -> dict[str, float]:
    """Every fitted path -> value (graph and eager)."""
    paths = graph_paths(gpu, df) + ["launch.eager_matmul_s", "launch.eager_pointwise_s"]
    if "lstm_pointwise" in gpu.kernels_per_op:
        paths.append("kernels_per_op.lstm_pointwise")
    return {p: get_path(gpu, p) for p in paths}


def calibrate(arch: ArchSpec, df: pd.DataFrame) -> Gpu:
    """Graph fit on ``graph_us`` then eager fit on ``median_us``."""
    return fit_eager(arch, fit_graph(arch, df), df)


def shape_keys(df: pd.DataFrame) -> pd.Series:
    """The (K, N) shape of each row, as ``"KxN"`` (the cross-validation folds)."""
    return df["K"].astype(str) + "x" + df["N"].astype(str)


def predict_mode(arch: ArchSpec, gpu: Gpu, df: pd.DataFrame, mode: str) -> np.ndarray:
    g = gpu.model_copy(update={"launch": gpu.launch.model_copy(update={"mode": mode})})
    return predict_seconds(df, arch, g)


def leave_one_shape_out(arch: ArchSpec, df: pd.DataFrame) -> pd.DataFrame:
    """Per row: graph and eager predictions (us) from a fit that never saw the row's (K, N) shape."""
    keys = shape_keys(df)
    out = df.copy()
    out["cv_graph_us"] = np.nan
    out["cv_eager_us"] = np.nan
    for key in sorted(keys.unique()):
        held = (keys == key).to_numpy()
        fitted = calibrate(arch, df[~held])
        out.loc[held, "cv_graph_us"] = predict_mode(arch, fitted, df[held], "graph") * 1e6
        out.loc[held, "cv_eager_us"] = predict_mode(arch, fitted, df[held], "eager") * 1e6
    return out
