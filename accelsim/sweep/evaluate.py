"""Evaluate one sweep point with the real simulator: load the arch (with overrides) and the workload, simulate.

The row is the simulator's summary (unit-suffixed keys) plus what the report needs and must not recompute:

- ``wer_percent`` / ``test_set``: the workload's measured accuracy (``workload.yaml`` accuracy), when present:
  the decode at the arch's own precision when the workload records it (``accuracy.wer_by_precision``), else the
  float decode; ``wer_precision`` says which, ``speech`` what the test speech was;
- ``recipe``: the quantization recipe the workload's decode used;
- ``core_peak_matrix_macs_per_s``, ``core_peak_vector_elems_per_s``, ``offchip_bytes_per_s``: the roofs of this
  arch at its precision policy;
- per op kind ``kind_<kind>_work_ops`` (MACs for matmuls, SFU element ops otherwise), ``kind_<kind>_dram_bytes``
  and ``kind_<kind>_busy_s`` (unit busy time summed over the ops): each op class's place on the roofline;
- ``timeline_file``: the stored timeline (relative to the sweep folder), for points the spec selected.

Workloads are cached per worker process (a sweep revisits the same few workloads at many arch points).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from accelsim.atomic import atomic_write
from accelsim.sweep.grid import PointTask
from accelsim.trace.coded import op_codes
from accelsim.validation import check_summary

_TIMELINE_COLUMNS = ("op_id", "core", "unit", "phase", "kind", "stream", "start_s", "end_s")


@functools.lru_cache(maxsize=8)
def _workload(path: str, mtime_ns: int):  # mtime in the key: an edited workload is reloaded
    from accelsim.trace import load_workload

    return load_workload(path)


def load_cached_workload(path: str):
    meta = Path(path) / "workload.yaml"
    return _workload(path, meta.stat().st_mtime_ns if meta.exists() else 0)


def roofline_columns(result: Any) -> dict[str, float]:
    """Per-core roofs of the run's arch and, per op kind, work, DRAM bytes and unit busy time of the run.

    Work is MACs for matmuls and SFU element operations for the rest (each op's own precision). With these a
    kind sits on the roofline at intensity ``work / dram_bytes`` and throughput ``work / busy_s`` (the rate its
    unit sustained while running it), under the per-core roof: a unit on one core runs one op at a time.
    """
    arch = result.arch
    pol = arch.precision
    clock = float(arch.clock)
    mat, vec = arch.core.matrix, arch.core.vector
    out: dict[str, float] = {
        "core_peak_matrix_macs_per_s": clock * mat.pes * float(mat.macs_per_pe_cycle[pol.matmul.compute]),
        "core_peak_vector_elems_per_s": clock * vec.lanes * float(vec.elems_per_lane_cycle[pol.nonlinear]),
        "offchip_bytes_per_s": float(arch.offchip.bandwidth),
    }
    kind_codes = op_codes(result.workload).kind
    kind = np.array(kind_codes.names, dtype=object)[kind_codes.codes]
    costs = result.costs
    work = np.where(kind == "matmul", costs["macs"], costs["elem_ops"]).astype(np.float64)
    frame = pd.DataFrame({
        "kind": kind, "work": work, "dram": costs["dram_bytes"].astype(np.float64),
        "busy": np.asarray(result.end_s - result.start_s, dtype=np.float64),
    }).groupby("kind", sort=True).sum()
    for name, row in frame.iterrows():
        out[f"kind_{name}_work_ops"] = float(row["work"])
        out[f"kind_{name}_dram_bytes"] = float(row["dram"])
        out[f"kind_{name}_busy_s"] = float(row["busy"])
    return out


def _write_timeline(path: str, timeline: pd.DataFrame) -> None:
    cols = [c for c in _TIMELINE_COLUMNS if c in timeline.columns]
    small = timeline[cols].copy()
    for c in ("unit", "phase", "kind", "stream"):
        if c in small:
            small[c] = small[c].astype(str).astype("category")
    atomic_write(path, lambda p: small.to_parquet(p, index=False, compression="zstd"))


def evaluate_point(task: PointTask) -> dict[str, Any]:
    """Simulate one point; returns its result row (see the module doc). Raises on any failure."""
    from accelsim.sim import simulate
    from accelsim.spec import load_arch

    arch = load_arch(task.arch_path, task.override_dict or None)
    workload = load_cached_workload(task.workload_path)
    result = simulate(arch, workload, record_timeline=task.timeline)
    row: dict[str, Any] = dict(result.summary())
    acc = workload.meta.accuracy
    wer, wer_precision = acc.wer_for(arch.precision_mode) if acc is not None else (float("nan"), "")
    row["wer_percent"], row["wer_precision"] = wer, wer_precision
    row["test_set"] = acc.test_set if acc is not None else ""
    row["speech"] = (acc.speech or "") if acc is not None else ""
    row["recipe"] = workload.meta.recipe or ""
    row.update(roofline_columns(result))
    check_summary(row, arch=task.arch_file, workload=task.workload_dir, overrides=task.override_dict,
                  allow_nan=() if acc is not None else ("wer_percent",))  # never a non-finite row marked ok
    if task.timeline and task.timeline_path:
        _write_timeline(task.timeline_path, result.timeline)
        row["timeline_file"] = os.path.join("timelines", Path(task.timeline_path).name)
    return row
