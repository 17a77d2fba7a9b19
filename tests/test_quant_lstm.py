"""QuantLSTM: drop-in equality with nn.LSTM, round trip, one input-projection matmul, hand-written BPTT."""

import copy

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence
from torch.utils._python_dispatch import TorchDispatchMode

from asr.quant.config import IntQuantConfig
from asr.quant.lstm import QuantLSTM
from asr.quant.recurrence import HQuant, lstm_recurrence, lstm_recurrence_autograd

torch.set_num_threads(1)


def _grads(mod):
    return {n: p.grad.clone() for n, p in mod.named_parameters() if p.grad is not None}


@settings(max_examples=12, deadline=None)
@given(bidirectional=st.booleans(), layers=st.integers(1, 2), packed=st.booleans(), seed=st.integers(0, 999))
def test_unquantized_quantlstm_equals_nn_lstm_outputs_and_gradients(bidirectional, layers, packed, seed):
    torch.manual_seed(seed)
    ref = nn.LSTM(5, 7, num_layers=layers, bidirectional=bidirectional, batch_first=True)
    q = QuantLSTM.from_float(copy.deepcopy(ref), None, None, None)  # own parameters: separate .grad
    x = torch.randn(3, 6, 5)
    inp = pack_padded_sequence(x, torch.tensor([6, 2, 4]), batch_first=True, enforce_sorted=False) if packed else x
    outs = []
    for mod in (ref, q):
        y, (h, c) = mod(inp)
        y = y.data if packed else y
        (y.sum() + 0.3 * h.sum() + 0.2 * c.sum()).backward()
        outs.append((y, h, c, _grads(mod)))
    for a, b in zip(outs[0][:3], outs[1][:3]):
        assert torch.allclose(a, b, atol=1e-5)
    for name, g in outs[0][3].items():
        assert torch.allclose(g, outs[1][3][name], atol=1e-5), name


def test_round_trip_to_and_from_nn_lstm_keeps_parameters_and_names():
    ref = nn.LSTM(4, 6, bidirectional=True, batch_first=True)
    cfg = IntQuantConfig(method="sawb", bits=4, granularity="channel")
    q = QuantLSTM.from_float(ref, cfg, IntQuantConfig(method="pact2", bits=8), IntQuantConfig(method="fixed", bits=4, clip=1.0))
    back = q.to_float()
    assert isinstance(back, nn.LSTM) and back.bidirectional and back.batch_first
    for name, p in ref.state_dict().items():
        assert torch.equal(back.state_dict()[name], p)
        assert torch.equal(q.state_dict()[name], p)  # same parameter names as nn.LSTM


class _CountMatmuls(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.shapes = []
        self.bmm = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func.overloadpacket in (torch.ops.aten.bmm, torch.ops.aten.baddbmm):
            self.bmm += 1
        if func.overloadpacket in (torch.ops.aten.mm, torch.ops.aten.addmm):
            mat = args[1] if func.overloadpacket is torch.ops.aten.addmm else args[0]
            self.shapes.append(tuple(mat.shape))
        return func(*args, **(kwargs or {}))


def test_the_input_projection_over_all_frames_is_one_matmul():
    T, B, F, H = 9, 2, 5, 4
    ref = nn.LSTM(F, H, bidirectional=True, batch_first=True)
    w = IntQuantConfig(method="sawb", bits=4, granularity="channel")
    q = QuantLSTM.from_float(ref, w, IntQuantConfig(method="pact2", bits=8, clip=3.0),
                             IntQuantConfig(method="fixed", bits=4, clip=1.0))
    with torch.no_grad(), _CountMatmuls() as counter:
        q(torch.randn(B, T, F))
    over_frames = [s for s in counter.shapes if s[0] == T * B]
    assert len(over_frames) == 1  # both directions, every frame: one (T*B, F) x (F, 8H) matmul
    assert counter.bmm == T  # the recurrence: one batched (2, B, H) x (2, H, 4H) matmul per frame


@pytest.mark.parametrize("masked", [False, True])
def test_handwritten_bptt_equals_autograd_in_double(masked):
    torch.manual_seed(0)
    T, D, B, H = 5, 2, 3, 4
    xp = torch.randn(T, D, B, 4 * H, dtype=torch.double, requires_grad=True)
    w = (0.5 * torch.randn(D, 4 * H, H, dtype=torch.double)).requires_grad_()
    h0 = (0.3 * torch.randn(D, B, H, dtype=torch.double)).requires_grad_()
    c0 = torch.randn(D, B, H, dtype=torch.double, requires_grad=True)
    lens = torch.tensor([5, 2, 4])
    mask = (torch.arange(T)[:, None] < lens[None]).double().unsqueeze(-1) if masked else None
    hq = HQuant.int_grid(scale=0.4 / 7, zero=0.0, qmin=-7.0, qmax=7.0)  # clip 0.4: some h are clipped

    def ste(h):
        hc = torch.clamp(h, -0.4, 0.4)
        return hc + (hq.apply(h) - hc).detach()

    fast = lstm_recurrence(xp, w, h0, c0, mask, hq)
    slow = lstm_recurrence_autograd(xp, w, h0, c0, mask, ste)
    gouts = [torch.randn_like(o) for o in fast]
    g_fast = torch.autograd.grad(fast, (xp, w, h0, c0), gouts)
    g_slow = torch.autograd.grad(slow, (xp, w, h0, c0), gouts)
    for a, b in zip(fast, slow):
        assert torch.allclose(a, b, atol=1e-12)
    for a, b in zip(g_fast, g_slow):
        assert torch.allclose(a, b, atol=1e-10)


def test_learnable_hidden_quantizer_takes_the_autograd_path_and_learns():
    ref = nn.LSTM(3, 4, batch_first=True)
    q = QuantLSTM.from_float(ref, None, None, IntQuantConfig(method="pact2", bits=4, clip=0.5))
    y, _ = q(torch.randn(2, 5, 3))
    y.sum().backward()
    assert q.hidden_q[0].hi.grad is not None


def test_proj_size_is_refused_with_the_location():
    with pytest.raises(ValueError, match="enc.l9: nn.LSTM with proj_size=2"):
        QuantLSTM.from_float(nn.LSTM(3, 4, proj_size=2), None, None, None, where="enc.l9")
