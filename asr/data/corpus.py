"""Builds the synthesized two-domain corpus: text splits first (the LMs need only those), then audio.

Layout under ``out``::

    lm_source_train.txt   source-domain training transcripts, one a line (= source_train.jsonl texts)
    lm_target_train.txt   target-domain text, target dev/test sentences excluded
    source_{train,dev,test}.jsonl, target_{dev,test}.jsonl   manifests (16 kHz WAV under audio/<split>/)
    speakers.jsonl        per utterance: split, index, voice, rate, pitch, SNR (provenance)
    corpus.json           the build settings

A build that is interrupted resumes: WAV files are written atomically, and existing ones are kept.
"""

from __future__ import annotations

import json
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from accelsim.atomic import atomic_write_text
from asr.data.manifest import SAMPLE_RATE, Utterance, read_audio, write_manifest, write_wav
from asr.data.synth import SynthConfig, synthesize, utterance_rng
from asr.data.text import clean_sentences, read_bible, read_fortunes, split_sentences
from asr.data.voices import LANGUAGES, VARIANTS, all_voices, verify_voices
from asr.errors import DataError


@dataclass(frozen=True)
class CorpusConfig:
    """Sizes (utterances) and ranges of a corpus build."""

    seed: int = 1234
    source_train: int = -1  # -1: every source sentence not in dev/test (dev/test stay the same)
    source_dev: int = 300
    source_test: int = 300
    target_dev: int = 300
    target_test: int = 300
    min_words: int = 3
    max_words: int = 14
    languages: tuple[str, ...] = LANGUAGES
    variants: tuple[str, ...] = VARIANTS
    noise_prob: float = 0.5
    renditions: int = 2  # speakers per source_train sentence (rendition r > 0 is a new draw, index r * N + i)
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.renditions < 1:
            raise DataError(f"renditions must be >= 1, got {self.renditions}")


def build_text(out: Path, cfg: CorpusConfig) -> dict[str, list[str]]:
    """Write the LM text files and return the transcripts of each audio split."""
    source = clean_sentences(read_fortunes(), cfg.min_words, cfg.max_words)
    target = clean_sentences(read_bible(), cfg.min_words, cfg.max_words)
    s = split_sentences(source, {"dev": cfg.source_dev, "test": cfg.source_test, "train": cfg.source_train}, cfg.seed)
    t = split_sentences(target, {"dev": cfg.target_dev, "test": cfg.target_test, "train": -1}, cfg.seed + 1)
    held_out = set(t["dev"]) | set(t["test"])
    lm_target = [x for x in target if x not in held_out]  # the book order, dev/test removed
    atomic_write_text(out / "lm_source_train.txt", "\n".join(s["train"]) + "\n")
    atomic_write_text(out / "lm_target_train.txt", "\n".join(lm_target) + "\n")
    return {
        "source_train": s["train"],
        "source_dev": s["dev"],
        "source_test": s["test"],
        "target_dev": t["dev"],
        "target_test": t["test"],
    }


def _make_one(job: tuple) -> dict:
    path, text, synth, seed, split, index = job
    path = Path(path)
    rng = utterance_rng(seed, split, index)
    wav, speaker, snr = synthesize(text, synth, rng)  # drawn even when the file exists, for the provenance
    if path.is_file():
        wav = read_audio(path)
    else:
        write_wav(path, wav)
    return {"split": split, "index": index, **asdict(speaker), "snr_db": snr, "duration": len(wav) / SAMPLE_RATE}


def _check_resumable(out: Path, cfg: CorpusConfig) -> None:
    """Refuse to resume into a folder whose audio was built with other settings.

    A build keeps existing WAV files by name; under other sizes, seed or voices a name can stand for another
    sentence or speaker, so the resumed corpus would pair audio with the wrong transcript.
    """
    previous = out / "corpus.json"
    if not previous.is_file() or not (out / "audio").is_dir():
        return
    try:
        old = json.loads(previous.read_text())
    except (OSError, json.JSONDecodeError):
        raise DataError(f"{previous}: unreadable; delete {out}/audio or build into a new folder") from None
    new = json.loads(json.dumps(asdict(cfg)))
    old.setdefault("renditions", 1)  # corpora from before renditions existed
    changed = sorted(k for k in new if k != "extra" and old.get(k) != new[k])
    if changed:
        diff = ", ".join(f"{k}: {old.get(k)!r} -> {new[k]!r}" for k in changed)
        raise DataError(f"{out}: its audio was built with other settings ({diff}); build into a new folder "
                        f"or delete {out}/audio first")


def build_corpus(out: str | Path, cfg: CorpusConfig, jobs: int = 2, progress=None) -> dict[str, int]:
    """Build (or resume) the corpus under ``out``; returns the utterance count of each split.

    ``progress(split, done, total)`` is called as utterances finish.
    """
    out = Path(out)
    _check_resumable(out, cfg)
    out.mkdir(parents=True, exist_ok=True)
    verify_voices(cfg.languages, cfg.variants)
    splits = build_text(out, cfg)
    atomic_write_text(out / "corpus.json", json.dumps(asdict(cfg), indent=2) + "\n")
    synth = SynthConfig(voices=tuple(all_voices(cfg.languages, cfg.variants)), noise_prob=cfg.noise_prob)
    provenance = []
    counts = {}
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for split, texts in splits.items():
            copies = cfg.renditions if split == "source_train" else 1
            indexed = [(r * len(texts) + i, t) for r in range(copies) for i, t in enumerate(texts)]
            work = [(str(out / "audio" / split / f"{k:06d}.wav"), t, synth, cfg.seed, split, k) for k, t in indexed]
            utts = []
            for done, (job, rec) in enumerate(zip(work, pool.map(_make_one, work, chunksize=16)), 1):
                provenance.append(rec)
                utts.append(Utterance(Path(job[0]), rec["duration"], job[1]))
                if progress:
                    progress(split, done, len(work))
            write_manifest(out / f"{split}.jsonl", utts)
            counts[split] = len(utts)
    atomic_write_text(out / "speakers.jsonl", "".join(json.dumps(r) + "\n" for r in provenance))
    return counts
