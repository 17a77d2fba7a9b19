"""An integer view of an ops table: every text column as codes + labels, shapes and dependencies as arrays.

The mapper and the cost model run many times over the same workload (the search builds dozens of candidate
plans); reading pandas columns each time (categorical codes, Arrow-backed labels, ``astype(str)``) cost more
than the arithmetic. A loaded workload holds its ops as this view (:func:`accelsim.trace.io.load_workload`
decodes straight into it; :func:`op_codes` hands it out); sub-tables (pieces of split ops, one utterance) are
:meth:`OpTable.take` of it, without going back to pandas. This module imports pandas only to convert a pandas
table (:func:`frame_codes`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

TEXT_COLUMNS = ("kind", "func", "pclass", "weight", "stream", "phase")


@dataclass(frozen=True, eq=False)
class Labelled:
    """A text column: ``codes`` (one per row, any signed integer type: a loaded workload's are the narrowest
    that holds its labels, int8 for up to 127; int32 from :func:`labelled`) into ``names``.

    Arithmetic on codes (keys combining several columns) widens them first (e.g.
    :func:`accelsim.cost.op.dense_key` packs int64)."""

    codes: np.ndarray
    names: tuple[str, ...]

    def take(self, idx: np.ndarray) -> Labelled:
        return Labelled(self.codes[idx], self.names)

    def code_of(self, name: str) -> int:
        """The code of ``name``, -1 when no row could hold it."""
        return self.names.index(name) if name in self.names else -1

    def rows_of(self, name: str) -> np.ndarray:
        """Rows whose label is ``name`` (bool per row, by code: no string per row; none when no row could hold it)."""
        return self.codes == self.code_of(name)

    def with_name(self, name: str) -> tuple[Labelled, int]:
        """The same column with ``name`` among its labels (appended when missing) and its code."""
        if name in self.names:
            return self, self.names.index(name)
        code = len(self.names)
        codes = self.codes
        if code > np.iinfo(codes.dtype).max:  # the new code must fit the codes' dtype (callers store it)
            codes = codes.astype(np.min_scalar_type(-code - 1))
        return Labelled(codes, (*self.names, name)), code


def labelled(column: pd.Series) -> Labelled:
    """Codes (int32: 4 B per row instead of 8; a column has fewer labels than rows, and a table fewer than 2**31
    rows, checked) and labels of a (categorical) pandas column, without materializing a string per row."""
    import pandas as pd

    if not isinstance(column.dtype, pd.CategoricalDtype):
        column = column.astype("category")
    names = tuple(str(c) for c in column.cat.categories)
    if len(names) >= 2**31:
        raise ValueError(f"column {column.name!r} has {len(names):,} labels; at most 2**31 - 1 fit int32 codes")
    return Labelled(column.cat.codes.to_numpy().astype(np.int32), names)


@dataclass(frozen=True, eq=False)
class OpTable:
    """What the cost model reads of each row (an op or a piece of one): kind, func, precision class, weight
    and the matmul shape ``m x k x n`` (elements)."""

    kind: Labelled
    func: Labelled
    pclass: Labelled
    weight: Labelled
    m: np.ndarray
    k: np.ndarray
    n: np.ndarray

    def __len__(self) -> int:
        return len(self.m)

    def take(self, idx: np.ndarray) -> OpTable:
        """Rows ``idx`` (every column indexed the same way)."""
        return OpTable(*(getattr(self, f.name).take(idx) if isinstance(getattr(self, f.name), Labelled)
                         else getattr(self, f.name)[idx] for f in fields(OpTable)))


@dataclass(frozen=True, eq=False)
class OpCodes(OpTable):
    """A workload's ops as arrays: the :class:`OpTable` columns plus stream, phase, utterance and deps (CSR:
    the parents of op ``i`` are ``dep_src[dep_ptr[i]:dep_ptr[i + 1]]``).

    Dtypes of a loaded workload (:func:`accelsim.trace.io.load_workload`): codes, ``utt``: the narrowest signed
    integer holding the values (int8 upward; only compared and indexed); ``m``, ``k``, ``n``: int64;
    ``dep_ptr``, ``dep_src``: int32, int64 when the values need it. From a pandas table (:func:`frame_codes`):
    int32 codes, ``utt`` as stored, int64 shapes and deps."""

    stream: Labelled = None
    phase: Labelled = None
    utt: np.ndarray = None
    dep_ptr: np.ndarray = None
    dep_src: np.ndarray = None


def op_table(ops: pd.DataFrame) -> OpTable:
    """The cost-model columns of a pandas ops table."""
    return OpTable(labelled(ops["kind"]), labelled(ops["func"]), labelled(ops["pclass"]), labelled(ops["weight"]),
                   *(ops[c].to_numpy(np.int64) for c in ("m", "k", "n")))


def _utterances(column: pd.Series) -> np.ndarray:
    """The utterance ids as stored (int32 in a loaded trace: no int64 copy; ids are only compared)."""
    utt = column.to_numpy()
    return utt if np.issubdtype(utt.dtype, np.integer) else utt.astype(np.int64)


def frame_codes(ops: pd.DataFrame, deps: tuple[np.ndarray, np.ndarray] | None = None) -> OpCodes:
    """The integer view of a pandas ops table (deps when it has a ``deps`` column; ``deps``: its CSR, when
    already at hand)."""
    from accelsim.trace.io import deps_csr

    if deps is not None:
        ptr, src = deps
    else:
        ptr, src = deps_csr(ops["deps"]) if "deps" in ops.columns else (None, None)
    return OpCodes(*(getattr(op_table(ops), f.name) for f in fields(OpTable)), stream=labelled(ops["stream"]),
                   phase=labelled(ops["phase"]), utt=_utterances(ops["utt"]), dep_ptr=ptr, dep_src=src)


def as_codes(ops: pd.DataFrame | OpCodes) -> OpCodes:
    return ops if isinstance(ops, OpCodes) else frame_codes(ops)


def op_codes(workload) -> OpCodes:
    """The integer view of a workload's ops (:attr:`accelsim.trace.io.Workload.codes`: what a loaded workload
    holds; derived once from a workload made from a pandas table)."""
    return workload.codes
