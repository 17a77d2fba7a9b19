"""Build an ops table op by op: used by the synthetic generator and by ``asr``'s decode tracer."""

from __future__ import annotations

from collections.abc import Iterable

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

from accelsim.trace.format import OP_COLUMNS, OP_KINDS, PHASES, PRECISION_CLASSES, WeightMeta


class TraceBuilder:
    """Accumulates ops in issue order; :meth:`add` returns the new op's id for later ``deps``."""

    def __init__(self) -> None:
        self._cols: dict[str, list] = {name: [] for name in OP_COLUMNS}
        self.weights: dict[str, WeightMeta] = {}

    def __len__(self) -> int:
        return len(self._cols["id"])

    def declare_weight(self, name: str, shape: Iterable[int], pclass: str = "matmul") -> str:
        """Register a weight tensor (idempotent when shape and class agree); returns its name."""
        meta = WeightMeta(shape=[int(d) for d in shape], pclass=pclass)
        old = self.weights.get(name)
        if old is not None and old != meta:
            raise ValueError(f"weight {name!r} declared twice with different shapes/classes: {old} vs {meta}")
        self.weights[name] = meta
        return name

    def add(
        self,
        kind: str,
        phase: str,
        *,
        m: int,
        n: int,
        k: int = 0,
        pclass: str,
        func: str = "",
        weight: str = "",
        stream: str = "",
        utt: int = 0,
        step: int = -1,
        deps: Iterable[int] = (),
    ) -> int:
        """Append one op and return its id. Shapes follow the per-kind meaning in ``format.OP_COLUMNS``."""
        if kind not in OP_KINDS:
            raise ValueError(f"unknown op kind {kind!r}; expected one of {OP_KINDS}")
        if phase not in PHASES:
            raise ValueError(f"unknown phase {phase!r}; expected one of {PHASES}")
        if pclass not in PRECISION_CLASSES:
            raise ValueError(f"unknown precision class {pclass!r}; expected one of {PRECISION_CLASSES}")
        if weight and weight not in self.weights:
            raise ValueError(f"op reads weight {weight!r} that was never declared")
        op_id = len(self)
        dep_list = sorted({int(d) for d in deps})
        if dep_list and (dep_list[0] < 0 or dep_list[-1] >= op_id):
            raise ValueError(f"op {op_id}: deps must name earlier ops, got {dep_list}")
        c = self._cols
        c["id"].append(op_id)
        c["kind"].append(kind)
        c["phase"].append(phase)
        c["pclass"].append(pclass)
        c["func"].append(func)
        c["stream"].append(stream)
        c["weight"].append(weight)
        c["utt"].append(int(utt))
        c["step"].append(int(step))
        c["m"].append(int(m))
        c["k"].append(int(k))
        c["n"].append(int(n))
        c["deps"].append(dep_list)
        return op_id

    def matmul(self, phase: str, *, m: int, k: int, weight: str, deps: Iterable[int] = (), **kw) -> int:
        """(m x k) @ weight (k x n): n and the precision class come from the declared weight."""
        w = self.weights[weight]
        if w.shape[0] != k:
            raise ValueError(f"matmul on {weight!r}: k={k} but weight shape is {w.shape}")
        n = w.elements // w.shape[0]
        return self.add("matmul", phase, m=m, k=k, n=n, pclass=w.pclass, weight=weight, deps=deps, **kw)

    def to_frame(self) -> pd.DataFrame:
        """The ops table with the dtypes of ``OP_COLUMNS``."""
        import pandas as pd

        data = {}
        for name, dtype in OP_COLUMNS.items():
            values = self._cols[name]
            if dtype == "list<int64>":
                data[name] = pd.Series(values, dtype=object)
            elif dtype == "category":
                data[name] = pd.Categorical(values)
            else:
                data[name] = np.asarray(values, dtype=dtype)
        return pd.DataFrame(data)
