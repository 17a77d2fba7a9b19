"""The batched scoring of one search step, shared by ALSD and modified beam search.

For the beam's hypotheses: make sure every prefix is cached (one prediction-network call and one call per LM
on the new prefixes only), then one joint call on all hypotheses (each at its own frame), then the fused
extension scores. Returns log P_rnnt (num_hyps, vocab) and the fused score of every extension.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from asr.search.cache import PrefixCache
from asr.search.hyp import Hyp
from asr.search.scorer import Fusion, prediction_scorer

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


class StepScorer:
    """Holds the per-utterance prefix cache and the projected encoder frames; scores one step at a time.

    The fusion term of a label extension (``rho + sum_i weight_i log P_i(k | y)``) depends on the prefix only,
    so it is computed once per prefix when the prefix enters the cache (same float operations, same order,
    as applying it per step) and a step adds one gathered row to the joint's log-probs.
    """

    def __init__(self, model, encp: torch.Tensor, fusion: Fusion, observer=None) -> None:
        self.model = model
        self.encp = encp  # (T, J) encoder frames already projected by joiner.project_enc
        self.fusion = fusion
        self.observer = observer
        self.fused_terms = bool(fusion.terms or fusion.rho)
        self.cache = PrefixCache([prediction_scorer(model), *(s for s, _ in fusion.terms)], observer,
                                 derive=self._label_terms if self.fused_terms else None)

    def _label_terms(self, outs: list[torch.Tensor]) -> torch.Tensor:
        """(m, V) fusion term of each unit for new prefixes (0 for blank); ``outs`` = [prediction rows, LM rows...]."""
        vocab = outs[1].shape[1] if len(outs) > 1 else self.model.cfg.vocab_size
        row = torch.zeros(outs[0].shape[0], vocab)  # (m, V)
        lm = row[:, 1:]  # labels only
        lm.fill_(self.fusion.rho)
        for (_, weight), lp in zip(self.fusion.terms, outs[1:]):
            lm += weight * lp[:, 1:]
        return row

    def score(self, hyps: list[Hyp]) -> tuple[torch.Tensor, torch.Tensor]:
        """(am_logp, fused), each (num_hyps, vocab), for extending every hypothesis of ``hyps`` by one unit."""
        slots = self.cache.lookup([h.tokens for h in hyps])  # (m,)
        frames = torch.tensor([h.t for h in hyps])  # (m,)
        if self.observer is not None:
            self.observer.joint(len(hyps))
        predp = self.cache.slots[0].tensors[0].index_select(0, slots)  # (m, J)
        logits = self.model.joiner.joint(self.encp.index_select(0, frames), predp)  # (m, V)
        am = torch.log_softmax(logits, dim=-1)  # (m, V)
        if self.fused_terms:  # blank + 0 is exact, so this equals adding the term to the label columns only
            return am, am + self.cache.derived.tensors[0].index_select(0, slots)
        return am, am.clone()
