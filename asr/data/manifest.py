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
#: Longest utterance a manifest may declare, s (a day: anything longer is a corrupt entry).
MAX_DURATION_S = 86400.0
#: How far a manifest's ``duration`` may be from the audio's real length: max(absolute, relative * length).
DURATION_TOLERANCE_S = 0.1
DURATION_TOLERANCE_REL = 0.02


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
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{p}: not a UTF-8 text file ({exc.reason} at byte {exc.start}); a manifest is UTF-8 JSONL") \
            from None
    out = []
    for lineno, line in enumerate(text.splitlines(), 1):
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
    if isinstance(dur, bool) or not isinstance(dur, (int, float)) or not (0 < dur <= MAX_DURATION_S):
        raise DataError(f"{where}: key 'duration' = {str(dur)[:40]}: expected a positive, finite number of seconds "
                        f"(at most {MAX_DURATION_S:.0f})")
    if not isinstance(rec["audio_filepath"], str) or not rec["audio_filepath"]:
        raise DataError(f"{where}: key 'audio_filepath' = {str(rec['audio_filepath'])[:40]}: expected a file path")
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
                    frames = w.getnframes()
                    data = w.readframes(frames)
                    if len(data) != 2 * frames:
                        raise DataError(f"{p}: truncated WAV file: its header declares {frames} samples "
                                        f"({frames / SAMPLE_RATE:.3f} s) but it holds {len(data) // 2}")
                    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
        except (wave.Error, EOFError) as exc:
            raise DataError(f"{p}: unreadable WAV file ({exc}); expected 16-bit PCM") from None
    return _read_with_sox(p)


def read_utterance_audio(u: Utterance) -> np.ndarray:
    """The utterance's waveform (as :func:`read_audio`), refused when the manifest's ``duration`` disagrees with
    the audio's real length by more than max(DURATION_TOLERANCE_S, DURATION_TOLERANCE_REL x length)."""
    samples = read_audio(u.audio)
    check_duration(u, len(samples) / SAMPLE_RATE)
    return samples


def check_duration(u: Utterance, real_s: float) -> None:
    """Raise DataError unless ``u.duration_s`` matches the audio's real length ``real_s`` within the tolerance."""
    if real_s <= 0:
        raise DataError(f"{u.audio}: holds no samples; every utterance needs audio")
    tolerance = max(DURATION_TOLERANCE_S, DURATION_TOLERANCE_REL * real_s)
    if abs(u.duration_s - real_s) > tolerance:
        raise DataError(
            f"{u.audio}: the manifest says duration {u.duration_s:.6g} s but the audio lasts {real_s:.3f} s "
            f"(tolerance {tolerance:.3f} s); fix the manifest's duration (RTF and rates are computed from it)"
        )


def _read_with_sox(p: Path) -> np.ndarray:
    cmd = ["sox", str(p), "-t", "raw", "-r", str(SAMPLE_RATE), "-e", "signed", "-b", "16", "-c", "1", "-"]
    try:
        raw = subprocess.run(cmd, capture_output=True, check=True).stdout
    except FileNotFoundError:
        raise DataError(f"{p}: decoding needs the program 'sox' (Debian package 'sox')") from None
    except subprocess.CalledProcessError as exc:
        raise DataError(f"{p}: sox cannot decode this audio file: {exc.stderr.decode(errors='replace').strip()}") from None
    if len(raw) % 2:
        raise DataError(f"{p}: sox returned a truncated stream ({len(raw)} bytes, not whole 16-bit samples)")
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
