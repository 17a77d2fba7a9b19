"""The batched scoring of one search step, shared by ALSD and modified beam search.

For the beam's hypotheses: make sure every prefix is cached (one prediction-network call and one call per LM
on the new prefixes only), then one joint call on all hypotheses (each at its own frame), then the fused
extension scores. Returns log P_rnnt (num_hyps, vocab) and the fused score of every extension.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from torch import nn

from asr.search.cache import LSTMCellCache, PrefixCache, long_tensor
from asr.search.hyp import Hyp
from asr.search.scorer import Fusion, LSTMCellScorer, _plain, prediction_scorer

MAX_BEAM = 64
ALGORITHMS = ("alsd", "mbs")


@dataclass(frozen=True)
class SearchConfig:
    """Beam width (1..64), the algorithm, and ALSD's label budget ``max_label_ratio`` (labels per frame)."""

    beam: int = 8
    algorithm: str = "alsd"
    max_label_ratio: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.beam, int) or not 1 <= self.beam <= MAX_BEAM:
            raise ValueError(f"beam = {self.beam!r}: must be an integer in 1..{MAX_BEAM}")
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"search algorithm {self.algorithm!r}: expected one of {', '.join(ALGORITHMS)}")
        if self.max_label_ratio <= 0:
            raise ValueError(f"max_label_ratio = {self.max_label_ratio}: must be > 0")


def cell_cache(pred, fusion: Fusion, with_terms: bool, observer=None, capacity: int = 1024) -> LSTMCellCache | None:
    """The stacked :class:`LSTMCellCache` when ``pred`` and every LM of ``fusion`` are single-layer float32
    :class:`LSTMCellScorer` s with linear heads (and the LMs share their sizes); None otherwise."""
    lms = [s for s, _ in fusion.terms]
    cells = [pred, *lms]
    if not all(isinstance(c, LSTMCellScorer) and c.layers == 1 and type(c.head) is nn.Linear
               and c.head.bias is not None and c.table.dtype == c.head.weight.dtype == torch.float32 for c in cells):
        return None
    if pred.log_softmax or not all(c.log_softmax for c in lms):
        return None
    if any(c.table.shape != lms[0].table.shape or c.head.weight.shape != lms[0].head.weight.shape for c in lms):
        return None
    return LSTMCellCache(pred, fusion.terms, fusion.rho, with_terms, observer, capacity)


class StepScorer:
    """Holds the per-utterance prefix cache and the projected encoder frames; scores one step at a time.

    The fusion term of a label extension (``rho + sum_i weight_i log P_i(k | y)``) depends on the prefix only,
    so it is computed once per prefix when the prefix enters the cache (same float operations, same order,
    as applying it per step) and a step adds one gathered row to the joint's log-probs. Float LSTM scorers
    run in the stacked :class:`LSTMCellCache` and a plain float joint as three kernels; anything else (a
    quantized or integer model, an observed module) through :class:`PrefixCache` and the modules' own calls.
    """

    def __init__(self, model, encp: torch.Tensor, fusion: Fusion, observer=None) -> None:
        self.model = model
        self.encp = encp  # (T, J) encoder frames already projected by joiner.project_enc
        self.fusion = fusion
        self.observer = observer
        self.fused_terms = bool(fusion.terms or fusion.rho)
        pred = prediction_scorer(model)
        self.cache = cell_cache(pred, fusion, self.fused_terms, observer) or PrefixCache(
            [pred, *(s for s, _ in fusion.terms)], observer, derive=self._label_terms if self.fused_terms else None)
        joiner = model.joiner
        self.plain_joint = (isinstance(self.cache, LSTMCellCache) and _plain(joiner.out)
                            and joiner.out.weight.dtype == encp.dtype == torch.float32)
        if self.plain_joint:
            self.additive = joiner.combine == "additive"
            self.out_bias, self.out_w_t = joiner.out.bias, joiner.out.weight.t()  # as nn.Linear runs it

    def _label_terms(self, outs: list[torch.Tensor]) -> torch.Tensor:
        """(m, V) fusion term of each unit for new prefixes (0 for blank); ``outs`` = [prediction rows, LM rows...]."""
        vocab = outs[1].shape[1] if len(outs) > 1 else self.model.cfg.vocab_size
        row = torch.zeros(outs[0].shape[0], vocab)  # (m, V)
        lm = row[:, 1:]  # labels only
        lm.fill_(self.fusion.rho)
        for (_, weight), lp in zip(self.fusion.terms, outs[1:]):
            lm += weight * lp[:, 1:]
        return row

    def joint(self, frames: torch.Tensor, slots: torch.Tensor) -> torch.Tensor:
        """log P_rnnt (m, V) of hypotheses at encoder ``frames`` (m,) on the prefixes in cache ``slots`` (m,)."""
        enc = self.encp.index_select(0, frames)  # (m, J)
        predp = self.cache.pred_rows.index_select(0, slots)  # (m, J)
        if self.plain_joint:  # Joiner.joint's kernels, in place on the gathered rows
            h = enc.add_(predp) if self.additive else enc.mul_(predp)
            logits = torch.addmm(self.out_bias, h.tanh_(), self.out_w_t)  # (m, V)
        else:
            logits = self.model.joiner.joint(enc, predp)  # (m, V)
        return torch.log_softmax(logits, dim=-1)

    def score(self, hyps: list[Hyp]) -> tuple[torch.Tensor, torch.Tensor]:
        """(am_logp, fused), each (num_hyps, vocab), for extending every hypothesis of ``hyps`` by one unit."""
        slots = long_tensor(self.cache.lookup([h.tokens for h in hyps]))  # (m,)
        if self.observer is not None:
            self.observer.joint(len(hyps))
        am = self.joint(long_tensor([h.t for h in hyps]), slots)  # (m, V)
        if self.fused_terms:  # blank + 0 is exact, so this equals adding the term to the label columns only
            return am, am + self.cache.term_rows.index_select(0, slots)
        return am, am.clone()
