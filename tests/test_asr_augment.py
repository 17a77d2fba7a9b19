"""Waveform augmentation (asr.data.augment): each transform does what its name says, seeded, finite."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asr.data.augment import (
    AugmentConfig,
    add_coloured_noise,
    apply_augment,
    coloured_noise,
    draw_augment,
    mu_law,
    reverberate,
    speed_perturb,
    synthetic_rir,
    telephone,
    vtlp,
)
from asr.data.manifest import SAMPLE_RATE
from asr.errors import DataError

SR = SAMPLE_RATE


def tone(hz: float, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def peak_hz(x: np.ndarray) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spec) * SR / len(x))


@pytest.mark.parametrize("factor", [0.9, 1.1])
def test_speed_perturbation_scales_duration_and_frequency(factor):
    out = speed_perturb(tone(1000.0), factor)
    assert abs(len(out) - SR / factor) <= 1
    assert peak_hz(out) == pytest.approx(1000.0 * factor, abs=3.0)
    assert np.array_equal(speed_perturb(tone(1000.0), 1.0), tone(1000.0))


@pytest.mark.parametrize("alpha", [0.9, 1.1])
def test_vtlp_moves_spectral_peaks_and_keeps_the_length(alpha):
    x = tone(1000.0)
    out = vtlp(x, alpha)
    assert out.shape == x.shape
    assert peak_hz(out[2000:-2000]) == pytest.approx(1000.0 * alpha, abs=15.0)
    assert np.array_equal(vtlp(x, 1.0), x)


def test_room_response_decays_at_its_rt60_with_its_direct_to_reverberant_ratio():
    rng = np.random.default_rng(0)
    rir = synthetic_rir(0.5, 6.0, rng)
    assert rir[0] == 1.0 and len(rir) == SR // 2
    assert 10 * np.log10(1.0 / np.sum(rir[1:] ** 2)) == pytest.approx(6.0, abs=1e-9)
    edc = np.cumsum(rir[1:][::-1] ** 2)[::-1]  # Schroeder energy decay of the tail
    db = 10 * np.log10(edc / edc[0])
    t = np.arange(len(db)) / SR
    sel = (db < -5) & (db > -25)
    slope = np.polyfit(t[sel], db[sel], 1)[0]  # dB per second
    assert -60 / slope == pytest.approx(0.5, rel=0.15)
    wet = reverberate(tone(500.0), rir)
    assert wet.shape == (SR,) and np.all(np.isfinite(wet))
    with pytest.raises(DataError, match="rt60_s"):
        synthetic_rir(0.0, 6.0, rng)


@pytest.mark.parametrize("slope", [0.0, 1.0, 2.0])
def test_noise_has_its_snr_and_spectral_slope(slope):
    rng = np.random.default_rng(1)
    x = tone(300.0, 2.0)
    noisy = add_coloured_noise(x, 12.0, slope, rng)
    noise = noisy.astype(np.float64) - x
    assert 10 * np.log10(np.mean(x.astype(np.float64) ** 2) / np.mean(noise**2)) == pytest.approx(12.0, abs=0.01)
    n = coloured_noise(2**16, slope, np.random.default_rng(2))
    power = np.abs(np.fft.rfft(n)) ** 2
    f = np.arange(len(power))
    bands = [(100, 200), (1600, 3200)]  # four octaves apart
    ratio_db = 10 * np.log10(power[slice(*bands[0])].mean() / power[slice(*bands[1])].mean())
    assert ratio_db == pytest.approx(10 * np.log10(16**slope), abs=1.5)
    assert f.size > 0


def test_telephone_channel_is_narrow_band_and_8_bit():
    x = tone(1000.0) + tone(6000.0) + tone(100.0)
    out = telephone(x)
    assert out.shape == x.shape and np.all(np.isfinite(out))
    spec = np.abs(np.fft.rfft(out)) ** 2
    hz = np.fft.rfftfreq(len(out), 1 / SR)
    in_band = spec[(hz > 900) & (hz < 1100)].sum()
    assert 10 * np.log10(spec[hz > 4200].sum() / in_band) < -40  # nothing above the 8 kHz Nyquist
    assert 10 * np.log10(spec[(hz > 80) & (hz < 120)].sum() / in_band) < -15  # 100 Hz hum cut by the band pass
    x = np.linspace(-1, 1, 10_001)
    err = np.abs(mu_law(x) - x)
    assert len(np.unique(mu_law(x))) <= 256  # 8 bits
    assert err.max() < 0.025 and err[np.abs(x) < 0.01].max() < 0.001  # steps grow with the level (companding)


def test_chain_is_seeded_bit_for_bit_and_recorded():
    cfg = AugmentConfig(vtlp_prob=1.0, reverb_prob=1.0, noise_prob=1.0, telephone_prob=1.0)
    p = draw_augment(cfg, np.random.default_rng(5))
    assert p == draw_augment(cfg, np.random.default_rng(5))
    assert p["vtlp_alpha"] is not None and p["rt60_s"] is not None and p["snr_db"] is not None and p["telephone"]
    x = tone(440.0)
    assert np.array_equal(apply_augment(x, p), apply_augment(x, p))
    assert not np.array_equal(apply_augment(x, p), apply_augment(x, draw_augment(cfg, np.random.default_rng(6))))
    with pytest.raises(DataError, match="noise_prob"):
        AugmentConfig(noise_prob=1.5)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(0.2, 1.5))
def test_any_drawn_chain_keeps_the_wave_finite_and_the_length_by_speed(seed, seconds):
    p = draw_augment(AugmentConfig(), np.random.default_rng(seed))
    x = tone(220.0, seconds)
    out = apply_augment(x, p)
    assert out.dtype == np.float32 and np.all(np.isfinite(out))
    assert abs(len(out) - len(x) / p["speed"]) <= 1
