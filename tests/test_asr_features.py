"""Log-mel front end: framing, filterbank, deltas, normalization, stacking, bad input."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from asr.errors import ConfigError, DataError
from asr.features import FeatureConfig, compute_features, deltas, mel_filterbank, num_frames, stack_frames
from asr_speech_fixtures import sine

torch.set_num_threads(1)


@settings(max_examples=25, deadline=None)
@given(st.integers(400, 20000))
def test_frame_count_is_kaldi_snip_edges(n):
    cfg = FeatureConfig(n_mels=20)
    feats = compute_features(torch.randn(n) * 0.1, 16000, cfg)
    assert feats.shape == (1 + (n - 400) // 160, 20) == (num_frames(n, cfg), cfg.dim)


def test_sine_energy_lands_in_the_right_mel_band():
    cfg = FeatureConfig(n_mels=40, normalize=False)
    feats = compute_features(torch.from_numpy(sine(0.5, 1000.0)), 16000, cfg)
    fb = mel_filterbank(40, 512, 16000, 20.0)
    peak_bin = int(fb[round(1000 / 8000 * 256)].argmax())  # the filter that covers 1 kHz most
    assert int(feats.mean(0).argmax()) == peak_bin


def test_filterbank_covers_the_spectrum_once():
    fb = mel_filterbank(80, 512, 16000, 20.0)
    assert fb.shape == (257, 80)
    lo, hi = int(fb[:, 0].argmax()), int(fb[:, -1].argmax())
    inside = fb[lo + 1 : hi].sum(1)  # between the first and the last centre, overlapping triangles sum to 1
    torch.testing.assert_close(inside, torch.ones_like(inside), atol=1e-5, rtol=0)


def test_deltas_of_a_ramp_are_its_slope():
    x = torch.arange(20.0)[:, None] * torch.tensor([[1.0, -2.0]])  # (T, 2)
    d = deltas(x)
    torch.testing.assert_close(d[2:-2], torch.tensor([[1.0, -2.0]]).expand(16, -1))


def test_deltas_and_normalization():
    cfg = FeatureConfig(n_mels=40, deltas=2)
    feats = compute_features(torch.randn(16000) * 0.1, 16000, cfg)
    assert feats.shape[1] == 120 == cfg.dim
    torch.testing.assert_close(feats.mean(0), torch.zeros(120), atol=1e-4, rtol=0)
    torch.testing.assert_close(feats.std(0, unbiased=False), torch.ones(120), atol=1e-3, rtol=0)


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**31 - 1), st.floats(0.1, 10.0))
@example(seed=1, gain=0.125)  # a quiet wave that puts a sparse low mel bin on the floor
def test_gain_invariance_after_normalization(seed, gain):
    """Above the log floor (float eps on the [-1, 1] scale) a gain is only an offset that normalization removes."""
    wave = torch.randn(8000, generator=torch.Generator().manual_seed(seed)) * 0.1
    a = compute_features(wave, 16000)
    b = compute_features(wave * gain, 16000)
    # mel bins whose filter barely touches an FFT bin can sit at the floor for a quiet wave: compare the bins
    # that stay at least 1 nat above the floor in every frame of both waves (the premise of the invariance)
    raw = FeatureConfig(normalize=False)
    floor = math.log(torch.finfo(torch.float32).eps) + 1.0
    live = (compute_features(wave, 16000, raw).min(0).values > floor) & (
        compute_features(wave * gain, 16000, raw).min(0).values > floor
    )
    assert live.sum() >= 70  # nearly every one of the 80 bins
    torch.testing.assert_close(a[:, live], b[:, live], atol=2e-3, rtol=0)


@given(st.integers(1, 4), st.integers(1, 30), st.integers(1, 5))
def test_stack_frames(batch, t, stack):
    x = torch.arange(batch * t * 3, dtype=torch.float32).reshape(batch, t, 3)
    lens = torch.full((batch,), t)
    y, ylens = stack_frames(x, lens, stack)
    assert y.shape == (batch, t // stack, 3 * stack)
    assert ylens.tolist() == [max(1, t // stack)] * batch
    if t >= stack:
        torch.testing.assert_close(y[:, 0], x[:, :stack].reshape(batch, -1))


def test_bad_input_messages():
    with pytest.raises(DataError, match="8000 Hz, the front end expects 16000 Hz"):
        compute_features(torch.zeros(16000), 8000)
    with pytest.raises(DataError, match="shorter than one 25.0 ms window"):
        compute_features(torch.zeros(100), 16000)
    with pytest.raises(DataError, match=r"expected a mono wave of shape \(N,\)"):
        compute_features(torch.zeros(2, 16000), 16000)
    with pytest.raises(ConfigError, match="deltas = 3: must be 0, 1 or 2"):
        FeatureConfig(deltas=3)


def _librosa_log_mel(wave):
    """Reference log-mel energies with librosa's framing and HTK mel filters (norm=None), Kaldi's front-end steps."""
    import librosa
    import numpy as np

    cfg = FeatureConfig()
    frames = librosa.util.frame(wave.astype(np.float64), frame_length=cfg.win_length, hop_length=cfg.hop_length, axis=0)
    frames = frames - frames.mean(axis=1, keepdims=True)
    frames = np.concatenate([frames[:, :1] * (1 - cfg.preemph), frames[:, 1:] - cfg.preemph * frames[:, :-1]], axis=1)
    spec = np.abs(np.fft.rfft(frames * np.hanning(cfg.win_length) ** 0.85, n=cfg.n_fft)) ** 2
    fb = librosa.filters.mel(sr=cfg.sample_rate, n_fft=cfg.n_fft, n_mels=cfg.n_mels, fmin=cfg.low_hz,
                             fmax=cfg.sample_rate / 2, htk=True, norm=None)  # (n_mels, K)
    return np.log(np.maximum(spec @ fb.T, np.finfo(np.float32).eps))


def test_log_mel_matches_librosa_within_0p03_nats():
    """The hand-written front end against librosa on a chirp in noise, white noise and a vowel-like harmonic wave.

    Tolerance 0.03 nats (3 % in energy) per frame and band: librosa's HTK filters are triangles linear in Hz,
    Kaldi's (ours) linear in mel, which moves band energies by up to 0.014 nats (measured); a wrong window,
    pre-emphasis, FFT size, mel scale or band edge moves them by 0.1 nats or more.
    """
    import numpy as np

    rng = np.random.default_rng(0)
    t = np.arange(32000) / 16000
    vowel = sum(np.sin(2 * np.pi * 120 * k * t) / k * (1 + 3 * np.exp(-((120 * k - f) / 150) ** 2))
                for k in range(1, 60) for f in (700,))
    waves = {"chirp in noise": 0.3 * np.sin(2 * np.pi * (100 + 1500 * t) * t) + 0.01 * rng.standard_normal(t.size),
             "white noise": 0.1 * rng.standard_normal(24000),
             "harmonic vowel": 0.05 * vowel + 0.001 * rng.standard_normal(t.size)}
    cfg = FeatureConfig(normalize=False)
    for name, wave in waves.items():
        ours = compute_features(torch.from_numpy(wave.astype(np.float32)), 16000, cfg).numpy()
        ref = _librosa_log_mel(wave)
        assert ours.shape == ref.shape, name
        assert float(np.abs(ours - ref).max()) < 0.03, name
