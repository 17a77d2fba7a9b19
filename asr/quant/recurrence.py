"""The LSTM time recurrence with a hand-written backward (BPTT), for QAT at near-FP32 cost.

Only the recurrent half ``Q(h_{t-1}) @ W_hh^T`` lives here: the input projection over all frames is one
matmul done by the caller. Both directions of a bidirectional layer advance together (a batched matmul per
step), so the Python loop runs T times per layer, not 2T. Autograd would record ~15 nodes per step; this
Function records one per layer and its backward is a loop of ~7 ops per step (everything that does not
depend on the recurrence is computed for all frames at once), plus ONE batched matmul for ``dW_hh``.

The fed-back hidden state is fake-quantized with a range that is constant over the sequence
(:class:`HQuant`: fixed clip, frozen min-max/percentile range, float emulation or none); its gradient is the
straight-through estimator (1 inside the range, 0 outside). Gate nonlinearities and the cell state stay
float (FP16 on the accelerator; its rounding is far below the INT4 noise).

Shapes: T frames, D directions (1 or 2), B batch, H cells. ``xp``: (T, D, B, 4H) input projections incl.
both biases, gate order i, f, g, o as in ``torch.nn.LSTM``, direction 1 already time-reversed per sequence.
``w_hh``: (D, 4H, H). ``h0``, ``c0``: (D, B, H). ``mask``: (T, B, 1), 1.0 on valid frames (valid first).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class HQuant:
    """Constant fake-quantization of the fed-back hidden state: kind "none", "int" or "float"."""

    kind: str = "none"
    scale: float = 1.0
    inv_scale: float = 1.0  # float32(1 / float32(scale)), as the fused fake-quantize kernels use
    zero: float = 0.0
    qmin: float = 0.0
    qmax: float = 0.0
    dtype: torch.dtype | None = None

    def apply(self, h: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        """Fake-quantized ``h`` (written into ``out`` when given)."""
        if self.kind == "int":
            q = torch.round(h * self.inv_scale)
            if self.zero:
                q.add_(self.zero).clamp_(self.qmin, self.qmax).sub_(self.zero)
            elif not (self.covers_lstm_range and self.qmax * self.scale >= 1):
                q.clamp_(self.qmin, self.qmax)  # |h| < 1 never leaves a grid that covers [-1, 1]
            return torch.mul(q, self.scale, out=out) if out is not None else q.mul_(self.scale)
        if self.kind == "float":
            fmax = torch.finfo(self.dtype).max
            y = h.clamp(-fmax, fmax).to(self.dtype).to(h.dtype)
        else:
            y = h
        return out.copy_(y) if out is not None else y

    @classmethod
    def int_grid(cls, scale: float, zero: float, qmin: float, qmax: float) -> "HQuant":
        inv = float(1.0 / torch.tensor(scale, dtype=torch.float32))
        return cls(kind="int", scale=scale, inv_scale=inv, zero=zero, qmin=qmin, qmax=qmax)

    @property
    def covers_lstm_range(self) -> bool:
        """True when the grid's range contains [-1, 1], where every LSTM h = o * tanh(c) lies."""
        return self.kind != "int" or ((self.qmin - self.zero) * self.scale <= -1 and (self.qmax - self.zero) * self.scale >= 1)

    def ste_mask(self, h: torch.Tensor) -> torch.Tensor | None:
        """1.0 where the gradient passes (inside the range); None when it passes everywhere."""
        if self.kind != "int":
            return None
        lo, hi = (self.qmin - self.zero) * self.scale, (self.qmax - self.zero) * self.scale
        return ((h >= lo) & (h <= hi)).to(h.dtype)


class _LSTMRecurrence(torch.autograd.Function):
    @staticmethod
    def forward(ctx, xp, w_hh, h0, c0, mask, hq: HQuant):  # type: ignore[override]
        T, D, B, G = xp.shape
        H = G // 4
        w_t = w_hh.transpose(1, 2)  # (D, H, 4H)
        out = xp.new_empty(T, D, B, H)
        acts = xp.new_empty(T, D, B, G)  # sigmoid of all four gates (the g slice unused)
        gts = xp.new_empty(T, D, B, H)  # tanh(g): its own contiguous buffer, no strided writes
        cs = xp.new_empty(T + 1, D, B, H)  # cs[t + 1]: cell state carried after step t
        tcs = xp.new_empty(T, D, B, H)  # tanh of the new cell state of step t
        hqs = xp.new_empty(T, D, B, H)  # quantized h_{t-1} fed into step t
        # h_{t-1} before quantization, kept for the STE mask unless the grid covers all of (-1, 1)
        hs = None if hq.covers_lstm_range else xp.new_empty(T, D, B, H)
        m_all = None if mask is None else mask.unsqueeze(1)  # (T, 1, B, 1)
        h = h0
        cs[0] = c0
        for t in range(T):
            if hs is not None:
                hs[t] = h
            hq.apply(h, out=hqs[t])
            g = torch.baddbmm(xp[t], hqs[t], w_t)  # (D, B, 4H)
            a = acts[t]
            torch.sigmoid(g, out=a)
            torch.tanh(g[..., 2 * H:3 * H], out=gts[t])
            if m_all is None:
                torch.addcmul(a[..., H:2 * H] * cs[t], a[..., :H], gts[t], out=cs[t + 1])
                torch.tanh(cs[t + 1], out=tcs[t])
                h = torch.mul(a[..., 3 * H:], tcs[t], out=out[t])
            else:
                m = m_all[t]
                c_new = torch.addcmul(a[..., H:2 * H] * cs[t], a[..., :H], gts[t])
                torch.tanh(c_new, out=tcs[t])
                h_new = a[..., 3 * H:] * tcs[t]
                torch.lerp(cs[t], c_new, m, out=cs[t + 1])
                torch.mul(h_new, m, out=out[t])
                h = torch.lerp(h, h_new, m)
        ctx.save_for_backward(w_hh, acts, gts, cs, tcs, hqs, hs, mask)
        ctx.hq = hq
        return out, (h.clone() if m_all is None else h), cs[T].clone()

    @staticmethod
    def backward(ctx, d_out, d_hT, d_cT):  # type: ignore[override]
        w_hh, acts, g, cs, tcs, hqs, hs, mask = ctx.saved_tensors
        T, D, B, G = acts.shape
        H = G // 4
        i, f, o = acts[..., :H], acts[..., H:2 * H], acts[..., 3 * H:]
        # every factor that does not depend on the recurrence, for all frames at once
        coef_c = o * (1 - tcs * tcs)  # d c_new / d h_new
        coef_o = tcs * o * (1 - o)  # d o_pre / d h_new
        coef_ifg = torch.stack([g * i * (1 - i), cs[:-1] * f * (1 - f), i * (1 - g * g)], dim=-2)  # (T, D, B, 3, H)
        ste = ctx.hq.ste_mask(hs) if hs is not None else None
        if ste is not None and bool(ste.all()):
            ste = None
        d_xp = acts.new_empty(T, D, B, G)
        dh = d_hT.clone() if d_hT is not None else acts.new_zeros(D, B, H)
        dc = d_cT.clone() if d_cT is not None else acts.new_zeros(D, B, H)
        d_out = d_out if d_out is not None else acts.new_zeros(T, D, B, H)
        m_all = None if mask is None else mask.unsqueeze(1)  # (T, 1, B, 1)
        for t in range(T - 1, -1, -1):
            dg = d_xp[t]
            dh_new = dh + d_out[t]
            if m_all is not None:
                m = m_all[t]
                dh_new = dh_new * m
                dc_new = torch.addcmul(dc * m, dh_new, coef_c[t])
            else:
                dc_new = torch.addcmul(dc, dh_new, coef_c[t])
            torch.mul(dc_new.unsqueeze(-2), coef_ifg[t], out=dg[..., :3 * H].view(D, B, 3, H))
            torch.mul(dh_new, coef_o[t], out=dg[..., 3 * H:])
            dh_prev = torch.bmm(dg, w_hh)  # (D, B, H)
            if ste is not None:
                dh_prev = dh_prev * ste[t]
            dc_prev = dc_new * f[t]
            if m_all is not None:
                keep = 1 - m
                dh_prev = dh_prev + keep * dh
                dc_prev = dc_prev + keep * dc
            dh, dc = dh_prev, dc_prev
        # (D, 4H, T*B) @ (D, T*B, H): one batched matmul over all frames
        d_w = torch.bmm(d_xp.permute(1, 3, 0, 2).reshape(D, G, T * B), hqs.permute(1, 0, 2, 3).reshape(D, T * B, H))
        return d_xp, d_w, dh, dc, None, None


def lstm_recurrence(xp: torch.Tensor, w_hh: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor,
                    mask: torch.Tensor | None, hq: HQuant) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Run the recurrence: out (T, D, B, H) (zero on masked frames), h_T (D, B, H), c_T (D, B, H)."""
    return _LSTMRecurrence.apply(xp.contiguous(), w_hh, h0.contiguous(), c0.contiguous(), mask, hq)


def lstm_recurrence_autograd(xp, w_hh, h0, c0, mask, hquant) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Reference recurrence recorded by autograd (same shapes); ``hquant`` is any callable, e.g. a PACT module."""
    T = xp.shape[0]
    H = w_hh.shape[2]
    w_t = w_hh.transpose(1, 2)
    h, c, outs = h0, c0, []
    for t in range(T):
        g = torch.baddbmm(xp[t], hquant(h), w_t)  # (D, B, 4H)
        i, f, o = torch.sigmoid(g[..., :H]), torch.sigmoid(g[..., H:2 * H]), torch.sigmoid(g[..., 3 * H:])
        c_new = f * c + i * torch.tanh(g[..., 2 * H:3 * H])
        h_new = o * torch.tanh(c_new)
        if mask is None:
            h, c = h_new, c_new
            outs.append(h_new)
        else:
            m = mask[t].unsqueeze(0)  # (1, B, 1)
            h, c = torch.lerp(h, h_new, m), torch.lerp(c, c_new, m)
            outs.append(h_new * m)
    return torch.stack(outs), h, c
