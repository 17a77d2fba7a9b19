"""Shared builders for the simulator tests (no tests here): small architectures and hand-made workloads."""

from __future__ import annotations

from pathlib import Path

from accelsim.spec import load_arch, validate_raw
from accelsim.spec.loader import load_raw
from accelsim.trace import TraceBuilder, write_workload

REPO = Path(__file__).resolve().parents[1]
ARCH = REPO / "arch"


def arch(name: str = "int4", **overrides):
    """A shipped architecture with dotted-path overrides; the engine tests play the naive mapping (one piece
    per op), whose semantics they check op by op (the searched mapping is tested in test_map_search.py)."""
    return load_arch(ARCH / f"{name}.yaml", {"scheduler.mapping": "naive", **overrides})


def raw_arch(name: str = "int4") -> dict:
    return load_raw(ARCH / f"{name}.yaml")


def arch_from_raw(raw: dict, where: str = "test.yaml"):
    return validate_raw(raw, where, source=where)


def write(tb: TraceBuilder, directory: Path, *, beam: int = 1, fusion: str = "none", seconds: float = 1.0,
          utterances: int = 1):
    return write_workload(
        directory, ops=tb.to_frame(), weights=tb.weights, name=directory.name, synthetic=True,
        provenance={"command": "pytest", "generator": "tests"}, model={},
        search={"algorithm": "alsd", "beam": beam, "fusion": fusion},
        audio={"seconds": seconds, "utterances": utterances, "frame_rate_hz": 50.0},
    )


def lone_op_workload(directory: Path, kind: str, m: int, k: int, n: int, pclass: str = "matmul", func: str = ""):
    """A workload of exactly one op (matmul reads a declared weight of k x n)."""
    tb = TraceBuilder()
    if kind == "matmul":
        tb.declare_weight("w", (k, n), pclass)
        tb.matmul("encoder", m=m, k=k, weight="w", stream="s")
    elif kind == "embedding":
        tb.declare_weight("table", (64, n), "matmul")
        tb.add("embedding", "prediction", m=m, n=n, pclass="matmul", weight="table", stream="s")
    else:
        tb.add(kind, "search", m=m, k=k, n=n, pclass=pclass, func=func, stream="s")
    return write(tb, directory)


def mem_workload(tb: TraceBuilder, *, seconds: float = 1.0, name: str = "mem"):
    """A :class:`Workload` built in memory (no files): for fast property tests of the engine."""
    from accelsim.trace.format import WorkloadMeta
    from accelsim.trace.io import Workload

    ops = tb.to_frame()
    meta = WorkloadMeta.model_validate({
        "format_version": 1, "name": name, "synthetic": True,
        "provenance": {"command": "pytest", "generator": "tests"}, "model": {},
        "search": {"algorithm": "alsd", "beam": 1, "fusion": "none"},
        "audio": {"seconds": seconds, "utterances": int(ops["utt"].nunique()) or 1, "frame_rate_hz": 50.0},
        "weights": {k: v.model_dump() for k, v in tb.weights.items()},
        "ops": {"file": "ops.parquet", "count": len(ops), "sha256": "0" * 64},
    })
    return Workload(path=Path(name), meta=meta, ops=ops)
