"""Integer inference: int4/int8 codes held in int8 tensors, products summed in int32, scales applied after.

``convert(prepared_model, "int")`` freezes every fake-quantized module into one of these. A matmul whose
activation and weight quantizers are both integer runs as::

    acc = (q_x - z_x) @ (q_w - z_w)^T        # int32 accumulation of exact integer products
    y   = acc * (s_x * s_w) + b              # float (FP16/FP32 on the accelerator), per output channel

which equals the fake-quant model's ``x_hat @ w_hat^T + b`` up to float summation order: the tests prove the
fake-quant simulation is the real integer arithmetic. INT4 x INT4 products over K <= 2^15 inputs fit int32
(|acc| <= 49 K). Locations that a recipe leaves float (or FP16/FP8-emulated) run in float here too.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as tf
from torch import nn

from asr.quant import functional as F
from asr.quant.linear import QuantEmbedding, QuantLinear
from asr.quant.lstm import QuantLSTM, repack_output, reverse_padded, unpack_input
from asr.quant.quantizers import FloatQuantizer, IntQuantizer


@dataclass(frozen=True)
class ActQ:
    """Frozen activation quantizer: integer grid (scale, zero, bits, symmetric) or float format ``fmt``."""

    scale: float = 1.0
    zero: float = 0.0
    bits: int = 0
    symmetric: bool = True
    fmt: str | None = None

    @classmethod
    def from_module(cls, q: nn.Module) -> "ActQ | None":
        if isinstance(q, FloatQuantizer):
            return cls(fmt=q.cfg.fmt)
        if isinstance(q, IntQuantizer):
            lo, hi = q.act_range()
            scale, zero = F.qparams(lo.detach().float(), hi.detach().float(), q.bits, q.symmetric)
            return cls(float(scale), float(zero), q.bits, q.symmetric)
        return None

    def codes(self, x: torch.Tensor) -> torch.Tensor:
        """Zero-point-removed integer codes ``q - z`` as int32 (values fit int8 / int9)."""
        q = F.quantize(x, torch.tensor(self.scale), torch.tensor(self.zero), self.bits, self.symmetric)
        return (q - self.zero).to(torch.int32)

    def codes_float(self, x: torch.Tensor) -> torch.Tensor:
        """The same codes ``q - z`` held in a float32 tensor (exact: |q - z| < 2^9)."""
        q = F.quantize(x, torch.tensor(self.scale), torch.tensor(self.zero), self.bits, self.symmetric)
        return q - self.zero


class IntWeight(nn.Module):
    """A frozen weight (out, in): int codes in an int8 tensor + per-row or per-tensor scale and zero point.

    A weight quantized to a float format (or not quantized) is kept as ``w_float`` instead.
    """

    def __init__(self, w: torch.Tensor, q: nn.Module) -> None:
        super().__init__()
        w = w.detach()
        self.is_int = isinstance(q, IntQuantizer)
        self.bits = q.bits if self.is_int else (q.cfg.storage_bits if isinstance(q, FloatQuantizer) else 32)
        self.symmetric = bool(q.symmetric) if self.is_int else True
        self.per_channel = self.is_int and q.cfg.granularity == "channel"
        if self.is_int:
            lo, hi = q.weight_range(w)
            scale, zero = F.qparams(lo, hi, q.bits, q.symmetric)
            scale = scale.reshape(-1, 1) if self.per_channel else scale.reshape(1, 1)
            zero = zero.reshape(-1, 1) if self.per_channel else zero.reshape(1, 1)
            codes = F.quantize(w.reshape(w.shape[0], -1), scale, zero, q.bits, q.symmetric)
            # (out, in): int8 for symmetric codes (int4 values in int8), uint8 for asymmetric 0..2^b-1
            self.register_buffer("codes", codes.to(torch.int8 if q.symmetric else torch.uint8))
            self.register_buffer("scale", scale.float())  # (out, 1) or (1, 1)
            self.register_buffer("zero", zero.to(torch.int32))  # (out, 1) or (1, 1)
        else:
            self.register_buffer("w_float", q(w) if isinstance(q, FloatQuantizer) else w.clone())

    def centered(self) -> torch.Tensor:
        """``q_w - z_w`` as int32 (out, in)."""
        return self.codes.to(torch.int32) - self.zero

    def centered_t_float(self) -> torch.Tensor:
        """``(q_w - z_w)^T`` (in, out) as float32 integers, cached until the codes or zero points change."""
        key = (self.codes, self.zero)
        cached = getattr(self, "_centered_t", None)
        if cached is None or cached[0][0] is not key[0] or cached[0][1] is not key[1]:
            cached = (key, self.centered().t().float().contiguous())
            object.__setattr__(self, "_centered_t", cached)
        return cached[1]

    def max_code(self) -> int:
        """Largest possible ``abs(q_w - z_w)``: 2^(b-1) - 1 symmetric, 2^b - 1 asymmetric."""
        return (1 << (self.bits - 1)) - 1 if self.symmetric else (1 << self.bits) - 1

    def dequant(self) -> torch.Tensor:
        """Float weight (out, in) exactly as the fake-quant model sees it."""
        if not self.is_int:
            return self.w_float
        return self.centered().float() * self.scale


_FAKE_QUANT_ARITHMETIC = [False]


@contextmanager
def fake_quant_arithmetic():
    """Inside the block every integer matmul computes what fake quantization simulates, ``x_hat @ w_hat^T`` in
    float (dequantized activations and weights), instead of integer codes summed exactly then scaled: the
    reference for checking that the integer path is the arithmetic QAT trained for."""
    _FAKE_QUANT_ARITHMETIC[0] = True
    try:
        yield
    finally:
        _FAKE_QUANT_ARITHMETIC[0] = False


#: Integers up to 2^24 are exact in float32, so are sums of integer products that never exceed it.
FLOAT32_EXACT_INT = 1 << 24


def float_accumulation_exact(k: int, act: ActQ, w: IntWeight) -> bool:
    """True when ``K * max|q_x - z_x| * max|q_w - z_w| <= 2^24``: every partial sum of the integer dot products
    is then an integer that float32 holds exactly, so a float32 matmul returns the int32 result bit for bit."""
    max_x = (1 << (act.bits - 1)) - 1 if act.symmetric else (1 << act.bits) - 1
    return k * max_x * w.max_code() <= FLOAT32_EXACT_INT


def qmatmul(x: torch.Tensor, act: ActQ | None, w: IntWeight) -> torch.Tensor:
    """x (N, K) float -> (N, out) float = Q(x) @ Q(W)^T, integer-exact when both sides are integer.

    The integer accumulation runs in float32 (BLAS) when :func:`float_accumulation_exact` proves it exact
    (every int4 and int8 matmul of the small and paper models), in int32 otherwise; the result is the same.
    """
    if act is not None and act.fmt is None and w.is_int and _FAKE_QUANT_ARITHMETIC[0]:
        return (act.codes_float(x) * act.scale) @ w.dequant().t()
    if act is not None and act.fmt is None and w.is_int:
        if float_accumulation_exact(x.shape[-1], act, w):
            acc = act.codes_float(x) @ w.centered_t_float()  # (N, out) exact integer sums in float32
        else:
            acc = (act.codes(x) @ w.centered().t()).float()  # (N, out) int32 accumulation
        return acc * (act.scale * w.scale.t())
    if act is not None and act.fmt is not None:
        x = F.float_emulate(x, act.fmt)
    elif act is not None:
        x = act.codes(x).float() * act.scale
    return x @ w.dequant().t()


class IntLinear(nn.Module):
    """Frozen :class:`QuantLinear`: (..., in) -> (..., out)."""

    def __init__(self, weight: IntWeight, bias: torch.Tensor | None, act: ActQ | None, wide: bool) -> None:
        super().__init__()
        self.weight, self.act, self.wide = weight, act, wide
        self.register_buffer("bias", None if bias is None else bias.detach().clone())
        self.out_features, self.in_features = weight.dequant().shape

    @classmethod
    def from_quant(cls, m: QuantLinear) -> "IntLinear":
        return cls(IntWeight(m.weight, m.weight_q), m.bias, ActQ.from_module(m.input_q), m.wide)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = qmatmul(x.reshape(-1, x.shape[-1]), self.act, self.weight)
        if self.bias is not None:
            y = y + self.bias
        return y.reshape(*x.shape[:-1], -1)


class IntEmbedding(nn.Module):
    """Frozen :class:`QuantEmbedding`: lookup of integer rows, scaled back to float."""

    def __init__(self, weight: IntWeight, padding_idx: int | None) -> None:
        super().__init__()
        self.weight, self.padding_idx = weight, padding_idx
        self.num_embeddings, self.embedding_dim = weight.dequant().shape

    @classmethod
    def from_quant(cls, m: QuantEmbedding) -> "IntEmbedding":
        return cls(IntWeight(m.weight, m.weight_q), m.padding_idx)

    @torch.no_grad()
    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return tf.embedding(idx, self.weight.dequant())


class IntLSTM(nn.Module):
    """Frozen :class:`QuantLSTM` (same call signature as ``nn.LSTM``), integer matmuls, float gates."""

    def __init__(self, src: QuantLSTM) -> None:
        super().__init__()
        self.hidden_size, self.num_layers, self.batch_first = src.hidden_size, src.num_layers, src.batch_first
        self.bidirectional, self.wide = src.bidirectional, src.wide
        self.input_size = src.input_size
        self.sfx = src._suffixes()
        self.w_ih, self.w_hh = nn.ModuleDict(), nn.ModuleDict()
        self.biases: dict[str, torch.Tensor | None] = {}
        for layer in range(src.num_layers):
            for sfx in self.sfx:
                w_ih, w_hh, b = src.layer_params(layer, sfx)
                key = f"l{layer}{sfx}"
                self.w_ih[key] = IntWeight(w_ih, src.weight_q)
                self.w_hh[key] = IntWeight(w_hh, src.weight_q)
                self.register_buffer(f"bias_{key}", None if b is None else b.detach().clone())
        self.act_in = [ActQ.from_module(q) for q in src.input_q]
        self.act_h = [ActQ.from_module(q) for q in src.hidden_q]

    @classmethod
    def from_quant(cls, m: QuantLSTM) -> "IntLSTM":
        return cls(m)

    @torch.no_grad()
    def forward(self, input, hx=None):
        x, lengths = unpack_input(input, self.batch_first)  # (T, B, F), (B,) or None
        T, B, _ = x.shape
        H, dirs = self.hidden_size, len(self.sfx)
        if hx is None:
            hx = (x.new_zeros(self.num_layers * dirs, B, H), x.new_zeros(self.num_layers * dirs, B, H))
        mask = None
        if lengths is not None:
            mask = (torch.arange(T, device=x.device).unsqueeze(1) < lengths.to(x.device).unsqueeze(0)).unsqueeze(-1)  # (T, B, 1)
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            outs = []
            for d, sfx in enumerate(self.sfx):
                key = f"l{layer}{sfx}"
                bias = getattr(self, f"bias_{key}")
                xp = qmatmul(x.reshape(T * B, -1), self.act_in[layer], self.w_ih[key]).view(T, B, 4 * H)
                if bias is not None:
                    xp = xp + bias
                if d == 1:
                    xp = reverse_padded(xp, lengths)
                k = layer * dirs + d
                h, c = hx[0][k], hx[1][k]
                out = x.new_zeros(T, B, H)
                for t in range(T):
                    g = xp[t] + qmatmul(h, self.act_h[layer], self.w_hh[key])  # (B, 4H)
                    i, f, gg, o = g.chunk(4, dim=1)
                    c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(gg)
                    h_new = torch.sigmoid(o) * torch.tanh(c_new)
                    if mask is None:
                        h, c = h_new, c_new
                        out[t] = h_new
                    else:
                        h, c = torch.where(mask[t], h_new, h), torch.where(mask[t], c_new, c)
                        out[t] = torch.where(mask[t], h_new, 0.0)
                outs.append(reverse_padded(out, lengths) if d == 1 else out)
                h_n.append(h)
                c_n.append(c)
            x = torch.cat(outs, -1) if dirs == 2 else outs[0]
        state = (torch.stack(h_n), torch.stack(c_n))
        return repack_output(x, input, lengths, self.batch_first), state


INT_MODULES = (IntLinear, IntLSTM, IntEmbedding)
