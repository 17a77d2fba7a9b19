"""Systolic-array fold timing, as SCALE-Sim computes it (Samajdar et al., ISPASS 2020).

A GEMM is mapped onto an ``R x C`` array as a spatial ``Sr x Sc`` problem with a temporal dimension ``T``.
It runs in ``folds = ceil(Sr / R) * ceil(Sc / C)`` folds; each fold costs the ``T`` streaming cycles plus the
fill/drain skew of the array, and the very last cycle overlaps the next op (the ``- 1``):

- output stationary (OS): ``Sr = M`` (output rows), ``Sc = N`` (output columns), ``T = K``;
  ``cycles = folds * (T + R + C - 2) - 1``
- weight stationary (WS): ``Sr = K`` (reduction), ``Sc = N``, ``T = M``; the extra ``R`` loads the weights:
  ``cycles = folds * (T + 2R + C - 2) - 1``

:func:`fold_schedule` is the tile-level view (one interval per fold); the closed forms are its total.
All results are in cycles.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def fold_count(sr: int, sc: int, rows: int, cols: int) -> int:
    """Number of array folds needed to cover an ``sr x sc`` spatial problem on a ``rows x cols`` array."""
    return ceil_div(sr, rows) * ceil_div(sc, cols)


def fold_cycles(t: int, rows: int, cols: int, dataflow: str) -> int:
    """Cycles of one fold: ``T`` streaming cycles plus the array's fill/drain (and weight load for WS)."""
    if dataflow == "os":
        return t + rows + cols - 2
    if dataflow == "ws":
        return t + 2 * rows + cols - 2
    raise ValueError(f"unknown dataflow {dataflow!r}; expected 'os' or 'ws'")


def os_cycles(m: int, k: int, n: int, rows: int, cols: int) -> int:
    """Output-stationary GEMM (m x k) @ (k x n): ``folds * (T + R + C - 2) - 1`` with Sr=m, Sc=n, T=k."""
    return fold_count(m, n, rows, cols) * (k + rows + cols - 2) - 1


def ws_cycles(m: int, k: int, n: int, rows: int, cols: int) -> int:
    """Weight-stationary GEMM: ``folds * (T + 2R + C - 2) - 1`` with Sr=k, Sc=n, T=m."""
    return fold_count(k, n, rows, cols) * (m + 2 * rows + cols - 2) - 1


@dataclass(frozen=True)
class Fold:
    index: int
    row0: int  # first spatial row of this fold (in Sr)
    col0: int  # first spatial column (in Sc)
    start: int  # cycle the fold's first operand enters the array
    end: int  # cycle after its last result leaves


def fold_schedule(sr: int, sc: int, t: int, rows: int, cols: int, dataflow: str) -> Iterator[Fold]:
    """The folds of one GEMM in execution order (row-major over the spatial tiles), back to back.

    The total runtime is ``last.end - 1``: the final drain cycle overlaps whatever runs next.
    """
    per_fold = fold_cycles(t, rows, cols, dataflow)
    clock = 0
    index = 0
    for row0 in range(0, sr, rows):
        for col0 in range(0, sc, cols):
            yield Fold(index, row0, col0, clock, clock + per_fold)
            clock += per_fold
            index += 1


def schedule_cycles(sr: int, sc: int, t: int, rows: int, cols: int, dataflow: str) -> int:
    """Runtime of :func:`fold_schedule`, cycles (equals the closed forms above)."""
    last = None
    for last in fold_schedule(sr, sc, t, rows, cols, dataflow):
        pass
    return 0 if last is None else last.end - 1
