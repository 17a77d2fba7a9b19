"""Speech synthesis of one utterance: espeak-ng -> sox (resample 22.05 -> 16 kHz) -> optional noise.

Every random choice of an utterance (voice, rate, pitch, noise, padding) comes from its own generator
seeded by (corpus seed, split name, index), so an utterance is the same whatever the process or the order
in which a parallel build reaches it.
"""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass

import numpy as np

from asr.data.manifest import SAMPLE_RATE
from asr.data.voices import Speaker
from asr.errors import DataError


@dataclass(frozen=True)
class SynthConfig:
    """Ranges the per-utterance speaker and channel are drawn from."""

    voices: tuple[str, ...]
    rate_wpm: tuple[int, int] = (130, 200)  # espeak-ng default 175
    pitch: tuple[int, int] = (25, 75)  # espeak-ng default 50
    noise_prob: float = 0.5  # share of utterances with added noise
    snr_db: tuple[float, float] = (10.0, 35.0)
    pad_s: tuple[float, float] = (0.0, 0.25)  # extra leading silence (seconds)


def utterance_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """Generator private to one utterance, independent of the build order."""
    digest = hashlib.sha256(f"{seed}/{split}/{index}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def draw_speaker(cfg: SynthConfig, rng: np.random.Generator) -> Speaker:
    """A random speaker inside the configured ranges."""
    voice = cfg.voices[int(rng.integers(len(cfg.voices)))]
    rate = int(rng.integers(cfg.rate_wpm[0], cfg.rate_wpm[1] + 1))
    pitch = int(rng.integers(cfg.pitch[0], cfg.pitch[1] + 1))
    return Speaker(voice, rate, pitch)


def speak(text: str, speaker: Speaker) -> np.ndarray:
    """Clean synthesized speech of ``text``, float32 (N,) at 16 kHz."""
    try:
        tts = subprocess.run(["espeak-ng", *speaker.espeak_args(), "--stdout", text], capture_output=True, check=True)
        raw = subprocess.run(
            ["sox", "-t", "wav", "-", "-t", "raw", "-r", str(SAMPLE_RATE), "-e", "signed", "-b", "16", "-c", "1", "-"],
            input=tts.stdout,
            capture_output=True,
            check=True,
        ).stdout
    except FileNotFoundError as exc:
        raise DataError(f"program {exc.filename!r} not found: install the Debian packages 'espeak-ng' and 'sox'") from None
    except subprocess.CalledProcessError as exc:
        msg = exc.stderr.decode(errors="replace").strip()
        raise DataError(f"synthesis of {text[:40]!r} with {speaker} failed: {msg}") from None
    return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0


def add_noise(clean: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Add coloured Gaussian noise (white mixed with brown) at ``snr_db`` relative to the speech power."""
    n = clean.shape[0]
    white = rng.standard_normal(n).astype(np.float32)
    brown = np.cumsum(rng.standard_normal(n)).astype(np.float32)
    brown -= np.convolve(brown, np.ones(401, dtype=np.float32) / 401, mode="same")  # remove the drift
    mix = float(rng.uniform(0, 1))
    noise = mix * white / (white.std() + 1e-9) + (1 - mix) * brown / (brown.std() + 1e-9)
    speech_power = float(np.mean(clean**2)) + 1e-12
    noise *= np.sqrt(speech_power / 10 ** (snr_db / 10) / (float(np.mean(noise**2)) + 1e-12))
    return clean + noise


def synthesize(text: str, cfg: SynthConfig, rng: np.random.Generator) -> tuple[np.ndarray, Speaker, float | None]:
    """One utterance: returns (samples (N,) float32 at 16 kHz, speaker, SNR in dB or None for clean)."""
    speaker = draw_speaker(cfg, rng)
    wav = speak(text, speaker)
    pad = np.zeros(int(rng.uniform(*cfg.pad_s) * SAMPLE_RATE), dtype=np.float32)
    wav = np.concatenate([pad, wav])
    gain = float(rng.uniform(0.3, 1.0))  # loudness variety
    snr = None
    if rng.uniform() < cfg.noise_prob:
        snr = float(rng.uniform(*cfg.snr_db))
        wav = add_noise(wav, snr, rng)
    peak = float(np.abs(wav).max()) + 1e-9
    return (wav * min(gain, 0.99 / peak)).astype(np.float32), speaker, snr
