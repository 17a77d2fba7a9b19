"""Fake-quantization arithmetic: integer grids, the straight-through estimator, PACT clip gradients, SAWB.

Conventions (``b`` = bits):

- symmetric: ``L = 2^(b-1) - 1``, ``s = hi / L``, ``q = clamp(round(x / s), -L, L)``, ``x_hat = q * s``
  (2^b - 1 levels, zero exact; int4 -> -7..7).
- asymmetric: ``n = 2^b - 1``, ``s = (hi - lo) / n``, ``z = round(-lo / s)``,
  ``q = clamp(round(x / s) + z, 0, n)``, ``x_hat = (q - z) * s`` (2^b levels, zero exact).

Gradients follow the PACT paper (Choi et al. 2018): ``d x_hat / d x = 1`` inside ``[lo, hi]`` and 0 outside
(straight-through rounding), ``d x_hat / d hi = 1`` where ``x > hi``, ``d x_hat / d lo = 1`` where ``x < lo``.
"""

from __future__ import annotations

import torch

from asr.quant.config import FLOAT_FORMATS

#: SAWB clip coefficients (c1, c2): clip = c1 * sqrt(E[w^2]) + c2 * E[|w|]. 4 bits: IBM's published pair.
#: Other widths: least-squares fit of the MSE-optimal symmetric clip over Gaussian, Laplace, uniform,
#: logistic, Student-t(4) and |N|^1.5 weight distributions (docs/quantization.md, "SAWB coefficients").
SAWB_COEFFS: dict[int, tuple[float, float]] = {
    2: (3.30, -2.54),
    3: (6.54, -5.77),
    4: (12.68, -12.80),
    5: (16.98, -17.48),
    6: (24.06, -25.62),
    7: (33.43, -36.48),
    8: (44.30, -49.13),
}


#: sqrt(E[w^2]) / E[|w|] of a uniform distribution: the flattest shape the SAWB fit covers.
UNIFORM_RMS_OVER_MEAN = 2.0 / 3.0**0.5


def int_range(bits: int, symmetric: bool) -> tuple[int, int]:
    """(qmin, qmax) of the integer grid."""
    if symmetric:
        lim = 2 ** (bits - 1) - 1
        return -lim, lim
    return 0, 2**bits - 1


def qparams(lo: torch.Tensor, hi: torch.Tensor, bits: int, symmetric: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Scale and integer zero point (as float tensors) of the grid covering ``[lo, hi]``.

    ``lo``/``hi`` are scalars or per-channel ``(C, 1)`` tensors; ``hi > lo`` is enforced with a tiny floor.
    """
    qmin, qmax = int_range(bits, symmetric)
    if symmetric:
        scale = hi.abs().clamp_min(1e-8) / qmax
        return scale, torch.zeros_like(scale)
    span = (hi - lo).clamp_min(1e-8)
    scale = span / (qmax - qmin)
    zero = torch.round(-lo / scale).clamp(qmin, qmax)
    return scale, zero


def quantize(x: torch.Tensor, scale: torch.Tensor, zero: torch.Tensor, bits: int, symmetric: bool) -> torch.Tensor:
    """Integer codes of ``x`` (returned as a float tensor holding integers).

    ``x * (1 / scale)`` with the reciprocal in float32, exactly as PyTorch's fused fake-quantize kernels do,
    so the fused training path, this reference and the integer inference path round identically.
    """
    qmin, qmax = int_range(bits, symmetric)
    inv = 1.0 / scale.float()
    return torch.clamp(torch.round(x * inv) + zero, qmin, qmax)


class _FakeQuant(torch.autograd.Function):
    """x_hat = (quantize(x) - z) * s with the STE for x and PACT gradients for the clips."""

    @staticmethod
    def forward(ctx, x, lo, hi, bits: int, symmetric: bool):  # type: ignore[override]
        scale, zero = qparams(lo, hi, bits, symmetric)
        out = (quantize(x, scale, zero, bits, symmetric) - zero) * scale.float()
        ctx.save_for_backward(x, lo, hi)
        ctx.symmetric = symmetric
        return out

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        x, lo, hi = ctx.saved_tensors
        lo_eff = -hi if ctx.symmetric else lo
        below, above = x < lo_eff, x > hi
        grad_x = grad.masked_fill(below | above, 0.0) if ctx.needs_input_grad[0] else None
        grad_lo = grad_hi = None
        if ctx.needs_input_grad[2]:
            grad_hi = _reduce_to(torch.where(above, grad, 0.0), hi.shape)
            if ctx.symmetric:  # hi is the clip of both sides: x < -hi pulls it up with sign -1
                grad_hi = grad_hi - _reduce_to(torch.where(below, grad, 0.0), hi.shape)
        if ctx.needs_input_grad[1]:
            grad_lo = _reduce_to(torch.where(below, grad, 0.0), lo.shape)
        return grad_x, grad_lo, grad_hi, None, None


def _reduce_to(t: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Sum a broadcast gradient back to ``shape`` (scalar or per-channel ``(C, 1)``)."""
    if t.shape == shape:
        return t
    if len(shape) == 0 or shape.numel() == 1:
        return t.sum().reshape(shape)
    # per-channel: channels on dim 0, reduce all other dims
    return t.reshape(t.shape[0], -1).sum(dim=1).reshape(shape)


class _FakeQuantConstRange(torch.autograd.Function):
    """x_hat for a range that takes no gradient: in-place passes on one buffer; STE backward that skips the
    mask entirely when every x lies inside the range (tanh outputs, LSTM h with clip 1)."""

    @staticmethod
    def forward(ctx, x, scale, zero, bits: int, symmetric: bool):  # type: ignore[override]
        qmin, qmax = int_range(bits, symmetric)
        y = torch.mul(x, 1.0 / scale.float())
        y.round_()
        has_zero = bool((zero != 0).any())
        if has_zero:
            y.add_(zero)
        y.clamp_(qmin, qmax)
        if has_zero:
            y.sub_(zero)
        y.mul_(scale.float())
        lo_eff, hi_eff = (qmin - zero) * scale, (qmax - zero) * scale
        if scale.numel() == 1:
            xmin, xmax = torch.aminmax(x)
            inside = bool(xmin >= lo_eff.reshape(())) and bool(xmax <= hi_eff.reshape(()))
        else:
            inside = False
        ctx.save_for_backward(None if inside else ((x >= lo_eff) & (x <= hi_eff)))
        return y

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        (mask,) = ctx.saved_tensors
        return (grad if mask is None else torch.where(mask, grad, 0.0)), None, None, None, None


def fake_quant(x: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, bits: int, symmetric: bool) -> torch.Tensor:
    """Fake-quantize ``x`` to the ``bits``-bit grid over ``[lo, hi]`` (``lo`` unused when symmetric).

    A range that takes no gradient (fixed, SAWB, min-max, percentile) uses a lean constant-range kernel (the
    joint's (B, T, U, J) tensor makes every extra pass cost ~2 % of an FP32 step); learnable PACT clips go
    through :class:`_FakeQuant` for the PACT gradients. Both give identical values.
    """
    if lo.requires_grad or hi.requires_grad:
        return _FakeQuant.apply(x, lo, hi, bits, symmetric)
    scale, zero = qparams(lo.detach(), hi.detach(), bits, symmetric)
    return _FakeQuantConstRange.apply(x, scale, zero, bits, symmetric)


def sawb_clip(w: torch.Tensor, bits: int, per_channel: bool) -> torch.Tensor:
    """SAWB clip of a weight ``(out, in)``: scalar, or ``(out, 1)`` per output channel. No gradient.

    Falls back to max|w| where the formula is not positive, and never exceeds max|w|. The linear formula is
    fitted on distributions from uniform to heavy-tailed, i.e. ``sqrt(E[w^2]) / E[|w|] >= 2 / sqrt(3)``; a row
    flatter than uniform (e.g. weights clustered near +-c, seen in an RNN-T's blank row) would extrapolate to
    a collapsing clip (8 bits: 0.1 max|w|), so such rows also use max|w|, the right clip for a flat row.
    """
    c1, c2 = SAWB_COEFFS[bits]
    with torch.no_grad():
        a = w.detach().abs().reshape(w.shape[0], -1) if per_channel else w.detach().abs().reshape(1, -1)
        rms, mean = a.pow(2).mean(dim=1, keepdim=True).sqrt(), a.mean(dim=1, keepdim=True)
        clip = c1 * rms + c2 * mean
        amax = a.amax(dim=1, keepdim=True).clamp_min(1e-8)
        in_family = (clip > 0) & (rms >= UNIFORM_RMS_OVER_MEAN * mean)
        clip = torch.where(in_family, torch.minimum(clip, amax), amax)
    return clip if per_channel else clip.reshape(())


def abs_percentile(x: torch.Tensor, pct: float, per_channel: bool) -> torch.Tensor:
    """The ``pct`` percentile of |x| (scalar, or ``(C, 1)`` over rows when ``per_channel``)."""
    with torch.no_grad():
        a = x.detach().abs().reshape(x.shape[0], -1) if per_channel else x.detach().abs().reshape(1, -1)
        k = max(1, min(a.shape[1], int(round(pct / 100.0 * a.shape[1]))))
        v = a.amax(dim=1, keepdim=True) if k == a.shape[1] else a.kthvalue(k, dim=1, keepdim=True).values
        v = v.clamp_min(1e-8)
    return v if per_channel else v.reshape(())


_TORCH_FLOAT = {"fp16": torch.float16, "fp8_e4m3": torch.float8_e4m3fn, "fp8_e5m2": torch.float8_e5m2}


def float_emulate(x: torch.Tensor, fmt: str) -> torch.Tensor:
    """Round ``x`` to the float format (nearest even), saturating at its largest finite value; STE gradient."""
    if fmt not in FLOAT_FORMATS:
        raise ValueError(f"unknown float format {fmt!r}")
    dtype = _TORCH_FLOAT[fmt]
    fmax = torch.finfo(dtype).max
    with torch.no_grad():
        y = x.clamp(-fmax, fmax).to(dtype).to(x.dtype)
    return x + (y - x).detach()
