"""Quantized LSTM, a drop-in for ``torch.nn.LSTM`` (any layers, uni/bidirectional, batch_first, packed input).

Per layer: the input ``x`` and the weights are fake-quantized, then the input projection of ALL frames and
both directions is one matmul ``(T*B, F) @ (F, 2*4H)``; the recurrence ``Q(h_{t-1}) @ Q(W_hh)^T`` runs in
:mod:`asr.quant.recurrence` (hand-written BPTT) whenever the hidden-state quantizer has a range that is fixed
over a sequence, else in an autograd loop. Gates and cell state stay float (FP16 on the accelerator).
Parameter names equal ``nn.LSTM``'s (``weight_ih_l0_reverse`` ...): state dicts are interchangeable.
"""

from __future__ import annotations

import torch
import torch.nn.functional as tf
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from asr.quant import functional as F
from asr.quant.config import QuantConfig
from asr.quant.linear import quantized_weight, quantizer_or_identity
from asr.quant.quantizers import FloatQuantizer, IntQuantizer
from asr.quant.recurrence import HQuant, lstm_recurrence, lstm_recurrence_autograd

_FLOAT_DTYPES = {"fp16": torch.float16, "fp8_e4m3": torch.float8_e4m3fn, "fp8_e5m2": torch.float8_e5m2}


def unpack_input(input, batch_first: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """An LSTM input (PackedSequence, or a padded tensor) as time-major ``x`` (T, B, F) and lengths (B,) or None."""
    if isinstance(input, PackedSequence):
        return pad_packed_sequence(input)  # original batch order
    return (input.transpose(0, 1) if batch_first else input), None


def repack_output(x: torch.Tensor, input, lengths: torch.Tensor | None, batch_first: bool):
    """The layer output ``x`` (T, B, D*H) in the form of ``input``: a PackedSequence like it, or padded."""
    if isinstance(input, PackedSequence):
        order = input.sorted_indices
        xs = x if order is None else x.index_select(1, order)
        lens = lengths if order is None else lengths.index_select(0, order.cpu())
        data = pack_padded_sequence(xs, lens, enforce_sorted=True).data
        return PackedSequence(data, input.batch_sizes, input.sorted_indices, input.unsorted_indices)
    return x.transpose(0, 1) if batch_first else x


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    """Reverse each sequence of ``x`` (T, B, ...) within its own length; padding stays at the end."""
    if lengths is None:
        return x.flip(0)
    T = x.shape[0]
    t = torch.arange(T, device=x.device).unsqueeze(1)  # (T, 1)
    lens = lengths.to(device=x.device, dtype=torch.long).unsqueeze(0)  # (1, B)
    idx = torch.where(t < lens, lens - 1 - t, t)  # (T, B)
    idx = idx.reshape(T, -1, *([1] * (x.dim() - 2))).expand_as(x)
    return x.gather(0, idx)


def hidden_quant_mode(q: nn.Module) -> HQuant | None:
    """The constant-range description of a hidden-state quantizer, or None when its range is learnable."""
    if isinstance(q, nn.Identity):
        return HQuant()
    if isinstance(q, FloatQuantizer):
        return HQuant(kind="float", dtype=_FLOAT_DTYPES[q.cfg.fmt])
    if isinstance(q, IntQuantizer) and q.cfg.method in ("fixed", "minmax", "percentile") and not q.calibrating:
        if not bool(q.initialized):
            return None
        lo, hi = q.act_range()
        scale, zero = F.qparams(lo.detach(), hi.detach(), q.bits, q.symmetric)
        qmin, qmax = F.int_range(q.bits, q.symmetric)
        return HQuant.int_grid(float(scale), float(zero), float(qmin), float(qmax))
    return None


class QuantLSTM(nn.Module):
    """``nn.LSTM`` with quantized matmul inputs (x, h) and weights; see the module docstring."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 weight_cfg: QuantConfig | None = None, input_cfg: QuantConfig | None = None,
                 hidden_cfg: QuantConfig | None = None, wide: bool = False, where: str = "") -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.wide = bidirectional, wide
        self.weight_cfg, self.input_cfg, self.hidden_cfg = weight_cfg, input_cfg, hidden_cfg
        dirs = 2 if bidirectional else 1
        H = hidden_size
        for layer in range(num_layers):
            fan_in = input_size if layer == 0 else H * dirs
            for sfx in self._suffixes():
                sfx = f"l{layer}{sfx}"
                setattr(self, f"weight_ih_{sfx}", nn.Parameter(torch.empty(4 * H, fan_in)))
                setattr(self, f"weight_hh_{sfx}", nn.Parameter(torch.empty(4 * H, H)))
                if bias:
                    setattr(self, f"bias_ih_{sfx}", nn.Parameter(torch.zeros(4 * H)))
                    setattr(self, f"bias_hh_{sfx}", nn.Parameter(torch.zeros(4 * H)))
        self.weight_q = quantizer_or_identity(weight_cfg, "weight", f"{where}.weight")
        # layer 0 reads the module input; deeper layers read LSTM outputs, bounded like h
        self.input_q = nn.ModuleList(
            [quantizer_or_identity(input_cfg if layer == 0 else hidden_cfg, "act", f"{where}.input")
             for layer in range(num_layers)])
        self.hidden_q = nn.ModuleList(
            [quantizer_or_identity(hidden_cfg, "act", f"{where}.hidden") for _ in range(num_layers)])

    def _suffixes(self) -> tuple[str, ...]:
        return ("", "_reverse") if self.bidirectional else ("",)

    # ------------------------------------------------------------ round trip
    @classmethod
    def from_float(cls, mod: nn.LSTM, weight_cfg, input_cfg, hidden_cfg, wide: bool = False,
                   where: str = "") -> "QuantLSTM":
        if mod.proj_size:
            raise ValueError(f"{where}: nn.LSTM with proj_size={mod.proj_size} is not supported by QuantLSTM")
        q = cls(mod.input_size, mod.hidden_size, mod.num_layers, mod.bias, mod.batch_first, mod.dropout,
                mod.bidirectional, weight_cfg, input_cfg, hidden_cfg, wide, where)
        for name, p in mod.named_parameters():
            setattr(q, name, p)
        return q

    def to_float(self) -> nn.LSTM:
        lstm = nn.LSTM(self.input_size, self.hidden_size, self.num_layers, bias=self.bias,
                       batch_first=self.batch_first, dropout=self.dropout, bidirectional=self.bidirectional)
        for name, _ in lstm.named_parameters():
            setattr(lstm, name, getattr(self, name))
        lstm.flatten_parameters()
        return lstm

    def layer_params(self, layer: int, sfx: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(W_ih (4H, F), W_hh (4H, H), b_ih + b_hh (4H,) or None) of one layer/direction, float."""
        s = f"l{layer}{sfx}"
        b = getattr(self, f"bias_ih_{s}") + getattr(self, f"bias_hh_{s}") if self.bias else None
        return getattr(self, f"weight_ih_{s}"), getattr(self, f"weight_hh_{s}"), b

    # --------------------------------------------------------------- forward
    def forward(self, input, hx=None):
        x, lengths = unpack_input(input, self.batch_first)  # (T, B, F), (B,) or None
        T, B, _ = x.shape
        dirs, H = len(self._suffixes()), self.hidden_size
        if hx is None:
            h0 = x.new_zeros(self.num_layers * dirs, B, H)
            c0 = x.new_zeros(self.num_layers * dirs, B, H)
        else:
            h0, c0 = hx
        mask = None
        if lengths is not None and int(lengths.min()) < T:
            mask = (torch.arange(T, device=x.device).unsqueeze(1) < lengths.to(x.device).unsqueeze(0)).to(x.dtype).unsqueeze(-1)  # (T, B, 1)
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            xq = self.input_q[layer](x)  # (T, B, F)
            params = [self.layer_params(layer, sfx) for sfx in self._suffixes()]
            w_ih = torch.cat([quantized_weight(self, self.weight_q, p[0], f"ih{layer}{d}") for d, p in enumerate(params)], 0)
            # (dirs*4H, F): each direction quantized on its own
            bias = torch.cat([p[2] for p in params], 0) if self.bias else None
            # ONE matmul: the input projection of every frame, both directions
            xp = tf.linear(xq.reshape(T * B, -1), w_ih, bias).view(T, B, dirs, 4 * H).transpose(1, 2)  # (T, D, B, 4H)
            if dirs == 2:  # the backward direction reads each sequence reversed within its length
                xp = torch.stack([xp[:, 0], reverse_padded(xp[:, 1], lengths)], 1)
            w_hh = torch.stack([quantized_weight(self, self.weight_q, p[1], f"hh{layer}{d}") for d, p in enumerate(params)])
            k = slice(layer * dirs, (layer + 1) * dirs)
            out, h, c = self._recur(layer, xp, w_hh, h0[k], c0[k], mask)  # out (T, D, B, H)
            h_n.append(h)
            c_n.append(c)
            if dirs == 2:
                x = torch.cat([out[:, 0], reverse_padded(out[:, 1], lengths)], -1)  # (T, B, 2H)
            else:
                x = out[:, 0]
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                x = tf.dropout(x, self.dropout, training=True)
        state = (torch.cat(h_n), torch.cat(c_n))  # (layers * D, B, H)
        return repack_output(x, input, lengths, self.batch_first), state

    def _recur(self, layer, xp, w_hh, h0, c0, mask):
        hq_mod = self.hidden_q[layer]
        mode = hidden_quant_mode(hq_mod)
        if mode is None:  # learnable range (PACT on h) or calibration: let autograd record the loop
            return lstm_recurrence_autograd(xp, w_hh, h0, c0, mask, hq_mod)
        out, h, c = lstm_recurrence(xp, w_hh, h0, c0, mask, mode)
        if self.training and isinstance(hq_mod, IntQuantizer) and hq_mod.cfg.method != "fixed":
            hq_mod._observe(out.detach() if mask is None else out.detach()[mask.unsqueeze(1).expand_as(out) > 0])
        return out, h, c

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
                f"bidirectional={self.bidirectional}, batch_first={self.batch_first}, wide={self.wide}")
