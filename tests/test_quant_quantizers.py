"""Quantizer properties (hypothesis), SAWB/PACT specifics, float emulation and config validation."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from asr.errors import ConfigError
from asr.quant import functional as F
from asr.quant.config import FloatQuantConfig, IntQuantConfig, config_from_dict
from asr.quant.quantizers import IntQuantizer, make_quantizer

torch.set_num_threads(1)

METHOD_ROLE = [("sawb", "weight"), ("minmax", "weight"), ("percentile", "weight"), ("fixed", "weight"),
               ("pact", "act"), ("pact2", "act"), ("fixed", "act"), ("minmax", "act"), ("percentile", "act")]


def _quantizer(method, role, bits, clip=None):
    cfg = IntQuantConfig(method=method, bits=bits, clip=clip if method != "fixed" else (clip or 1.0))
    q = IntQuantizer(cfg, role)
    return q.eval()


def _bounds(q, x):
    lo, hi = q.weight_range(x) if q.role == "weight" else q.act_range()
    return (-hi if q.symmetric else lo), hi


@settings(max_examples=60, deadline=None)
@given(mr=st.sampled_from(METHOD_ROLE), bits=st.integers(2, 8), seed=st.integers(0, 2**16),
       scale=st.floats(0.01, 100.0), clip=st.floats(0.1, 5.0))
def test_fake_quant_is_idempotent_bounded_and_on_grid(mr, bits, seed, scale, clip):
    method, role = mr
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(16, 24, generator=g) * scale
    q = _quantizer(method, role, bits, clip=None if role == "weight" else clip)
    y = q(x)
    if role == "weight" and method != "fixed":  # a weight's range is recomputed from the tensor itself
        lo, hi = _bounds(q, x)
        y2 = F.fake_quant(y, lo, hi, bits, q.symmetric)
    else:
        lo, hi = _bounds(q, x)
        y2 = q(y)
    assert torch.allclose(y2, y, atol=1e-6 * max(1.0, float(hi)))  # idempotent
    s, z = F.qparams(lo, hi, bits, q.symmetric)
    tol = 1e-5 * float(hi.abs().max())
    assert float(y.min()) >= float((F.int_range(bits, q.symmetric)[0] - z).min() * s.min()) - tol  # bounded
    assert float(y.max()) <= float(hi.max()) * (1 + 1e-5) + float(s.max()) / 2
    codes = y / s + z  # on the integer grid
    assert torch.allclose(codes, codes.round(), atol=1e-3)
    assert len(torch.unique(y.reshape(-1) if y.dim() == 1 else y[0])) <= q.cfg.levels


@settings(max_examples=30, deadline=None)
@given(bits=st.integers(2, 8), symmetric=st.booleans())
def test_a_dense_ramp_uses_exactly_all_levels(bits, symmetric):
    x = torch.linspace(-1.5, 1.5, 30000)  # covers the clip range [-1, 1] and beyond
    y = F.fake_quant(x, torch.tensor(-1.0), torch.tensor(1.0), bits, symmetric)
    levels = 2**bits - 1 if symmetric else 2**bits
    assert len(torch.unique(y)) == levels
    step = 2.0 / (2**bits - 2 if symmetric else 2**bits - 1)
    assert float(y.abs().max()) <= 1.0 + step / 2 + 1e-6  # the integer zero point shifts the range <= half a step


def test_per_channel_sawb_beats_per_tensor_on_a_skewed_weight():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(64, 128, generator=g) * torch.logspace(-2, 0, 64).unsqueeze(1)  # rows 100x apart
    errs = {}
    for gran in ("tensor", "channel"):
        q = IntQuantizer(IntQuantConfig(method="sawb", bits=4, granularity=gran), "weight")
        errs[gran] = float(((q(w) - w) ** 2).mean())
    assert errs["channel"] < 0.5 * errs["tensor"]


def test_sawb_clip_uses_the_published_4bit_coefficients_and_falls_back_to_max():
    w = torch.randn(4096, generator=torch.Generator().manual_seed(1)).reshape(64, 64)
    c1, c2 = F.SAWB_COEFFS[4]
    assert (c1, c2) == (12.68, -12.80)
    expect = c1 * w.pow(2).mean().sqrt() - 12.80 * w.abs().mean()
    assert torch.allclose(F.sawb_clip(w, 4, per_channel=False), torch.minimum(expect, w.abs().max()))
    const = torch.full((8, 8), 0.3)  # sqrt(E w^2) == E|w|: formula gives a negative clip
    assert torch.allclose(F.sawb_clip(const, 4, per_channel=False), torch.tensor(0.3))


def test_sawb_keeps_max_clip_on_rows_flatter_than_uniform():
    g = torch.Generator().manual_seed(2)
    sign = torch.randint(0, 2, (4, 256), generator=g) * 2 - 1
    w = sign * (0.5 + 0.25 * torch.rand(4, 256, generator=g))  # clustered near +-0.6: flatter than uniform
    for bits in (4, 8):
        assert torch.allclose(F.sawb_clip(w, bits, per_channel=True).squeeze(1), w.abs().amax(dim=1))
    q = IntQuantizer(IntQuantConfig(method="sawb", bits=8, granularity="channel"), "weight")
    assert float((q(w) - w).abs().max()) < 0.01  # 8 bits on a flat row: no saturation


def test_pact_gradients_follow_the_pact_paper():
    q = IntQuantizer(IntQuantConfig(method="pact2", bits=4, clip=1.0), "act")
    with torch.no_grad():
        q.lo.fill_(-0.5)
    x = torch.tensor([-2.0, -0.6, -0.2, 0.3, 0.9, 1.5, 3.0], requires_grad=True)
    q(x).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0]  # STE inside the clip, zero outside
    assert float(q.hi.grad) == 2.0  # one per element above the upper clip
    assert float(q.lo.grad) == 2.0  # one per element below the lower clip


def test_pact_clip_learns_to_cover_a_wider_signal():
    q = IntQuantizer(IntQuantConfig(method="pact", bits=4, clip=0.5), "act").train()
    opt = torch.optim.SGD(q.parameters(), lr=0.05)
    x = torch.rand(4096, generator=torch.Generator().manual_seed(0)) * 2.0
    for _ in range(50):
        opt.zero_grad()
        ((q(x) - x) ** 2).mean().backward()
        opt.step()
    assert float(q.hi) > 1.2  # started at 0.5


def test_fp16_emulation_matches_half_and_fp8_saturates():
    x = torch.randn(1000, generator=torch.Generator().manual_seed(0)) * 1e3
    assert torch.equal(F.float_emulate(x, "fp16"), x.half().float())
    big = torch.tensor([1e6, -1e6, 0.1])
    y = F.float_emulate(big, "fp8_e4m3")
    assert y.tolist()[:2] == [448.0, -448.0]
    q = make_quantizer(FloatQuantConfig("fp8_e5m2"), "act")
    assert float(q(torch.tensor([1e9]))) == 57344.0


def test_activation_minmax_follows_a_running_range_in_training():
    q = IntQuantizer(IntQuantConfig(method="minmax", bits=8, momentum=0.5), "act").train()
    q(torch.tensor([-1.0, 1.0]))  # first batch initialises
    q(torch.tensor([-3.0, 3.0]))
    assert np.isclose(float(q.hi), 2.0) and np.isclose(float(q.lo), -2.0)
    q.eval()
    q(torch.tensor([-9.0, 9.0]))
    assert np.isclose(float(q.hi), 2.0)  # frozen in eval


@pytest.mark.parametrize("raw, message", [
    ({"method": "sawbb", "bits": 4}, "did you mean 'sawb'"),
    ({"method": "sawb", "bits": 9}, r"bits = 9: must be an integer in 2\.\.8"),
    ({"method": "pact", "bits": 4, "granularity": "channel"}, "per-channel scales need"),
    ({"method": "fixed", "bits": 4}, "needs clip"),
    ({"method": "sawb", "bitz": 4}, "did you mean 'bits'"),
    ({"method": "fp16", "bits": 4}, "takes no options"),
    ({"bits": 4}, "'method' is missing"),
])
def test_bad_configs_name_the_location_and_the_fix(raw, message):
    with pytest.raises(ConfigError, match=message) as info:
        config_from_dict(raw, "recipes/x.yaml: rules[0].weight")
    assert "recipes/x.yaml: rules[0].weight" in str(info.value)


def test_method_must_suit_the_role():
    with pytest.raises(ConfigError, match="cannot quantize a weight"):
        IntQuantizer(IntQuantConfig(method="pact", bits=4), "weight", "enc.weight")
    with pytest.raises(ConfigError, match="cannot quantize an activation"):
        IntQuantizer(IntQuantConfig(method="sawb", bits=4), "act", "enc.input")


def test_constant_range_fake_quant_passes_gradient_inside_only_and_matches_the_reference():
    q = IntQuantizer(IntQuantConfig(method="fixed", bits=4, clip=1.0), "act")
    x = torch.tensor([-1.5, -0.99, 0.0, 0.42, 1.0, 2.0], requires_grad=True)
    y = q(x)
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 1.0, 0.0]
    ref = F._FakeQuant.apply(x.detach(), torch.tensor(-1.0), torch.tensor(1.0), 4, True)
    assert torch.equal(y.detach(), ref)
    inside = torch.tanh(torch.randn(1000, generator=torch.Generator().manual_seed(0))).requires_grad_()
    q(inside).sum().backward()  # all inside the clip: the mask is skipped, every gradient passes
    assert bool((inside.grad == 1).all())
