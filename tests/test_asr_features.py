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
