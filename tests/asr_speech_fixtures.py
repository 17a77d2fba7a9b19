"""Helpers for the speech tests (H2): a handful of espeak-ng utterances synthesized into a temporary folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from asr.data.manifest import SAMPLE_RATE, Utterance, write_manifest, write_wav
from asr.data.synth import SynthConfig, synthesize, utterance_rng

SENTENCES = ("the cat sat on the mat", "a big dog ran home", "good luck today", "hello world")


def make_corpus(root: Path, sentences=SENTENCES, voices=("en-us+m3",), noise_prob: float = 0.0, seed: int = 0) -> Path:
    """Synthesize ``sentences`` into ``root`` and write ``root/train.jsonl``; returns the manifest path."""
    cfg = SynthConfig(voices=tuple(voices), rate_wpm=(160, 160), pitch=(50, 50), noise_prob=noise_prob, pad_s=(0.0, 0.0))
    utts = []
    for i, text in enumerate(sentences):
        wav, _, _ = synthesize(text, cfg, utterance_rng(seed, "test", i))
        path = root / "audio" / f"{i:03d}.wav"
        write_wav(path, wav)
        utts.append(Utterance(path, len(wav) / SAMPLE_RATE, text))
    manifest = root / "train.jsonl"
    write_manifest(manifest, utts)
    return manifest


def sine(seconds: float, hz: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)
