"""Modified beam search (at most one label per frame; Kim et al. 2020 / k2 "modified_beam_search"), batched.

Frame-synchronous: at frame ``t`` every hypothesis is extended by a blank or by one label, and either way moves
to frame ``t + 1``; equal prefixes are recombined by log-add-exp and the ``beam`` best are kept. Cheaper and
more regular than ALSD (exactly T steps) at the price of capping the label rate at one per encoder frame.
"""

from __future__ import annotations

import torch

from asr.search.hyp import Hyp, expand_and_prune
from asr.search.scorer import Fusion
from asr.search.step import SearchConfig, StepScorer


def modified_beam_search(model, encp: torch.Tensor, cfg: SearchConfig, fusion: Fusion = Fusion(),
                         observer=None) -> list[Hyp]:
    """N-best list (best first) for one utterance; ``encp`` (T, J) = ``joiner.project_enc(enc)``.

    Per frame: one prediction-network call and one call per LM on the prefixes not cached yet, one joint call
    on the whole beam; ``observer`` receives every batched call.
    """
    scorer = StepScorer(model, encp, fusion, observer)
    beam = [Hyp((), 0.0, 0.0, 0)]
    with torch.no_grad():
        for t in range(encp.shape[0]):
            if observer is not None:
                observer.begin_step(t)
            am, fused = scorer.score(beam)  # (m, V) each
            new = expand_and_prune(beam, am, fused, cfg.beam, label_advances_frame=True)
            if observer is not None:
                observer.select(len(beam), k=min(am.numel(), 2 * cfg.beam), kept=len(new))
            beam = new
    return beam
