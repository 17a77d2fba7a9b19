"""Waveform augmentation of training utterances: speed, vocal-tract length, reverberation, noise, telephone.

Each transform is a pure function of its input wave (float32 (N,) at 16 kHz) and explicit parameters; the
random parameters of one utterance are drawn by :func:`draw_augment` from the utterance's own generator and
recorded in speakers.jsonl, and every random *signal* (noise, room response) comes from a generator seeded by
a drawn integer, so an augmented utterance is the same bit for bit whatever the build order.

- :func:`speed_perturb`: resampling by a factor (0.9 / 1.0 / 1.1 as in Ko et al. 2015): tempo, pitch and
  formants all scale, duration by 1 / factor.
- :func:`vtlp`: vocal-tract length perturbation (Jaitly and Hinton 2013): the short-time spectrum is warped
  by ``alpha`` (piecewise linear, fixed at Nyquist), moving formants and harmonics by ``alpha`` without
  changing the duration.
- :func:`synthetic_rir` + :func:`reverberate`: an exponentially decaying Gaussian tail (statistical room
  model, energy decays 60 dB in ``rt60_s``) after a direct-path impulse, at direct-to-reverberant ratio
  ``drr_db``.
- :func:`add_coloured_noise`: Gaussian noise with power spectrum ~ 1 / f^slope (0 white, 1 pink, 2 brown)
  at ``snr_db`` relative to the speech power.
- :func:`telephone`: 300-3400 Hz band pass, 8 kHz sampling and G.711 mu-law 8-bit companding, back at
  16 kHz: the narrow band and quantization noise of a telephone channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from scipy import signal

from asr.data.manifest import SAMPLE_RATE
from asr.errors import DataError

MU_LAW_MU = 255  # G.711 mu-law [published]


@dataclass(frozen=True)
class AugmentConfig:
    """Probabilities and ranges of the training augmentation chain (applied in this order)."""

    speed_factors: tuple[float, ...] = (0.9, 1.0, 1.1)  # drawn uniformly [published: Ko et al. 2015]
    vtlp_prob: float = 0.5
    vtlp_alpha: tuple[float, float] = (0.9, 1.1)  # [published: Jaitly and Hinton 2013]
    reverb_prob: float = 0.3
    rt60_s: tuple[float, float] = (0.15, 0.8)  # [assumption] small rooms to a large living room
    drr_db: tuple[float, float] = (-2.0, 12.0)  # [assumption] far to close microphone
    noise_prob: float = 0.5
    snr_db: tuple[float, float] = (5.0, 30.0)
    noise_slope: tuple[float, float] = (0.0, 2.0)  # white .. brown
    telephone_prob: float = 0.15

    def __post_init__(self) -> None:
        for name in ("vtlp_prob", "reverb_prob", "noise_prob", "telephone_prob"):
            if not 0 <= getattr(self, name) <= 1:
                raise DataError(f"augment: {name} = {getattr(self, name)} must be in [0, 1]")
        if not self.speed_factors or min(self.speed_factors) <= 0:
            raise DataError(f"augment: speed_factors {self.speed_factors} must be positive")


def draw_augment(cfg: AugmentConfig, rng: np.random.Generator) -> dict:
    """Parameters of one utterance's chain; ``None`` for a transform that is not applied."""
    p: dict = {"speed": float(cfg.speed_factors[int(rng.integers(len(cfg.speed_factors)))])}
    p["vtlp_alpha"] = float(rng.uniform(*cfg.vtlp_alpha)) if rng.uniform() < cfg.vtlp_prob else None
    if rng.uniform() < cfg.reverb_prob:
        p["rt60_s"], p["drr_db"] = float(rng.uniform(*cfg.rt60_s)), float(rng.uniform(*cfg.drr_db))
    else:
        p["rt60_s"] = p["drr_db"] = None
    if rng.uniform() < cfg.noise_prob:
        p["snr_db"], p["noise_slope"] = float(rng.uniform(*cfg.snr_db)), float(rng.uniform(*cfg.noise_slope))
    else:
        p["snr_db"] = p["noise_slope"] = None
    p["telephone"] = bool(rng.uniform() < cfg.telephone_prob)
    p["signal_seed"] = int(rng.integers(2**63))
    return p


def apply_augment(wave: np.ndarray, p: dict, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The chain of :func:`draw_augment` parameters applied to ``wave``: speed, VTLP, reverb, noise, telephone."""
    rng = np.random.default_rng(p["signal_seed"])
    out = speed_perturb(wave, p["speed"])
    if p["vtlp_alpha"] is not None:
        out = vtlp(out, p["vtlp_alpha"], sample_rate)
    if p["rt60_s"] is not None:
        out = reverberate(out, synthetic_rir(p["rt60_s"], p["drr_db"], rng, sample_rate))
    if p["snr_db"] is not None:
        out = add_coloured_noise(out, p["snr_db"], p["noise_slope"], rng, sample_rate)
    if p["telephone"]:
        out = telephone(out, sample_rate)
    return out.astype(np.float32)


def speed_perturb(wave: np.ndarray, factor: float) -> np.ndarray:
    """Play ``wave`` ``factor`` times faster (resampling): N samples -> about N / factor."""
    if factor == 1.0:
        return wave.astype(np.float32)
    frac = Fraction(factor).limit_denominator(100)
    return signal.resample_poly(wave, frac.denominator, frac.numerator).astype(np.float32)


def _vtlp_source_hz(f_hz: np.ndarray, alpha: float, nyquist_hz: float, f_hi_hz: float = 4800.0) -> np.ndarray:
    """Inverse of the VTLP warp: the input frequency that lands at ``f_hz`` (warp f -> alpha f up to the knee)."""
    knee = f_hi_hz * min(alpha, 1.0) / alpha  # input frequency of the knee
    warped_knee = alpha * knee
    upper = knee + (f_hz - warped_knee) * (nyquist_hz - knee) / (nyquist_hz - warped_knee)
    return np.where(f_hz <= warped_knee, f_hz / alpha, upper)


def vtlp(wave: np.ndarray, alpha: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Warp the spectrum by ``alpha`` (a component at f moves to alpha f below the 4.8 kHz knee); same length.

    A phase vocoder: each output bin takes the interpolated magnitude of its source frequency and advances its
    phase by the source's measured phase advance times the warp ratio, so a sinusoid really moves.
    """
    if alpha == 1.0:
        return wave.astype(np.float32)
    n = wave.shape[0]
    nper, hop = 512, 128
    f, _, spec = signal.stft(wave, fs=sample_rate, nperseg=nper, noverlap=nper - hop)
    src_hz = _vtlp_source_hz(f, alpha, sample_rate / 2)
    src = src_hz / (f[1] - f[0])  # fractional source bins
    lo = np.clip(np.floor(src).astype(int), 0, len(f) - 1)
    hi = np.clip(lo + 1, 0, len(f) - 1)
    w = (src - lo)[:, None]
    magnitude = (1 - w) * np.abs(spec[lo]) + w * np.abs(spec[hi])
    nearest = np.where(w[:, 0] < 0.5, lo, hi)
    phase = np.angle(spec[nearest])  # (F, frames)
    expected = 2 * np.pi * nearest[:, None] * hop / nper
    advance = expected + np.angle(np.exp(1j * (np.diff(phase, axis=1) - expected)))  # true source advance
    ratio = np.where(src_hz > 0, f / np.maximum(src_hz, 1e-9), 1.0)[:, None]
    out_phase = np.concatenate([phase[:, :1], phase[:, :1] + np.cumsum(advance * ratio, axis=1)], axis=1)
    _, out = signal.istft(magnitude * np.exp(1j * out_phase), fs=sample_rate, nperseg=nper, noverlap=nper - hop)
    out = out[:n]
    return np.pad(out, (0, n - out.shape[0])).astype(np.float32)


def synthetic_rir(rt60_s: float, drr_db: float, rng: np.random.Generator, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Room impulse response: unit direct path, then Gaussian tail decaying 60 dB in ``rt60_s`` at ``drr_db``."""
    if not (rt60_s > 0 and np.isfinite(drr_db)):
        raise DataError(f"synthetic_rir: rt60_s {rt60_s} must be > 0 and drr_db {drr_db} finite")
    n = int(rt60_s * sample_rate)
    delay = int(0.0025 * sample_rate)  # first reflection 2.5 ms after the direct sound [assumption]
    t = np.arange(n - delay) / sample_rate
    tail = rng.standard_normal(n - delay) * np.exp(-3 * np.log(10) * t / rt60_s)  # amplitude: -60 dB at rt60
    tail *= np.sqrt(10 ** (-drr_db / 10) / np.sum(tail**2))  # reverberant energy = direct / 10^(drr/10)
    rir = np.zeros(n)
    rir[0] = 1.0
    rir[delay:] = tail
    return rir


def reverberate(wave: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """Convolve with a room response; the output keeps the input's length (the tail past the end is cut)."""
    return signal.fftconvolve(wave, rir)[: wave.shape[0]].astype(np.float32)


def coloured_noise(n: int, slope: float, rng: np.random.Generator) -> np.ndarray:
    """Zero-mean Gaussian noise of unit power, power spectrum ~ 1 / f^slope."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(spec.shape[0], dtype=np.float64)
    f[0] = 1.0
    spec[0] = 0.0  # no DC offset
    noise = np.fft.irfft(spec / f ** (slope / 2), n)
    return noise / (np.sqrt(np.mean(noise**2)) + 1e-12)


def add_coloured_noise(wave: np.ndarray, snr_db: float, slope: float, rng: np.random.Generator, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """``wave`` plus noise of spectral slope ``slope`` at ``snr_db`` (relative to the mean speech power)."""
    noise = coloured_noise(wave.shape[0], slope, rng)
    power = float(np.mean(wave.astype(np.float64) ** 2)) + 1e-12
    return (wave + noise * np.sqrt(power / 10 ** (snr_db / 10))).astype(np.float32)


def mu_law(x: np.ndarray) -> np.ndarray:
    """G.711-style mu-law: x in [-1, 1] -> 8-bit codes (0..255) -> decoded values in [-1, 1]."""
    x = np.clip(x, -1.0, 1.0)
    y = np.sign(x) * np.log1p(MU_LAW_MU * np.abs(x)) / np.log1p(MU_LAW_MU)
    codes = np.round((y + 1) / 2 * 255)
    y = codes / 255 * 2 - 1
    return np.sign(y) * ((1 + MU_LAW_MU) ** np.abs(y) - 1) / MU_LAW_MU


def telephone(wave: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """300-3400 Hz band, 8 kHz sampling, mu-law 8-bit codec, back to ``sample_rate``; same length."""
    if sample_rate % 8000:
        raise DataError(f"telephone: sample rate {sample_rate} Hz is not a multiple of 8000")
    sos = signal.butter(4, [300, 3400], btype="bandpass", fs=sample_rate, output="sos")
    band = signal.sosfilt(sos, wave.astype(np.float64))
    narrow = signal.resample_poly(band, 1, sample_rate // 8000)
    peak = float(np.abs(narrow).max()) + 1e-12
    coded = mu_law(narrow / peak * 0.7) * peak / 0.7  # codec input level: peaks at -3 dBFS [assumption]
    out = signal.resample_poly(coded, sample_rate // 8000, 1)[: wave.shape[0]]
    return np.pad(out, (0, wave.shape[0] - out.shape[0])).astype(np.float32)
