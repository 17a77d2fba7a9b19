"""The LSTM time recurrence with a hand-written backward (BPTT), for QAT at near-FP32 cost.

Only the recurrent half ``h_{t-1} @ W_hh^T`` lives here: the input projection over all frames is one matmul
done by the caller. Autograd would record ~15 nodes per time step; this Function records one per sequence
and runs the backward as a tight loop plus ONE matmul for ``dW_hh``.

The hidden state fed back is fake-quantized with a range that is constant over the sequence
(:class:`HQuant`: fixed clip, frozen min-max/percentile range, float emulation or none). Its gradient is the
straight-through estimator (1 inside the range, 0 outside). Gate nonlinearities and the cell state stay float
(they run in FP16 on the accelerator; the FP16 rounding is far below the INT4 noise).

Shapes: T frames, B batch, H cells. ``xp``: (T, B, 4H) input projection incl. both biases, gate order
i, f, g, o as in ``torch.nn.LSTM``. ``mask``: (T, B, 1), 1.0 on valid frames (valid frames first).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class HQuant:
    """Constant fake-quantization of the fed-back hidden state: kind "none", "int" or "float"."""

    kind: str = "none"
    scale: float = 1.0
    zero: float = 0.0
    qmin: float = 0.0
    qmax: float = 0.0
    dtype: torch.dtype | None = None

    def apply(self, h: torch.Tensor) -> torch.Tensor:
        if self.kind == "int":
            return (torch.clamp(torch.round(h / self.scale) + self.zero, self.qmin, self.qmax) - self.zero) * self.scale
        if self.kind == "float":
            fmax = torch.finfo(self.dtype).max
            return h.clamp(-fmax, fmax).to(self.dtype).to(h.dtype)
        return h

    def ste_mask(self, h: torch.Tensor) -> torch.Tensor | None:
        """1.0 where the gradient passes (inside the range); None when it passes everywhere."""
        if self.kind != "int":
            return None
        lo, hi = (self.qmin - self.zero) * self.scale, (self.qmax - self.zero) * self.scale
        return ((h >= lo) & (h <= hi)).to(h.dtype)


class _LSTMRecurrence(torch.autograd.Function):
    @staticmethod
    def forward(ctx, xp, w_hh, h0, c0, mask, hq: HQuant):  # type: ignore[override]
        T, B, G = xp.shape
        H = G // 4
        w_t = w_hh.t()
        out = xp.new_empty(T, B, H)
        acts = xp.new_empty(T, B, G)  # sigmoid(i, f, -, o) and tanh(g)
        cs = xp.new_empty(T + 1, B, H)  # cs[t + 1]: cell state after step t
        hqs = xp.new_empty(T, B, H)  # quantized h_{t-1} fed into step t
        ste = xp.new_empty(T, B, H) if hq.kind == "int" else None
        h, c = h0, c0
        cs[0] = c0
        for t in range(T):
            hqs[t] = hq.apply(h)
            if ste is not None:
                ste[t] = hq.ste_mask(h)
            g = torch.addmm(xp[t], hqs[t], w_t)  # (B, 4H)
            a = acts[t]
            torch.sigmoid(g, out=a)
            a[:, 2 * H:3 * H] = torch.tanh(g[:, 2 * H:3 * H])
            c_new = a[:, H:2 * H] * c + a[:, :H] * a[:, 2 * H:3 * H]
            h_new = a[:, 3 * H:] * torch.tanh(c_new)
            if mask is None:
                h, c = h_new, c_new
                out[t] = h_new
            else:
                m = mask[t]
                c = torch.lerp(c, c_new, m)
                h = torch.lerp(h, h_new, m)
                torch.mul(h_new, m, out=out[t])
            cs[t + 1] = c
        ctx.save_for_backward(w_hh, acts, cs, hqs, ste, mask)
        return out, h, c

    @staticmethod
    def backward(ctx, d_out, d_hT, d_cT):  # type: ignore[override]
        w_hh, acts, cs, hqs, ste, mask = ctx.saved_tensors
        T, B, G = acts.shape
        H = G // 4
        d_xp = acts.new_empty(T, B, G)
        dh = d_hT.clone() if d_hT is not None else acts.new_zeros(B, H)
        dc = d_cT.clone() if d_cT is not None else acts.new_zeros(B, H)
        d_out = d_out if d_out is not None else acts.new_zeros(T, B, H)
        for t in range(T - 1, -1, -1):
            a = acts[t]
            i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
            tc = torch.tanh(cs[t + 1])  # equals tanh(c_new) wherever the mask is 1
            dh_new = dh + d_out[t]
            if mask is not None:
                m = mask[t]
                dh_new = dh_new * m
                dc_new = dc * m + dh_new * o * (1 - tc * tc)
            else:
                dc_new = dc + dh_new * o * (1 - tc * tc)
            dg = d_xp[t]
            torch.mul(dc_new * g, i * (1 - i), out=dg[:, :H])
            torch.mul(dc_new * cs[t], f * (1 - f), out=dg[:, H:2 * H])
            torch.mul(dc_new * i, 1 - g * g, out=dg[:, 2 * H:3 * H])
            torch.mul(dh_new * tc, o * (1 - o), out=dg[:, 3 * H:])
            dh_prev = dg @ w_hh  # (B, H)
            if ste is not None:
                dh_prev = dh_prev * ste[t]
            dc_prev = dc_new * f
            if mask is not None:
                keep = 1 - m
                dh_prev = dh_prev + keep * dh
                dc_prev = dc_prev + keep * dc
            dh, dc = dh_prev, dc_prev
        d_w = d_xp.reshape(T * B, G).t() @ hqs.reshape(T * B, H)  # (4H, H): one matmul for all frames
        return d_xp, d_w, dh, dc, None, None


def lstm_recurrence(xp: torch.Tensor, w_hh: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor,
                    mask: torch.Tensor | None, hq: HQuant) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Run the recurrence: returns out (T, B, H) (zero on masked frames), h_T (B, H), c_T (B, H)."""
    return _LSTMRecurrence.apply(xp.contiguous(), w_hh, h0, c0, mask, hq)


def lstm_recurrence_autograd(xp, w_hh, h0, c0, mask, hquant) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Reference recurrence recorded by autograd; ``hquant`` is any callable (e.g. a learnable PACT quantizer)."""
    T = xp.shape[0]
    H = w_hh.shape[1]
    h, c, outs = h0, c0, []
    for t in range(T):
        g = xp[t] + hquant(h) @ w_hh.t()
        i, f, o = torch.sigmoid(g[:, :H]), torch.sigmoid(g[:, H:2 * H]), torch.sigmoid(g[:, 3 * H:])
        c_new = f * c + i * torch.tanh(g[:, 2 * H:3 * H])
        h_new = o * torch.tanh(c_new)
        if mask is None:
            h, c = h_new, c_new
            outs.append(h_new)
        else:
            m = mask[t]
            h, c = torch.lerp(h, h_new, m), torch.lerp(c, c_new, m)
            outs.append(h_new * m)
    return torch.stack(outs), h, c
