"""Word and character error rates (jiwer), as fractions (0.1 = 10 %)."""

from __future__ import annotations

import jiwer


def _check(refs: list[str], hyps: list[str]) -> None:
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    if not refs:
        raise ValueError("no utterances to score")


def wer(refs: list[str], hyps: list[str]) -> float:
    """Corpus word error rate: (substitutions + deletions + insertions) / reference words."""
    _check(refs, hyps)
    return float(jiwer.wer(list(refs), list(hyps)))


def cer(refs: list[str], hyps: list[str]) -> float:
    """Corpus character error rate (spaces count as characters)."""
    _check(refs, hyps)
    return float(jiwer.cer(list(refs), list(hyps)))
