"""Quantizer modules built from configs: one ``forward(x) -> x_hat`` per tensor location.

Weights compute their range from the weight itself on every call (SAWB, min-max, percentile, fixed).
Activations keep a range in the module: learnable (PACT, PACT2), fixed, or a running estimate (min-max,
percentile) that moves in training and is frozen in eval. ``calibrating = True`` makes an activation quantizer
observe without quantizing; :meth:`IntQuantizer.finish_calibration` then initialises its range.
"""

from __future__ import annotations

import torch
from torch import nn

from asr.errors import ConfigError
from asr.quant import functional as F
from asr.quant.config import FloatQuantConfig, IntQuantConfig, QuantConfig

WEIGHT_METHODS = ("sawb", "minmax", "percentile", "fixed")
ACT_METHODS = ("pact", "pact2", "fixed", "minmax", "percentile")


class IntQuantizer(nn.Module):
    """Uniform integer fake-quantizer for one tensor location.

    role: "weight" (range from the tensor, optionally per output row) or "act" (range held in the module).
    """

    def __init__(self, cfg: IntQuantConfig, role: str, where: str = "") -> None:
        super().__init__()
        allowed = WEIGHT_METHODS if role == "weight" else ACT_METHODS
        if cfg.method not in allowed:
            raise ConfigError(
                f"{where}: method {cfg.method!r} cannot quantize {'a weight' if role == 'weight' else 'an activation'}"
                f" (allowed here: {', '.join(allowed)})"
            )
        if role == "act" and cfg.granularity != "tensor":
            raise ConfigError(f"{where}: activations are quantized per tensor; set granularity: tensor")
        self.cfg, self.role, self.bits, self.symmetric = cfg, role, cfg.bits, cfg.symmetric
        self.calibrating = False
        init_hi = float(cfg.clip) if cfg.clip is not None else 1.0
        if cfg.method == "pact":
            self.hi = nn.Parameter(torch.tensor(init_hi))
            self.register_buffer("lo", torch.tensor(0.0))
        elif cfg.method == "pact2":
            self.hi = nn.Parameter(torch.tensor(init_hi))
            self.lo = nn.Parameter(torch.tensor(-init_hi))
        else:
            self.register_buffer("hi", torch.tensor(init_hi))
            self.register_buffer("lo", torch.tensor(-init_hi))
        # calibration / running-range statistics: sums of batch minima and maxima and their count
        self.register_buffer("initialized", torch.tensor(cfg.clip is not None or cfg.method == "fixed"))
        self.register_buffer("obs", torch.zeros(3))  # (sum of batch lo, sum of batch hi, batches)

    # ----------------------------------------------------------------- ranges
    def _batch_range(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = x.detach()
        if self.cfg.method == "percentile":
            hi = F.abs_percentile(x.reshape(1, -1), self.cfg.percentile, per_channel=False)
            return -hi, hi
        return x.min(), x.max()

    def weight_range(self, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(lo, hi) for weight ``w`` of shape (out, ...): scalars or ``(out, 1)`` per channel."""
        per_ch = self.cfg.granularity == "channel"
        m = self.cfg.method
        if m == "sawb":
            hi = F.sawb_clip(w, self.bits, per_ch)
            return -hi, hi
        if m == "percentile":
            hi = F.abs_percentile(w, self.cfg.percentile, per_ch)
            return -hi, hi
        if m == "fixed":
            return -self.hi, self.hi
        w2 = w.detach().reshape(w.shape[0], -1) if per_ch else w.detach().reshape(1, -1)
        lo = w2.amin(dim=1, keepdim=True).clamp_max(0.0)  # keep zero representable
        hi = w2.amax(dim=1, keepdim=True).clamp_min(0.0)
        return (lo, hi) if per_ch else (lo.reshape(()), hi.reshape(()))

    def act_range(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(lo, hi) of an activation quantizer as used in forward (learnable clips kept around zero)."""
        if self.cfg.method in ("pact", "pact2"):
            hi = self.hi.clamp(min=1e-4)
            return (self.lo.clamp(max=-1e-4) if self.cfg.method == "pact2" else self.lo), hi
        return self.lo, self.hi

    def _observe(self, x: torch.Tensor) -> None:
        lo, hi = self._batch_range(x)
        with torch.no_grad():
            if self.cfg.method in ("minmax", "percentile") and self.training and bool(self.initialized):
                mom = self.cfg.momentum
                self.lo.mul_(mom).add_((1 - mom) * torch.clamp(lo, max=0.0))
                self.hi.mul_(mom).add_((1 - mom) * torch.clamp(hi, min=0.0))
            else:
                self.obs += torch.stack([lo.float(), hi.float(), torch.tensor(1.0)])

    @torch.no_grad()
    def finish_calibration(self) -> None:
        """Set the range from the observed batches (average batch min / max); keeps a given ``clip``."""
        self.calibrating = False
        n = float(self.obs[2])
        if self.role != "act" or n == 0 or self.cfg.method == "fixed" or self.cfg.clip is not None:
            return
        lo, hi = float(self.obs[0]) / n, float(self.obs[1]) / n
        hi = max(hi, 1e-4)
        lo = min(lo, 0.0)
        if self.cfg.method == "pact2" and lo > -1e-4:
            lo = -1e-4
        self.hi.fill_(hi)
        if self.cfg.method in ("pact2", "minmax", "percentile"):
            self.lo.fill_(-hi if self.symmetric else lo)
        self.initialized.fill_(True)
        self.obs.zero_()

    # ---------------------------------------------------------------- forward
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.role == "weight":
            lo, hi = self.weight_range(x)
            return F.fake_quant(x, lo, hi, self.bits, self.symmetric)
        if self.calibrating:
            self._observe(x)
            return x
        if self.cfg.method in ("minmax", "percentile"):
            if not bool(self.initialized):  # never calibrated: first batch sets the range
                self._observe(x)
                self.finish_calibration()
            elif self.training:
                self._observe(x)
        lo, hi = self.lo.clone(), self.hi.clone()  # running ranges move in place; autograd keeps this copy
        if self.cfg.method in ("pact", "pact2"):  # keep lo < 0 < hi so that zero stays exactly representable
            hi = hi.clamp(min=1e-4)
            lo = lo.clamp(max=-1e-4) if self.cfg.method == "pact2" else lo
        return F.fake_quant(x, lo, hi, self.bits, self.symmetric)

    def extra_repr(self) -> str:
        return f"{self.role}, {self.cfg.describe()}"


class FloatQuantizer(nn.Module):
    """FP16 / FP8 emulation (round to nearest even, saturating) with a straight-through gradient."""

    def __init__(self, cfg: FloatQuantConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.calibrating = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.calibrating else F.float_emulate(x, self.cfg.fmt)

    def finish_calibration(self) -> None:
        self.calibrating = False

    def extra_repr(self) -> str:
        return self.cfg.fmt


def make_quantizer(cfg: QuantConfig | None, role: str, where: str = "") -> nn.Module | None:
    """Quantizer module for a config (``None`` -> no quantizer: the tensor stays FP32 in training)."""
    if cfg is None:
        return None
    if isinstance(cfg, FloatQuantConfig):
        return FloatQuantizer(cfg)
    if isinstance(cfg, IntQuantConfig):
        return IntQuantizer(cfg, role, where)
    raise TypeError(f"not a quantizer config: {cfg!r}")


def apply_q(q: nn.Module | None, x: torch.Tensor) -> torch.Tensor:
    """``q(x)``, or ``x`` when the location is not quantized."""
    return x if q is None else q(x)
