"""Unbatched references: greedy decoding, and ALSD / modified beam search one hypothesis at a time.

These run every network call with batch 1 (a dict of per-prefix states, no slot tensors, no batching), the
way a straightforward implementation would. They exist to check the batched searches (same hypotheses,
same scores within float tolerance) and to measure what batching buys (``benchmarks/decode_speed.py``).
"""

from __future__ import annotations

import math

import torch

from asr.search.hyp import Hyp, expand_and_prune, merge_hyps
from asr.search.scorer import Fusion, prediction_scorer
from asr.search.step import SearchConfig

SOS = 0


class _PerPrefix:
    """Per-prefix (output rows, state) of each scorer, computed with batch-1 calls."""

    def __init__(self, scorers) -> None:
        self.scorers = scorers
        self.memo: dict[tuple[int, ...], list] = {}
        tok = torch.tensor([SOS])
        self.memo[()] = [s.step(tok, s.initial_state(1)) for s in scorers]

    def get(self, y: tuple[int, ...]) -> list:
        if y not in self.memo:
            parent = self.get(y[:-1])
            tok = torch.tensor([y[-1]])
            self.memo[y] = [s.step(tok, st) for s, (_, st) in zip(self.scorers, parent)]
        return self.memo[y]


def _score_one(model, encp, fusion: Fusion, cache: _PerPrefix, h: Hyp) -> tuple[torch.Tensor, torch.Tensor]:
    outs = [o for o, _ in cache.get(h.tokens)]  # [(1, J), (1, V) per LM]
    am = torch.log_softmax(model.joiner.joint(encp[h.t : h.t + 1], outs[0]), dim=-1)  # (1, V)
    fused = am.clone()
    for (_, weight), lp in zip(fusion.terms, outs[1:]):
        fused[:, 1:] += weight * lp[:, 1:]
    fused[:, 1:] += fusion.rho
    return am, fused


def reference_search(model, encp: torch.Tensor, cfg: SearchConfig, fusion: Fusion = Fusion()) -> list[Hyp]:
    """Same result as :func:`asr.search.alsd` / :func:`asr.search.modified_beam_search` (by
    ``cfg.algorithm``), computed hypothesis by hypothesis with batch-1 calls."""
    num_frames = encp.shape[0]
    cache = _PerPrefix([prediction_scorer(model), *(s for s, _ in fusion.terms)])
    mbs = cfg.algorithm == "mbs"
    u_max = math.ceil(cfg.max_label_ratio * num_frames)
    beam, final = [Hyp((), 0.0, 0.0, 0)], []
    with torch.no_grad():
        for _ in range(num_frames if mbs else num_frames + u_max):
            if not mbs:
                beam = [h for h in beam if h.t < num_frames]
                if not beam:
                    break
            rows = [_score_one(model, encp, fusion, cache, h) for h in beam]
            am = torch.cat([a for a, _ in rows])  # (m, V)
            fused = torch.cat([f for _, f in rows])  # (m, V)
            if not mbs:
                for r, h in enumerate(beam):
                    if len(h.tokens) >= u_max:
                        fused[r, 1:] = -math.inf
            beam = expand_and_prune(beam, am, fused, cfg.beam, label_advances_frame=mbs)
            if not mbs:
                final.extend(h for h in beam if h.t == num_frames)
    if mbs:
        return beam
    return (merge_hyps(final) or merge_hyps(beam))[: cfg.beam]


def greedy(model, encp: torch.Tensor, one_label_per_frame: bool = False, max_label_ratio: float = 1.0) -> Hyp:
    """Best-path decoding: at each frame emit the argmax unit; a blank moves to the next frame, a label stays
    on it (ALSD's rule) or also moves on when ``one_label_per_frame`` (modified beam search's rule). At most
    ``ceil(max_label_ratio * T)`` labels, as in ALSD: past that the blank is forced."""
    scorer = prediction_scorer(model)
    num_frames = encp.shape[0]
    u_max = math.ceil(max_label_ratio * num_frames)
    with torch.no_grad():
        out, state = scorer.step(torch.tensor([SOS]), scorer.initial_state(1))
        tokens: list[int] = []
        score, t = 0.0, 0
        while t < num_frames:
            lp = torch.log_softmax(model.joiner.joint(encp[t : t + 1], out), dim=-1)[0]  # (V,)
            if len(tokens) >= u_max:
                lp[1:] = -math.inf
            k = int(lp.argmax())
            score += float(lp[k])
            if k == 0:
                t += 1
                continue
            tokens.append(k)
            t += int(one_label_per_frame)
            out, state = scorer.step(torch.tensor([k]), state)
    return Hyp(tuple(tokens), score, score, t)
