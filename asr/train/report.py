"""The WER table of docs/asr.md that compares the models on the same test sets, from `asr eval --out` files.

``python3 -m asr.train.report`` prints it; tests/test_asr_train_report.py fails when the table between the
markers in docs/asr.md no longer matches the shipped eval files.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from asr.errors import DataError

if TYPE_CHECKING:
    import numpy as np

# (manifest as passed to asr eval, speech it holds)
TEST_SETS: tuple[tuple[str, str], ...] = (
    ("data/corpus/source_test.jsonl", "espeak-ng only (fortunes)"),
    ("data/corpus/target_test.jsonl", "espeak-ng only (KJV)"),
    ("data/multi/source_test.jsonl", "espeak-ng 40 % + Piper joe 60 %, trained-on families (fortunes)"),
    ("data/multi/target_test.jsonl", "espeak-ng 40 % + Piper joe 60 %, trained-on families (KJV)"),
    ("data/multi/source_test_unseen.jsonl", "**unseen**: Festival ked diphone, held out (fortunes)"),
    ("data/multi/target_test_unseen.jsonl", "**unseen**: Festival ked diphone, held out (KJV)"),
    ("data/multi/source_test_independent.jsonl", "**independent**: flite 5 voices + Festival kal / slt (fortunes)"),
    ("data/multi/target_test_independent.jsonl", "**independent**: flite 5 voices + Festival kal / slt (KJV)"),
)
UNKNOWN_SPEECH = "speech of unknown source"


def speech_of(manifest: str | Path, default: str = UNKNOWN_SPEECH, root: Path | None = None) -> str:
    """The speech a test manifest holds, as :data:`TEST_SETS` names it (``default`` for any other manifest).

    ``manifest`` may be absolute: it is taken relative to ``root`` (the project) when it lies inside it.
    """
    path = Path(manifest)
    if root is not None and path.is_absolute():
        path = Path(os.path.abspath(path))  # not resolve(): data/corpus may be a link out of the project
        if path.is_relative_to(root):
            path = path.relative_to(root)
    return dict(TEST_SETS).get(path.as_posix(), default)


MODELS: tuple[tuple[str, tuple[str, ...]], ...] = (  # column head, eval files holding its results
    ("`models/small`", ("models/small/eval.json", "models/multi/eval_models_small.json")),
    ("`models/multi` stage 2 (espeak-ng + Piper)", ("models/multi/eval_stage2.json",)),
    ("`models/multi` (+ Kokoro)", ("models/multi/eval.json",)),
    ("`models/multi_int8` (packed, integer path)", ("models/multi_int8/eval.json",)),
    ("`models/multi_int4` (packed, integer path)", ("models/multi_int4/eval.json",)),
)
BEGIN, END = "<!-- multi-wer-table:begin -->", "<!-- multi-wer-table:end -->"


def load_results(paths: tuple[str, ...], root: Path) -> dict[str, dict]:
    """Manifest -> {wer, cer, utts} merged over ``asr eval --out`` files."""
    out: dict[str, dict] = {}
    for p in paths:
        f = root / p
        try:
            out.update(json.loads(f.read_text())["results"])
        except (OSError, json.JSONDecodeError, KeyError) as exc:
            raise DataError(f"{f}: not an `asr eval --out` file ({exc})") from None
    return out


def wer_table(root: Path = Path(".")) -> str:
    """Markdown table: one row per test set, WER % (CER %) of each model, greedy decoding."""
    results = {m: load_results(files, root) for m, files in MODELS}
    head = "| test set | speech | utts | " + " | ".join(f"{m} WER % (CER %)" for m, _ in MODELS) + " |"
    lines = [head, "|---|---|---|" + "---|" * len(MODELS)]
    for manifest, speech in TEST_SETS:
        cells, utts = [], None
        for m, _ in MODELS:
            r = results[m].get(manifest)
            cells.append("-" if r is None else f"{100 * r['wer']:.1f} ({100 * r['cer']:.1f})")
            utts = utts or (r and r["utts"])
        lines.append(f"| `{manifest}` | {speech} | {utts or '-'} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


FP32_VS_INT4 = ("`models/multi` (+ Kokoro)", "`models/multi_int4` (packed, integer path)")
GOAL_POINTS = 0.5  # issue 15: INT4 within 0.5 WER points of FP32 on every test set


BOOTSTRAP_RESAMPLES = 2000  # [assumption] enough for stable 2.5 / 97.5 percentiles
BOOTSTRAP_SEED = 0


def utterance_word_errors(hyps: list[dict]) -> tuple[list[str], "np.ndarray", "np.ndarray"]:
    """(references, word errors, reference words) per utterance of an eval file's ``hyps`` list."""
    import jiwer
    import numpy as np

    refs = [h["ref"] for h in hyps]
    errors, words = np.zeros(len(hyps)), np.zeros(len(hyps))
    for i, h in enumerate(hyps):
        out = jiwer.process_words(h["ref"], h["hyp"])
        errors[i] = out.substitutions + out.deletions + out.insertions
        words[i] = out.substitutions + out.deletions + out.hits
    return refs, errors, words


def paired_gap_interval(base: list[dict], other: list[dict]) -> tuple[float, float]:
    """95 % paired-bootstrap interval of WER(other) - WER(base) in points, resampling utterances."""
    import numpy as np

    ref_a, err_a, words = utterance_word_errors(base)
    ref_b, err_b, _ = utterance_word_errors(other)
    if ref_a != ref_b:
        raise DataError("paired comparison of two eval results whose utterances differ")
    idx = np.random.default_rng(BOOTSTRAP_SEED).integers(0, len(words), (BOOTSTRAP_RESAMPLES, len(words)))
    gap = 100 * (err_b[idx].sum(axis=1) - err_a[idx].sum(axis=1)) / np.maximum(words[idx].sum(axis=1), 1)
    lo, hi = np.percentile(gap, [2.5, 97.5])
    return float(lo), float(hi)


def int4_verdict(root: Path = Path(".")) -> str:
    """Sentences computed from the eval files: on how many test sets INT4 is within GOAL_POINTS of FP32, and
    each gap's 95 % paired-bootstrap interval (how much of it the 300 utterances can tell from noise)."""
    files = dict(MODELS)
    fp32, int4 = (load_results(files[m], root) for m in FP32_VS_INT4)
    gaps = {m: 100 * (int4[m]["wer"] - fp32[m]["wer"]) for m, _ in TEST_SETS if m in fp32 and m in int4}
    if not gaps:
        return "No test set holds both an FP32 and an INT4 result.\n"
    within = [m for m, g in gaps.items() if g <= GOAL_POINTS]
    worst = max(gaps, key=gaps.get)
    met = "met" if len(within) == len(gaps) else "not met"
    out = (f"INT4 vs FP32 (`models/multi_int4` - `models/multi`, WER points): within {GOAL_POINTS} on {len(within)} "
           f"of {len(gaps)} test sets (goal {met}); largest gap {gaps[worst]:+.2f} on `{worst}`, "
           f"mean {sum(gaps.values()) / len(gaps):+.2f}.\n")
    paired = {m: paired_gap_interval(fp32[m]["hyps"], int4[m]["hyps"]) for m in gaps
              if fp32[m].get("hyps") and int4[m].get("hyps")}
    if not paired:
        return out
    above = [m for m, (lo, _) in paired.items() if lo > GOAL_POINTS]
    below = [m for m, (_, hi) in paired.items() if hi <= GOAL_POINTS]
    cells = "; ".join(f"`{m}` {gaps[m]:+.2f} [{lo:+.2f}, {hi:+.2f}]" for m, (lo, hi) in paired.items())
    return out + (f"95 % paired-bootstrap intervals of the gap ({BOOTSTRAP_RESAMPLES} resamples of the utterances, "
                  f"seed {BOOTSTRAP_SEED}): {cells}. Gap measurably above {GOAL_POINTS} (interval above it) on "
                  f"{len(above)} of {len(paired)} sets, measurably within it (interval at or below it) on "
                  f"{len(below)}; on the other {len(paired) - len(above) - len(below)} these utterances cannot "
                  f"tell.\n")


def doc_block(root: Path = Path(".")) -> str:
    """What docs/asr.md holds between the markers: the table, then the INT4 verdict."""
    return wer_table(root) + "\n" + int4_verdict(root)


def write_doc(doc: Path = Path("docs/asr.md"), root: Path = Path(".")) -> None:
    """Replace what ``doc`` holds between the markers with :func:`doc_block` (atomic write)."""
    from accelsim.atomic import atomic_write_text

    text = doc.read_text(encoding="utf-8")
    head, sep, rest = text.partition(BEGIN)
    _, sep2, tail = rest.partition(END)
    if not sep or not sep2:
        raise DataError(f"{doc}: no {BEGIN} ... {END} markers to write the table between")
    atomic_write_text(doc, head + BEGIN + "\n" + doc_block(root) + END + tail)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--write"]:
        write_doc()
        return 0
    if args:
        sys.stderr.write("usage: python3 -m asr.train.report [--write]   (print the table, or write it into docs/asr.md)\n")
        return 2
    sys.stdout.write(doc_block())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
