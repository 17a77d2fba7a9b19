"""Reader of LibriSpeech-layout corpora: ``<root>/<speaker>/<chapter>/<speaker>-<chapter>.trans.txt`` lists
``<utterance-id> TRANSCRIPT`` lines, the audio is ``<utterance-id>.flac`` (or ``.wav``) beside it.

Lets a user with a real corpus train the same model: :func:`librispeech_utterances` turns the tree into
manifest entries (durations measured by decoding, transcripts normalized to the shared vocabulary).
"""

from __future__ import annotations

from pathlib import Path

from asr.data.manifest import SAMPLE_RATE, Utterance, read_audio
from asr.data.vocab import normalize_text
from asr.errors import DataError

AUDIO_SUFFIXES = (".flac", ".wav")


def librispeech_utterances(root: str | Path) -> list[Utterance]:
    """Every utterance under ``root`` in sorted order; a transcript line without audio is an error."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: LibriSpeech folder not found")
    trans_files = sorted(root.rglob("*.trans.txt"))
    if not trans_files:
        raise DataError(f"{root}: no *.trans.txt files; expected <speaker>/<chapter>/<speaker>-<chapter>.trans.txt")
    out = []
    for tf in trans_files:
        for lineno, line in enumerate(tf.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            utt_id, _, transcript = line.strip().partition(" ")
            text = normalize_text(transcript)
            if not text:
                raise DataError(f"{tf}:{lineno}: utterance {utt_id} has an empty transcript")
            audio = next((tf.parent / f"{utt_id}{s}" for s in AUDIO_SUFFIXES if (tf.parent / f"{utt_id}{s}").is_file()), None)
            if audio is None:
                raise DataError(f"{tf}:{lineno}: audio for {utt_id} not found (looked for {', '.join(AUDIO_SUFFIXES)})")
            out.append(Utterance(audio.resolve(), len(read_audio(audio)) / SAMPLE_RATE, text))
    return out
