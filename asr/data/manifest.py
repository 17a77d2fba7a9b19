"""JSONL manifests (one utterance a line: ``audio_filepath``, ``duration`` in seconds, ``text``) and audio I/O.

The NeMo convention. Relative ``audio_filepath`` values are resolved against the manifest's folder, so a
corpus folder can be moved as a whole. Audio is mono 16-bit PCM WAV at 16 kHz; other formats (FLAC of
LibriSpeech) are decoded through ``sox``.
"""

from __future__ import annotations

import json
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from accelsim.atomic import atomic_write, atomic_write_text
from asr.data.vocab import encode
from asr.errors import DataError

SAMPLE_RATE = 16000
REQUIRED_KEYS = ("audio_filepath", "duration", "text")


@dataclass(frozen=True)
class Utterance:
    """One manifest entry; ``audio`` is an absolute path."""

    audio: Path
    duration_s: float
    text: str


def read_manifest(path: str | Path, check_audio: bool = False, problems: list[str] | None = None) -> list[Utterance]:
    """Parse and validate a manifest; errors name the file, the line and the key.

    Texts must be non-empty and inside the vocabulary; with ``check_audio`` every audio file must exist.
    With a ``problems`` list, a bad line is skipped and its message appended instead of raised (a missing
    manifest file still raises).
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: manifest not found")
    out = []
    for lineno, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(_parse_line(p, lineno, line, check_audio))
        except DataError as exc:
            if problems is None:
                raise
            problems.append(str(exc))
    return out


def _parse_line(p: Path, lineno: int, line: str, check_audio: bool) -> Utterance:
    where = f"{p}:{lineno}"
    try:
        rec = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataError(f"{where}: not a JSON object ({exc.msg}); expected one JSON object per line") from None
    if not isinstance(rec, dict):
        raise DataError(f"{where}: expected a JSON object with keys {', '.join(REQUIRED_KEYS)}")
    missing = [k for k in REQUIRED_KEYS if k not in rec]
    if missing:
        raise DataError(f"{where}: missing key(s) {', '.join(missing)}; expected {', '.join(REQUIRED_KEYS)}")
    text, dur = rec["text"], rec["duration"]
    if not isinstance(text, str) or not text.strip():
        raise DataError(f"{where}: key 'text' is empty; every utterance needs a non-empty transcript")
    try:
        encode(text)
    except ValueError as exc:
        raise DataError(f"{where}: key 'text': {exc} (normalize with asr.data.vocab.normalize_text)") from None
    if not isinstance(dur, (int, float)) or not dur > 0:
        raise DataError(f"{where}: key 'duration' = {dur!r}: expected a positive number of seconds")
    audio = Path(rec["audio_filepath"])
    audio = audio if audio.is_absolute() else p.parent / audio
    if check_audio and not audio.is_file():
        raise DataError(f"{where}: audio file {audio} not found")
    return Utterance(audio, float(dur), text)


def write_manifest(path: str | Path, utterances: list[Utterance]) -> None:
    """Atomically write a manifest; audio paths under the manifest's folder are stored relative to it."""
    p = Path(path)
    lines = []
    for u in utterances:
        try:
            audio = str(u.audio.relative_to(p.parent))
        except ValueError:
            audio = str(u.audio)
        lines.append(json.dumps({"audio_filepath": audio, "duration": round(u.duration_s, 4), "text": u.text}))
    atomic_write_text(p, "\n".join(lines) + ("\n" if lines else ""))


def read_audio(path: str | Path) -> np.ndarray:
    """Mono float32 waveform in [-1, 1] at 16 kHz, shape (N,). WAV PCM16 natively, anything else via sox."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: audio file not found")
    if p.suffix.lower() == ".wav":
        try:
            with wave.open(str(p), "rb") as w:
                if w.getsampwidth() == 2 and w.getnchannels() == 1 and w.getframerate() == SAMPLE_RATE:
                    return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
        except (wave.Error, EOFError) as exc:
            raise DataError(f"{p}: unreadable WAV file ({exc}); expected 16-bit PCM") from None
    return _read_with_sox(p)


def _read_with_sox(p: Path) -> np.ndarray:
    cmd = ["sox", str(p), "-t", "raw", "-r", str(SAMPLE_RATE), "-e", "signed", "-b", "16", "-c", "1", "-"]
    try:
        raw = subprocess.run(cmd, capture_output=True, check=True).stdout
    except FileNotFoundError:
        raise DataError(f"{p}: decoding needs the program 'sox' (Debian package 'sox')") from None
    except subprocess.CalledProcessError as exc:
        raise DataError(f"{p}: sox cannot decode this audio file: {exc.stderr.decode(errors='replace').strip()}") from None
    return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0


def write_wav(path: str | Path, samples: np.ndarray) -> None:
    """Atomically write a mono 16 kHz 16-bit WAV of float samples (N,) in [-1, 1] (clipped)."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()

    def _write(tmp: Path) -> None:
        with wave.open(str(tmp), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(SAMPLE_RATE)
            w.writeframes(pcm)

    atomic_write(path, _write)
