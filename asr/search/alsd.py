"""Alignment-length synchronous decoding (Saon, Tuske, Audhkhasi, ICASSP 2020), batched over hypotheses.

Step ``i`` holds hypotheses whose alignment length (frames consumed + labels emitted) is ``i``; each reads the
encoder frame ``t = i - |y|``. One step extends every hypothesis by a blank (next frame) or a label (same
frame), recombines equal prefixes and keeps the ``beam`` best. A hypothesis whose blank consumes the last
frame is final; it keeps its place in that step's beam (so beam 1 is exactly greedy decoding) and is not
extended again. A hypothesis holding ``U_max = ceil(max_label_ratio * T)`` labels may only emit blanks, so
every hypothesis is final after at most ``T + U_max`` steps.
"""

from __future__ import annotations

import math

import torch

from asr.search.hyp import Hyp, expand_and_prune, merge_hyps
from asr.search.scorer import Fusion
from asr.search.step import SearchConfig, StepScorer


def alsd(model, encp: torch.Tensor, cfg: SearchConfig, fusion: Fusion = Fusion(), observer=None) -> list[Hyp]:
    """N-best list (best first) for one utterance; ``encp`` (T, J) = ``joiner.project_enc(enc)``.

    Per step: one prediction-network call and one call per LM on the prefixes not cached yet, one joint call
    on the whole beam. ``observer`` (e.g. :class:`asr.search.observer.CallLog`) receives every batched call.
    """
    num_frames = encp.shape[0]
    u_max = math.ceil(cfg.max_label_ratio * num_frames)
    scorer = StepScorer(model, encp, fusion, observer)
    beam = [Hyp((), 0.0, 0.0, 0)]
    final: list[Hyp] = []
    with torch.no_grad():
        for i in range(num_frames + u_max):
            beam = [h for h in beam if h.t < num_frames]
            if not beam:
                break
            if observer is not None:
                observer.begin_step(i)
            am, fused = scorer.score(beam)  # (m, V) each
            full = [r for r, h in enumerate(beam) if len(h.tokens) >= u_max]  # label budget spent
            if full:
                fused[full, 1:] = -math.inf
            kept = expand_and_prune(beam, am, fused, cfg.beam, label_advances_frame=False)
            if observer is not None:
                observer.select(len(beam), k=min(am.numel(), 2 * cfg.beam), kept=len(kept))
            final.extend(h for h in kept if h.t == num_frames)
            beam = kept
    return (merge_hyps(final) or merge_hyps(beam))[: cfg.beam]
