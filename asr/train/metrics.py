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


def errors_by_vocabulary(refs: list[str], hyps: list[str], vocabulary: set[str]) -> dict:
    """Split the word errors between reference words inside and outside ``vocabulary`` (e.g. the training text's).

    A reference word is an error when the alignment substitutes or deletes it; insertions belong to neither
    class. Returns word and error counts and rates (fractions); ``iv_errors + oov_errors + insertions`` equals
    the numerator of :func:`wer`.
    """
    _check(refs, hyps)
    out = jiwer.process_words(list(refs), list(hyps))
    counts = {"iv_words": 0, "iv_errors": 0, "oov_words": 0, "oov_errors": 0, "insertions": out.insertions}
    for ref_words, chunks in zip(out.references, out.alignments):
        for chunk in chunks:
            for word in ref_words[chunk.ref_start_idx : chunk.ref_end_idx]:
                kind = "iv" if word in vocabulary else "oov"
                counts[f"{kind}_words"] += 1
                counts[f"{kind}_errors"] += chunk.type in ("substitute", "delete")
    words = counts["iv_words"] + counts["oov_words"]
    counts["oov_rate"] = counts["oov_words"] / words
    counts["iv_error_rate"] = counts["iv_errors"] / max(1, counts["iv_words"])
    counts["oov_error_rate"] = counts["oov_errors"] / max(1, counts["oov_words"])
    return counts
