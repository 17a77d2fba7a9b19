"""Per-prefix cache of scorer outputs and states, filled by one batched call per scorer per search step.

A prefix's prediction-network output and LM log-probs depend on its labels only, not on its alignment, so
each distinct prefix is computed once: :meth:`PrefixCache.ensure` finds the prefixes of the beam not yet seen,
gathers their parents' states (the parent of ``y + (k,)`` is ``y``), runs every scorer once on the whole batch
and stores the rows in growing slot tensors. Lookups are one ``index_select`` per tensor.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from asr.search.scorer import Scorer, State

SOS = 0  # start-of-sequence unit (the blank id)


class _Slots:
    """Growing row store: one tensor per field, rows addressed by slot index."""

    def __init__(self) -> None:
        self.tensors: list[torch.Tensor] = []
        self.size = 0

    def append(self, rows: Sequence[torch.Tensor]) -> range:
        m = rows[0].shape[0]
        if not self.tensors:
            self.tensors = [torch.empty((max(1024, 2 * m), *r.shape[1:]), dtype=r.dtype) for r in rows]
        need = self.size + m
        if need > self.tensors[0].shape[0]:
            cap = max(need, 2 * self.tensors[0].shape[0])
            grown = []
            for t in self.tensors:
                g = torch.empty((cap, *t.shape[1:]), dtype=t.dtype)
                g[: self.size] = t[: self.size]
                grown.append(g)
            self.tensors = grown
        for t, r in zip(self.tensors, rows):
            t[self.size : need] = r
        out = range(self.size, need)
        self.size = need
        return out

    def take(self, idx: torch.Tensor) -> list[torch.Tensor]:
        return [t.index_select(0, idx) for t in self.tensors]


class PrefixCache:
    """Slot tensors per scorer (output rows + state rows) and a dict prefix -> slot.

    ``derive`` (optional) maps the new prefixes' output rows of every scorer (scorer order) to one more row
    per prefix, stored beside them (the search keeps its prefix-only fusion term there, computed once).
    """

    def __init__(self, scorers: Sequence[Scorer], observer=None, derive=None) -> None:
        self.scorers = list(scorers)
        self.slots = [_Slots() for _ in self.scorers]
        self.derived = _Slots()
        self.derive = derive
        self.index: dict[tuple[int, ...], int] = {}
        self.observer = observer
        self._init_root()

    def _init_root(self) -> None:
        tokens = torch.tensor([SOS])
        outs = []
        for scorer, store in zip(self.scorers, self.slots):
            out, state = scorer.step(tokens, scorer.initial_state(1))
            store.append([out, *state])
            outs.append(out)
        if self.derive is not None:
            self.derived.append([self.derive(outs)])
        self.index[()] = 0
        if self.observer is not None:
            self.observer.scorers(1, gathered=0)

    def ensure(self, prefixes: Sequence[tuple[int, ...]]) -> int:
        """Compute every prefix of ``prefixes`` not cached yet in one batched call per scorer; returns how many."""
        index = self.index
        new: list[tuple[int, ...]] = []
        seen = set()
        for y in prefixes:
            if y not in index and y not in seen:
                seen.add(y)
                new.append(y)
        if not new:
            return 0
        try:
            parents = torch.tensor([index[y[:-1]] for y in new])  # (m,)
        except KeyError:
            bad = next(y for y in new if y[:-1] not in index)
            raise KeyError(f"prefix {bad} reached before its parent was cached (search bug)") from None
        tokens = torch.tensor([y[-1] for y in new])  # (m,)
        if self.observer is not None:
            self.observer.scorers(len(new), gathered=len(new))
        outs = []
        with torch.no_grad():
            for scorer, store in zip(self.scorers, self.slots):
                state: State = tuple(t.index_select(0, parents) for t in store.tensors[1:])  # (m, layers, H) each
                out, state = scorer.step(tokens, state)  # (m, D)
                slots = store.append([out, *state])
                outs.append(out)
            if self.derive is not None:
                self.derived.append([self.derive(outs)])
        for y, s in zip(new, slots):
            index[y] = s
        return len(new)

    def lookup(self, prefixes: Sequence[tuple[int, ...]]) -> torch.Tensor:
        """Slot indices (m,) of ``prefixes``, computing the ones not cached yet first (:meth:`ensure`)."""
        self.ensure(prefixes)
        index = self.index
        return torch.tensor([index[y] for y in prefixes])

    def outputs(self, prefixes: Sequence[tuple[int, ...]]) -> list[torch.Tensor]:
        """Each scorer's cached output rows for ``prefixes``: a list of (m, D) tensors, scorer order."""
        idx = torch.tensor([self.index[y] for y in prefixes])  # (m,)
        return [store.tensors[0].index_select(0, idx) for store in self.slots]
