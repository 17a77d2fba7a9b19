"""Log-mel filterbank features in plain torch (Kaldi-style framing), deltas, per-utterance normalization.

torchaudio has no build for our torch; ``torchaudio.compliance.kaldi.fbank(wave[None] * 32768,
num_mel_bins=80, dither=0.0)`` would give the same framing (25 ms Povey window, 10 ms hop, snip_edges:
``1 + (N - 400) // 160`` frames, DC removal, pre-emphasis 0.97, power spectrum over a 512-point FFT,
HTK mel scale from 20 Hz to Nyquist, natural log floored at float eps). We work on waves in [-1, 1], so our
log-energies are Kaldi's minus ``2 * ln(32768)``, a constant that the per-utterance normalization removes;
the one difference is the floor, which sits 2 * ln(32768) = 20.8 nats higher relative to the signal than
Kaldi's (digital silence and very quiet low bands clamp earlier). The trained models use this front end.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch

from asr.errors import ConfigError, DataError


@dataclass(frozen=True)
class FeatureConfig:
    """Front-end settings; ``dim`` is the per-frame feature size after deltas."""

    sample_rate: int = 16000
    n_mels: int = 80
    win_ms: float = 25.0
    hop_ms: float = 10.0
    n_fft: int = 512
    preemph: float = 0.97
    low_hz: float = 20.0
    deltas: int = 0  # 0: none, 1: + deltas, 2: + deltas and double deltas
    normalize: bool = True  # per-utterance mean and variance normalization

    def __post_init__(self) -> None:
        problems = []
        if self.sample_rate <= 0:
            problems.append(f"sample_rate = {self.sample_rate}: must be > 0")
        if self.n_mels <= 0:
            problems.append(f"n_mels = {self.n_mels}: must be > 0")
        if self.deltas not in (0, 1, 2):
            problems.append(f"deltas = {self.deltas}: must be 0, 1 or 2")
        if self.win_length > self.n_fft:
            problems.append(f"win_ms = {self.win_ms}: {self.win_length} samples exceed n_fft = {self.n_fft}")
        if self.hop_ms <= 0:
            problems.append(f"hop_ms = {self.hop_ms}: must be > 0")
        if problems:
            raise ConfigError("features: " + "; ".join(problems))

    @property
    def win_length(self) -> int:
        return int(round(self.sample_rate * self.win_ms / 1000))

    @property
    def hop_length(self) -> int:
        return int(round(self.sample_rate * self.hop_ms / 1000))

    @property
    def dim(self) -> int:
        return self.n_mels * (1 + self.deltas)


def _mel(hz: torch.Tensor) -> torch.Tensor:
    return 1127.0 * torch.log1p(hz / 700.0)


@lru_cache(maxsize=8)
def mel_filterbank(n_mels: int, n_fft: int, sample_rate: int, low_hz: float) -> torch.Tensor:
    """Triangular HTK-mel filters, shape (n_fft // 2 + 1, n_mels)."""
    freqs = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)
    edges = torch.linspace(float(_mel(torch.tensor(low_hz))), float(_mel(torch.tensor(sample_rate / 2))), n_mels + 2)
    m = _mel(freqs)[:, None]  # (K, 1)
    left, center, right = edges[:-2], edges[1:-1], edges[2:]  # (n_mels,)
    up = (m - left) / (center - left)
    down = (right - m) / (right - center)
    return torch.clamp(torch.minimum(up, down), min=0).float()


def deltas(x: torch.Tensor, width: int = 2) -> torch.Tensor:
    """Regression deltas along time (Kaldi/HTK formula, edge frames replicated): (T, F) -> (T, F)."""
    t = x.shape[0]
    padded = torch.cat([x[:1].expand(width, -1), x, x[-1:].expand(width, -1)])  # (T + 2w, F)
    num = sum(n * (padded[width + n : width + n + t] - padded[width - n : width - n + t]) for n in range(1, width + 1))
    return num / (2 * sum(n * n for n in range(1, width + 1)))


def compute_features(wave: torch.Tensor, sample_rate: int, cfg: FeatureConfig | None = None) -> torch.Tensor:
    """Log-mel (+ deltas) features of a mono wave (N,) in [-1, 1]: returns (T, cfg.dim) float32."""
    cfg = cfg or FeatureConfig()
    wave = torch.as_tensor(wave, dtype=torch.float32)
    if wave.dim() != 1:
        raise DataError(f"compute_features: expected a mono wave of shape (N,), got shape {tuple(wave.shape)}")
    if sample_rate != cfg.sample_rate:
        raise DataError(f"compute_features: audio at {sample_rate} Hz, the front end expects {cfg.sample_rate} Hz")
    win, hop = cfg.win_length, cfg.hop_length
    if wave.shape[0] < win:
        raise DataError(f"compute_features: {wave.shape[0]} samples, shorter than one {cfg.win_ms} ms window")
    frames = wave.unfold(0, win, hop)  # (T, win)
    frames = frames - frames.mean(dim=1, keepdim=True)
    frames = torch.cat([frames[:, :1] * (1 - cfg.preemph), frames[:, 1:] - cfg.preemph * frames[:, :-1]], dim=1)
    window = torch.hann_window(win, periodic=False) ** 0.85  # Povey window
    spec = torch.fft.rfft(frames * window, n=cfg.n_fft).abs() ** 2  # (T, n_fft // 2 + 1)
    fb = mel_filterbank(cfg.n_mels, cfg.n_fft, cfg.sample_rate, cfg.low_hz)
    feats = torch.log(torch.clamp(spec @ fb, min=torch.finfo(torch.float32).eps))  # (T, n_mels)
    if cfg.deltas:
        d1 = deltas(feats)
        feats = torch.cat([feats, d1] + ([deltas(d1)] if cfg.deltas == 2 else []), dim=1)  # (T, dim)
    if cfg.normalize:
        feats = (feats - feats.mean(dim=0)) / (feats.std(dim=0, unbiased=False) + 1e-5)
    return feats


def stack_frames(feats: torch.Tensor, lens: torch.Tensor, stack: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Concatenate ``stack`` consecutive frames and keep every ``stack``-th: (B, T, F) -> (B, T // s, F * s).

    A trailing partial group is dropped; ``lens`` (B,) become ``lens // stack`` (at least 1).
    """
    b, t, f = feats.shape
    t2 = t // stack
    out = feats[:, : t2 * stack].reshape(b, t2, f * stack)  # (B, T', F * stack)
    return out, torch.clamp(torch.div(lens, stack, rounding_mode="floor"), min=1)


def num_frames(num_samples: int, cfg: FeatureConfig) -> int:
    """Frame count compute_features returns for ``num_samples`` samples."""
    return 0 if num_samples < cfg.win_length else 1 + (num_samples - cfg.win_length) // cfg.hop_length
