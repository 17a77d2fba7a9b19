"""Per-prefix cache of scorer outputs and states, filled by one batched call per scorer per search step.

A prefix's prediction-network output and LM log-probs depend on its labels only, not on its alignment, so
each distinct prefix is computed once: :meth:`PrefixCache.ensure` finds the prefixes of the beam not yet seen,
gathers their parents' states (the parent of ``y + (k,)`` is ``y``), runs every scorer once on the whole batch
and stores the rows in growing slot tensors. Lookups are one ``index_select`` per tensor. :class:`LSTMCellCache`
is the same cache for float LSTM scorers with fewer, stacked kernels and bit-identical rows.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence

import torch

from asr.search.scorer import Scorer, State

SOS = 0  # start-of-sequence unit (the blank id)


def long_tensor(values: list[int]) -> torch.Tensor:
    """``torch.tensor(values)`` (int64, 1-D, non-empty) through an ``array`` buffer: a third of the call overhead."""
    return torch.frombuffer(array("q", values), dtype=torch.int64)


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

    def lookup(self, prefixes: Sequence[tuple[int, ...]]) -> list[int]:
        """Slot indices of ``prefixes``, computing the ones not cached yet first (:meth:`ensure`)."""
        self.ensure(prefixes)
        index = self.index
        return [index[y] for y in prefixes]

    @property
    def pred_rows(self) -> torch.Tensor:
        """The prediction scorer's output rows by slot (rows >= the number of cached prefixes are unused)."""
        return self.slots[0].tensors[0]

    @property
    def term_rows(self) -> torch.Tensor | None:
        """The derived rows by slot (the search's fusion term), or None without ``derive``."""
        return self.derived.tensors[0] if self.derive is not None else None

    def outputs(self, prefixes: Sequence[tuple[int, ...]]) -> list[torch.Tensor]:
        """Each scorer's cached output rows for ``prefixes``: a list of (m, D) tensors, scorer order."""
        idx = torch.tensor([self.index[y] for y in prefixes])  # (m,)
        return [store.tensors[0].index_select(0, idx) for store in self.slots]


class LSTMCellCache:
    """The same cache for float single-layer LSTM scorers, with the LMs run as one stacked group of tensor ops.

    Used when the prediction network and every LM are :class:`asr.search.scorer.LSTMCellScorer` (plain float
    modules, one layer) and the LMs share their sizes. Per call on ``m`` new prefixes: one gather of the
    parents' ``[h | c]`` rows per group (prediction network; LMs), the prediction cell and head, the LM cells
    and heads batched over the LMs (``baddbmm`` over the stacked weights: per LM the same GEMM as ``addmm``),
    the LM log-softmax and the prefix-only fusion term, results written straight into their slot rows
    (``out=``). Every value equals :class:`PrefixCache` + ``LSTMCellScorer`` + the search's fusion term bit for
    bit (same kernels, same operand order and rounding; ``tests/test_search.py``). Of the LMs only the
    states and the fusion-term rows are kept (the search reads nothing else of them).

    ``lms``: ``(scorer, weight)`` fusion terms; ``rho``: label reward; ``with_terms``: keep fusion-term rows.
    """

    def __init__(self, pred, lms: Sequence[tuple], rho: float, with_terms: bool, observer=None,
                 capacity: int = 1024) -> None:
        self.observer = observer
        self.index: dict[tuple[int, ...], int] = {}
        self.size, self.cap = 0, max(1, capacity)
        self.rho, self.with_terms = rho, with_terms
        self.rho_t = torch.tensor(float(rho))  # 0-dim float32: the same rounded value a Python scalar is cast to
        self.num_lms = len(lms)
        # prediction network: gate table (V, 4Hp), W_hh^T (Hp, 4Hp), head (pred_proj) bias (J,), W^T view (Hp, J)
        self.hp = pred.hidden
        self.p_table, self.p_whh = pred.table, pred.w_hh_t[0]
        self.p_bias, self.p_wout_t = pred.head.bias.detach(), pred.head.weight.detach().t()
        self.p_state = torch.empty(self.cap, 2 * self.hp)  # rows [h | c] after each prefix
        self.p_out = torch.empty(self.cap, self.p_bias.shape[0])  # projected prediction rows (cap, J)
        vocab = pred.table.shape[0]
        if lms:
            cells = [s for s, _ in lms]
            self.h = cells[0].hidden
            self.l_table = torch.stack([c.table for c in cells])  # (L, V, 4H)
            self.l_whh = torch.stack([c.w_hh_t[0] for c in cells])  # (L, H, 4H)
            self.l_bias = torch.stack([c.head.bias.detach() for c in cells])[:, None]  # (L, 1, V)
            self.l_wout_t = torch.stack([c.head.weight.detach() for c in cells]).transpose(1, 2)  # (L, H, V) view
            self.l_weight = torch.tensor([float(w) for _, w in lms])[:, None, None]  # (L, 1, 1)
            self.l_state = torch.empty(self.num_lms, self.cap, 2 * self.h)  # (L, cap, [h | c])
            vocab = self.l_bias.shape[2]
        # fusion term of each unit per prefix (blank column 0 stays 0)
        self.terms = torch.zeros(self.cap, vocab) if with_terms else None
        self._root()

    @property
    def pred_rows(self) -> torch.Tensor:
        """Projected prediction-network rows (cap, J) by slot."""
        return self.p_out

    @property
    def term_rows(self) -> torch.Tensor | None:
        """Fusion-term rows (cap, V) by slot (0 on blank), or None when the search has no fusion term."""
        return self.terms

    def _grow(self, need: int) -> None:
        cap = max(need, 2 * self.cap)
        n = self.size

        def grown(t: torch.Tensor, dim: int = 0, zeros: bool = False) -> torch.Tensor:
            shape = list(t.shape)
            shape[dim] = cap
            g = torch.zeros(shape) if zeros else torch.empty(shape)
            g.narrow(dim, 0, n).copy_(t.narrow(dim, 0, n))
            return g

        self.p_state, self.p_out = grown(self.p_state), grown(self.p_out)
        if self.num_lms:
            self.l_state = grown(self.l_state, 1)
        if self.terms is not None:
            self.terms = grown(self.terms, zeros=True)
        self.cap = cap

    def _root(self) -> None:
        tokens = torch.tensor([SOS])
        self.index[()] = self._add(tokens, torch.zeros(1, 2 * self.hp),
                                   torch.zeros(self.num_lms, 1, 2 * self.h) if self.num_lms else None)
        if self.observer is not None:
            self.observer.scorers(1, gathered=0)

    def _compute(self, tokens: torch.Tensor, p_prev: torch.Tensor, l_prev: torch.Tensor | None) -> torch.Tensor | None:
        """The model calls: every scorer on ``tokens`` (m,) from the gathered parent states, states and prediction
        rows written into slots size..size+m; returns the LMs' log-probs (L, m, V) (None without LMs).

        ``p_prev`` (m, 2Hp) and ``l_prev`` (L, m, 2H): the parents' [h | c] rows.
        """
        m = tokens.shape[0]
        a, b = self.size, self.size + m
        if b > self.cap:
            self._grow(b)
        H = self.hp
        gates = torch.addmm(self.p_table.index_select(0, tokens), p_prev[:, :H], self.p_whh)  # (m, 4H): i, f, o, g
        sig = torch.sigmoid(gates[:, : 3 * H])
        st = self.p_state[a:b]
        c = torch.addcmul(sig[:, H : 2 * H] * p_prev[:, H:], sig[:, :H], torch.tanh(gates[:, 3 * H :]), out=st[:, H:])
        x = torch.mul(sig[:, 2 * H :], torch.tanh(c), out=st[:, :H])
        torch.addmm(self.p_bias, x, self.p_wout_t, out=self.p_out[a:b])  # (m, J)
        if self.num_lms:
            H = self.h
            tab = self.l_table.index_select(1, tokens)  # (L, m, 4H)
            gates = torch.baddbmm(tab, l_prev[..., :H], self.l_whh)  # (L, m, 4H)
            sig = torch.sigmoid(gates[..., : 3 * H])
            st = self.l_state[:, a:b]
            c = torch.addcmul(sig[..., H : 2 * H] * l_prev[..., H:], sig[..., :H], torch.tanh(gates[..., 3 * H :]),
                              out=st[..., H:])
            x = torch.mul(sig[..., 2 * H :], torch.tanh(c), out=st[..., :H])
            return torch.log_softmax(torch.baddbmm(self.l_bias, x, self.l_wout_t), dim=-1)  # (L, m, V)
        return None

    def _add(self, tokens: torch.Tensor, p_prev: torch.Tensor, l_prev: torch.Tensor | None) -> int:
        """Cache rows for new prefixes (last units ``tokens``, parents' states gathered); returns the first slot."""
        a = self.size
        logp = self._compute(tokens, p_prev, l_prev)
        self.size = a + tokens.shape[0]
        if self.terms is not None:
            self._fusion_terms(logp, a, self.size)
        return a

    def _fusion_terms(self, logp: torch.Tensor | None, a: int, b: int) -> None:
        """Fusion-term rows a..b: ``rho + sum_i weight_i log P_i`` on the labels, from the LMs' ``logp`` (L, m, V)."""
        terms = self.terms[a:b, 1:]  # labels only; column 0 (blank) stays 0
        if logp is None:
            terms.fill_(self.rho)
            return
        prod = logp[..., 1:] * self.l_weight  # (L, m, V - 1): weight_i log P_i, each rounded as weight * lp
        torch.add(prod[0], self.rho_t, out=terms)  # a Python scalar with out= costs a conversion per call
        for i in range(1, self.num_lms):
            terms += prod[i]

    def lookup(self, prefixes: Sequence[tuple[int, ...]]) -> list[int]:
        """Slot indices of ``prefixes``, computing the ones not cached yet first (one batched call)."""
        index = self.index
        new = [y for y in dict.fromkeys(prefixes) if y not in index]
        if new:
            try:
                parents = [index[y[:-1]] for y in new]
            except KeyError:
                bad = next(y for y in new if y[:-1] not in index)
                raise KeyError(f"prefix {bad} reached before its parent was cached (search bug)") from None
            if self.observer is not None:
                self.observer.scorers(len(new), gathered=len(new))
            par = long_tensor(parents)  # (m,) parent slots
            first = self._add(long_tensor([y[-1] for y in new]), self.p_state.index_select(0, par),
                              self.l_state.index_select(1, par) if self.num_lms else None)
            for s, y in enumerate(new, first):
                index[y] = s
        return [index[y] for y in prefixes]
