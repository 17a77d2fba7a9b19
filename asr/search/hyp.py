"""Hypotheses of the transducer beam searches, their recombination and the shared candidate selection.

Every search in this package returns ``list[Hyp]`` (best first). Two hypotheses with the same label sequence
(and, inside one search step, the same frame) are the same prefix reached by different alignments: they are
merged by log-add-exp of their scores, so the merged score is the log of the summed probability mass.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Hyp:
    """One hypothesis: labels emitted so far, fused log score, transducer-only log score, frame reached.

    ``score`` = log P_rnnt + fusion terms (nats); ``am_score`` = log P_rnnt alone; ``t`` = frames consumed
    (the number of blanks emitted), so the hypothesis next reads encoder frame ``t``.
    """

    tokens: tuple[int, ...]
    score: float
    am_score: float
    t: int


def _logaddexp(a: float, b: float) -> float:
    if a < b:
        a, b = b, a
    if b == -math.inf:
        return a
    return a + math.log1p(math.exp(b - a))


def _merge_scores(group: list[tuple[float, float]]) -> tuple[float, float]:
    """(score, am_score) of hypotheses merged by log-add-exp, summed in descending order (as merge_hyps)."""
    if len(group) == 1:
        return group[0]
    scores = sorted((s for s, _ in group), reverse=True)
    ams = sorted((a for _, a in group), reverse=True)
    score, am = scores[0], ams[0]
    for s in scores[1:]:
        score = _logaddexp(score, s)
    for s in ams[1:]:
        am = _logaddexp(am, s)
    return score, am


def merge_hyps(hyps: Iterable[Hyp]) -> list[Hyp]:
    """Recombine hypotheses with equal (tokens, t) by log-add-exp; result sorted best first.

    Order-independent: the merged scores are summed in a canonical order (descending), and ties in the
    output order are broken by the token sequence.
    """
    groups: dict[tuple[tuple[int, ...], int], list[Hyp]] = {}
    for h in hyps:
        groups.setdefault((h.tokens, h.t), []).append(h)
    out = []
    for (tokens, t), group in groups.items():
        if len(group) == 1:
            out.append(group[0])
            continue
        scores = sorted((h.score for h in group), reverse=True)
        ams = sorted((h.am_score for h in group), reverse=True)
        score, am = scores[0], ams[0]
        for s in scores[1:]:
            score = _logaddexp(score, s)
        for s in ams[1:]:
            am = _logaddexp(am, s)
        out.append(Hyp(tokens, score, am, t))
    out.sort(key=lambda h: (-h.score, h.tokens, h.t))
    return out


def expand_and_prune(
    hyps: list[Hyp],
    am_logp: torch.Tensor,
    fused: torch.Tensor,
    beam: int,
    label_advances_frame: bool,
    blank: int = 0,
) -> list[Hyp]:
    """One search step's selection, shared by every batched and reference search.

    ``am_logp`` (num_hyps, vocab): log P_rnnt of each next unit; ``fused`` (num_hyps, vocab): the score added
    for each extension (equal to ``am_logp`` on blank, with LM terms and length reward on labels). The
    ``2 * beam`` best extensions are taken, recombined (:func:`merge_hyps`) and cut to ``beam``.
    A blank moves a hypothesis one frame on; a label does too when ``label_advances_frame`` (one label per
    frame: modified beam search) and keeps it on its frame otherwise (ALSD).
    """
    base = _scores_tensor([h.score for h in hyps], fused.dtype)  # (num_hyps,)
    total = (base[:, None] + fused).flatten()  # (num_hyps * vocab,)
    k = min(total.numel(), 2 * beam)
    best = torch.topk(total, k)  # sorted, best first
    vocab = fused.shape[1]
    flat = best.indices.tolist()
    scores = best.values.tolist()
    am_gain = am_logp.flatten().index_select(0, best.indices).tolist()
    step = int(label_advances_frame)
    # candidates grouped by (tokens, t); Hyp objects are made only for the survivors
    groups: dict[tuple[tuple[int, ...], int], list[tuple[float, float]]] = {}
    for i, s, a in zip(flat, scores, am_gain):
        if s == -math.inf:  # sorted: every later candidate is -inf too
            break
        r, c = divmod(i, vocab)
        h = hyps[r]
        key = (h.tokens, h.t + 1) if c == blank else (h.tokens + (c,), h.t + step)
        group = groups.get(key)
        if group is None:
            groups[key] = [(s, h.am_score + a)]
        else:
            group.append((s, h.am_score + a))
    merged = []
    for (tokens, t), group in groups.items():
        score, am = group[0] if len(group) == 1 else _merge_scores(group)
        merged.append((-score, tokens, t, am))
    merged.sort()  # by (-score, tokens, t): (tokens, t) are distinct, so the 4th field never decides
    return [Hyp(tokens, -neg, am, t) for neg, tokens, t, am in merged[:beam]]


def _scores_tensor(scores: list[float], dtype: torch.dtype) -> torch.Tensor:
    """``torch.tensor(scores, dtype=dtype)``; float32 through an ``array`` buffer (same rounding, less overhead)."""
    if dtype == torch.float32 and scores:
        return torch.frombuffer(array("f", scores), dtype=torch.float32)
    return torch.tensor(scores, dtype=dtype)
