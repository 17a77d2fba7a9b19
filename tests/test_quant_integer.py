"""The integer inference path is the fake-quant arithmetic; packed INT4 export round-trips."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from asr.model import ModelConfig, Transducer
from asr.quant import calibration, convert, load_recipe, prepare
from asr.quant.config import IntQuantConfig
from asr.quant.integer import ActQ, IntLinear, IntLSTM, IntWeight
from asr.quant.linear import QuantLinear
from asr.quant.pack import build_export, pack_codes, unpack_codes

torch.set_num_threads(1)
RECIPES = ["recipes/int8.yaml", "recipes/int4.yaml", "recipes/int4_naive.yaml"]


@pytest.mark.parametrize("act", [IntQuantConfig(method="pact2", bits=4, clip=2.0),
                                 IntQuantConfig(method="fixed", bits=4, clip=1.0),
                                 IntQuantConfig(method="minmax", bits=8, clip=1.5)])
@pytest.mark.parametrize("weight", [IntQuantConfig(method="sawb", bits=4, granularity="channel"),
                                    IntQuantConfig(method="minmax", bits=4)])
def test_integer_linear_is_exactly_the_fake_quant_linear(act, weight):
    torch.manual_seed(0)
    lin = nn.Linear(96, 40)
    q = QuantLinear.from_float(lin, weight, act).eval()
    x = torch.randn(50, 96)
    with torch.no_grad():
        fake = q(x)
    iq = IntLinear.from_quant(q)
    assert iq.weight.codes.dtype in (torch.int8, torch.uint8)  # int4 values held in 8-bit tensors
    codes = iq.act.codes(x)
    acc = codes @ iq.weight.centered().t()
    assert acc.dtype == torch.int32  # integer accumulation
    assert int(codes.abs().max()) < 2**act.bits and int(iq.weight.centered().abs().max()) <= 15  # int4 weights
    real = acc.float() * (iq.act.scale * iq.weight.scale.t()) + lin.bias.detach()  # scales applied after
    assert torch.allclose(real, fake, rtol=1e-5, atol=1e-5)
    assert torch.allclose(iq(x), fake, rtol=1e-5, atol=1e-5)


def test_integer_lstm_matches_fake_quant_within_tolerance():
    torch.manual_seed(1)
    ref = nn.LSTM(12, 16, bidirectional=True, batch_first=True)
    recipe = load_recipe("recipes/int4.yaml")
    net = nn.Sequential()
    net.add_module("lstm", ref)
    q = prepare(net, recipe).eval()
    x = torch.randn(3, 20, 12)
    with torch.no_grad(), calibration(q):
        q.lstm(x)
    with torch.no_grad():
        fake, (hf, cf) = q.lstm(x)
    iq = convert(q, "int")
    assert isinstance(iq.lstm, IntLSTM)
    real, (hr, cr) = iq.lstm(x)
    # rare flips of one int4 step in h are allowed; the bulk must agree to float rounding
    diff = (real - fake).abs()
    assert float(diff.median()) < 1e-6
    assert float((diff > 1e-4).float().mean()) < 0.01
    assert torch.allclose(cr, cf, atol=0.05)


@pytest.mark.parametrize("recipe_path", RECIPES)
def test_converted_rnnt_matches_the_fake_quant_rnnt(recipe_path):
    torch.manual_seed(2)
    cfg = ModelConfig(enc_layers=2, enc_units=24, pred_embed=8, pred_units=24, joint_dim=16)
    model = Transducer(cfg).eval()
    feats, lens, toks = torch.randn(2, 48, cfg.features.dim), torch.tensor([48, 30]), torch.randint(1, 29, (2, 5))
    q = prepare(model, load_recipe(recipe_path)).eval()
    with torch.no_grad(), calibration(q):
        q(feats, lens, toks)
    with torch.no_grad():
        fake, _ = q(feats, lens, toks)
        real, _ = convert(q, "int")(feats, lens, toks)
    assert float((real - fake).abs().max()) < 1e-3 * float(fake.abs().max())


@settings(max_examples=40, deadline=None)
@given(bits=st.sampled_from([2, 3, 4, 5, 8]), signed=st.booleans(), n=st.integers(1, 300), seed=st.integers(0, 999))
def test_pack_unpack_round_trip(bits, signed, n, seed):
    g = torch.Generator().manual_seed(seed)
    lo, hi = (-(2 ** (bits - 1)) + 1, 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    codes = torch.randint(lo, hi + 1, (n,), generator=g)
    packed = pack_codes(codes, bits)
    per_byte = 4 if bits <= 2 else 2 if bits <= 4 else 1
    assert packed.dtype == torch.uint8 and packed.numel() == -(-n // per_byte)
    assert torch.equal(unpack_codes(packed, bits, n, signed).long(), codes)


def test_int4_nibbles_are_low_first_twos_complement():
    assert pack_codes(torch.tensor([1, -1, -7, 7]), 4).tolist() == [0xF1, 0x79]


def test_export_of_the_int4_recipe_compresses_about_8x_and_accounts_every_parameter():
    torch.manual_seed(3)
    cfg = ModelConfig(enc_layers=2, enc_units=64, pred_embed=32, pred_units=64, joint_dim=64)
    model = Transducer(cfg)
    _, _, rep4 = build_export(convert(prepare(model, load_recipe("recipes/int4.yaml")), "int"), model.num_params())
    _, _, rep8 = build_export(convert(prepare(model, load_recipe("recipes/int8.yaml")), "int"), model.num_params())
    assert 7.3 < rep4.ratio < 8.0
    assert 3.8 < rep8.ratio < 4.0
    with pytest.raises(ValueError, match="export covers"):
        build_export(convert(prepare(model, load_recipe("recipes/int4.yaml")), "int"), model.num_params() + 1)


def test_act_codes_of_an_unsigned_pact_grid():
    a = ActQ(scale=0.1, zero=0.0, bits=4, symmetric=False)
    assert a.codes(torch.tensor([-1.0, 0.04, 0.06, 9.0])).tolist() == [0, 0, 1, 15]
    w = IntWeight(torch.tensor([[0.5, -0.25]]), prepare(nn.Sequential(nn.Linear(2, 1)), load_recipe("recipes/int4.yaml"))[0].weight_q)
    assert w.codes.tolist() == [[7, -3]] and w.per_channel  # a row flatter than uniform: SAWB clip = max|w|
