"""Builds the synthesized two-domain corpus: text splits first (the LMs need only those), then audio.

Layout under ``out``::

    lm_source_train.txt   source-domain training transcripts, one a line (= source_train.jsonl texts)
    lm_target_train.txt   target-domain text, target dev/test sentences excluded
    source_{train,dev,test}.jsonl, target_{dev,test}.jsonl   manifests (16 kHz WAV under audio/<split>/)
    speakers.jsonl        per utterance: split, index, engine, voice, its settings, SNR, augmentation (provenance)
    corpus.json           the build settings
    {source,target}_test_unseen.jsonl        with ``unseen_voices``: the test sentences spoken by a voice
                                             family that no training or dev utterance uses
    {source,target}_test_independent.jsonl   with ``independent_voices``: the same spoken by the reserved
                                             independent-evaluation voices (flite, Festival kal / slt)

``train_voices`` (families with weights, e.g. ``espeak=0.4,piper=0.6``) speak source_train and every dev
and in-domain test split; ``augment`` is the share of source_train utterances passed through the
augmentation chain (asr.data.augment). The default (espeak only, no augmentation, no extra test sets)
draws exactly what the first corpora drew.

A build that is interrupted resumes: WAV files are written atomically, and existing ones are kept.
"""

from __future__ import annotations

import json
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from accelsim.atomic import atomic_write_text
from asr.data.manifest import SAMPLE_RATE, Utterance, read_audio, write_manifest, write_wav
from asr.data.synth import Engines, MultiSynthConfig, SynthConfig, plan_utterance, render, synthesize, utterance_rng
from asr.data.text import clean_sentences, read_bible, read_fortunes, split_sentences
from asr.data.voices import LANGUAGES, VARIANTS, all_voices, check_families, family_voices, parse_families, verify_engine, verify_voices
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
    train_voices: str = "espeak"  # families speaking source_train, dev and in-domain test ("espeak=0.4,piper=0.6")
    unseen_voices: str = ""  # held-out family for *_test_unseen ("" = no such split)
    independent_voices: str = ""  # reserved voices for *_test_independent ("flite,festival:kal,festival:slt")
    augment: float = 0.0  # share of source_train utterances through the augmentation chain
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.renditions < 1:
            raise DataError(f"renditions must be >= 1, got {self.renditions}")
        if not 0 <= self.augment <= 1:
            raise DataError(f"augment must be in [0, 1], got {self.augment}")
        check_families(self.train_voices, self.unseen_voices, self.independent_voices)

    @property
    def legacy(self) -> bool:
        """True for the espeak-only corpus of the first sessions (drawn by asr.data.synth.synthesize)."""
        return self.train_voices == "espeak" and not (self.unseen_voices or self.independent_voices or self.augment)

    def split_voices(self) -> dict[str, str]:
        """The voice families of each audio split."""
        out = {s: self.train_voices for s in ("source_train", "source_dev", "source_test", "target_dev", "target_test")}
        for kind, fam in (("unseen", self.unseen_voices), ("independent", self.independent_voices)):
            if fam:
                out[f"source_test_{kind}"] = out[f"target_test_{kind}"] = fam
        return out


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
        **{f"{d}_test_{k}": (s if d == "source" else t)["test"] for k, fam in (("unseen", cfg.unseen_voices),
           ("independent", cfg.independent_voices)) if fam for d in ("source", "target")},
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


CHUNK = 32  # utterances rendered in order by one worker (one Piper session seed per chunk)


def _make_chunk(job: tuple) -> list[dict]:
    """Plan and render consecutive utterances of one split; files that exist are kept (and not rendered)."""
    paths, texts, synth, seed, split, indices, chunk = job
    plans = [plan_utterance(synth, utterance_rng(seed, split, k)) for k in indices]
    missing = [not Path(p).is_file() for p in paths]
    engines = Engines(int.from_bytes(utterance_rng(seed, f"{split}/chunk", chunk).bytes(8), "little"))
    recs = []
    for path, text, plan, k, todo in zip(paths, texts, plans, indices, missing):
        if any(missing):  # Piper's generator advances utterance by utterance: render the whole chunk
            wav = render(text, plan, engines)
            if todo:
                write_wav(Path(path), wav)
        if not todo or not any(missing):
            wav = read_audio(Path(path))
        recs.append({"split": split, "index": k, **plan.record(), "duration": len(wav) / SAMPLE_RATE})
    return recs


def _check_resumable(out: Path, cfg: CorpusConfig) -> None:
    """Refuse to resume into a folder whose audio was built with other settings.

    A build keeps existing WAV files by name; under other sizes, seed or voices a name can stand for another
    sentence or speaker, so the resumed corpus would pair audio with the wrong transcript. The one change
    allowed is the number of training sentences with one rendition each: training sentence k is the same
    sentence whatever their number, drawn from the same generator, so its file stays right (a corpus grows).
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
    for k, v in json.loads(json.dumps(asdict(CorpusConfig()))).items():  # keys added later: their defaults
        if k not in ("renditions",):
            old.setdefault(k, v)
    changed = sorted(k for k in new if k != "extra" and old.get(k) != new[k])
    if changed == ["source_train"] and new["renditions"] == 1:
        return  # one rendition: a smaller training set is a prefix of a larger one, file k speaks sentence k
    if changed:
        diff = ", ".join(f"{k}: {old.get(k)!r} -> {new[k]!r}" for k in changed)
        raise DataError(f"{out}: its audio was built with other settings ({diff}); build into a new folder "
                        f"or delete {out}/audio first")


def build_corpus(out: str | Path, cfg: CorpusConfig, jobs: int = 2, progress=None,
                 only_splits: tuple[str, ...] = ()) -> dict[str, int]:
    """Build (or resume) the corpus under ``out``; returns the utterance count of each split rendered.

    ``progress(split, done, total)`` is called as utterances finish. ``only_splits`` renders just those audio
    splits (all when empty): a split's files do not depend on the others, so a later full build completes it.
    """
    out = Path(out)
    _check_resumable(out, cfg)
    families = cfg.split_voices()
    unknown = sorted(set(only_splits) - set(families))
    if unknown:
        raise DataError(f"--splits: unknown split(s) {', '.join(unknown)}; this corpus has {', '.join(families)}")
    if only_splits:
        families = {k: v for k, v in families.items() if k in only_splits}
    out.mkdir(parents=True, exist_ok=True)
    espeak_voices = tuple(all_voices(cfg.languages, cfg.variants))
    used = {ev for spec in set(families.values()) for fam, _ in parse_families(spec, "voices") for ev in family_voices(fam)}
    if ("espeak", "*") in used:
        verify_voices(cfg.languages, cfg.variants)
    for engine, voice in sorted(used - {("espeak", "*")}):
        verify_engine(engine, voice)
    splits = build_text(out, cfg)
    atomic_write_text(out / "corpus.json", json.dumps(asdict(cfg), indent=2) + "\n")
    synth = SynthConfig(voices=espeak_voices, noise_prob=cfg.noise_prob)
    provenance = []
    counts = {}
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for split, texts in splits.items():
            if split not in families:
                continue
            copies = cfg.renditions if split == "source_train" else 1
            indexed = [(r * len(texts) + i, t) for r in range(copies) for i, t in enumerate(texts)]
            paths = [str(out / "audio" / split / f"{k:06d}.wav") for k, _ in indexed]
            utts = []
            if cfg.legacy:
                work = [(p, t, synth, cfg.seed, split, k) for p, (k, t) in zip(paths, indexed)]
                results = ([r] for r in pool.map(_make_one, work, chunksize=16))
            else:
                msynth = MultiSynthConfig(parse_families(families[split], f"{split} voices"), espeak_voices,
                                          noise_prob=cfg.noise_prob, augment_prob=cfg.augment if split == "source_train" else 0.0)
                work = [(paths[a : a + CHUNK], [t for _, t in indexed[a : a + CHUNK]], msynth, cfg.seed, split,
                         [k for k, _ in indexed[a : a + CHUNK]], a // CHUNK) for a in range(0, len(indexed), CHUNK)]
                results = pool.map(_make_chunk, work)
            done = 0
            for recs in results:
                for rec in recs:
                    path, text = paths[done], indexed[done][1]
                    provenance.append(rec)
                    utts.append(Utterance(Path(path), rec["duration"], text))
                    done += 1
                if progress:
                    progress(split, done, len(indexed))
            write_manifest(out / f"{split}.jsonl", utts)
            counts[split] = len(utts)
    if only_splits and (out / "speakers.jsonl").is_file():  # keep the provenance of the splits not rendered now
        kept = [r for r in map(json.loads, (out / "speakers.jsonl").read_text().splitlines()) if r["split"] not in families]
        provenance = kept + provenance
    atomic_write_text(out / "speakers.jsonl", "".join(json.dumps(r) + "\n" for r in provenance))
    return counts
