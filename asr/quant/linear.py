"""Quantized Linear and Embedding: the weight and the matmul input are fake-quantized, outputs stay float.

Both round-trip with their ``torch.nn`` originals (``from_float`` / ``to_float``) and keep the same
parameter names, so a QAT checkpoint's state dict loads into the float model after ``to_float``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as tf
from torch import nn

from asr.quant.config import QuantConfig
from asr.quant.quantizers import make_quantizer


def quantized_weight(owner: nn.Module, q: nn.Module, w: torch.Tensor, key: str = "") -> torch.Tensor:
    """``q(w)``, cached on ``owner`` while gradients are off and ``w`` is unchanged (decoding re-uses weights)."""
    if torch.is_grad_enabled() or owner.training:
        return q(w)
    cache = owner.__dict__.setdefault("_wq_cache", {})
    tag = (w.data_ptr(), w._version, id(q))
    hit = cache.get(key)
    if hit is None or hit[0] != tag:
        hit = (tag, q(w))
        cache[key] = hit
    return hit[1]


def quantizer_or_identity(cfg: QuantConfig | None, role: str, where: str) -> nn.Module:
    """A quantizer module, or ``nn.Identity`` where the location is not quantized (stays float)."""
    q = make_quantizer(cfg, role, where)
    return nn.Identity() if q is None else q


class QuantLinear(nn.Module):
    """``y = Q_x(x) @ Q_w(W)^T + b``; x: (..., in_features) -> y: (..., out_features).

    ``wide`` marks a location the recipe keeps wider than the rest (precision class ``matmul_wide``).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool, weight_cfg: QuantConfig | None,
                 input_cfg: QuantConfig | None, wide: bool = False, where: str = "") -> None:
        super().__init__()
        self.in_features, self.out_features, self.wide = in_features, out_features, wide
        self.weight_cfg, self.input_cfg = weight_cfg, input_cfg
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        self.weight_q = quantizer_or_identity(weight_cfg, "weight", f"{where}.weight")
        self.input_q = quantizer_or_identity(input_cfg, "act", f"{where}.input")

    @classmethod
    def from_float(cls, mod: nn.Linear, weight_cfg, input_cfg, wide: bool = False, where: str = "") -> "QuantLinear":
        q = cls(mod.in_features, mod.out_features, mod.bias is not None, weight_cfg, input_cfg, wide, where)
        q.weight = mod.weight
        q.bias = mod.bias
        return q

    def to_float(self) -> nn.Linear:
        lin = nn.Linear(self.in_features, self.out_features, bias=self.bias is not None)
        lin.weight = self.weight
        lin.bias = self.bias
        return lin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return tf.linear(self.input_q(x), quantized_weight(self, self.weight_q, self.weight), self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, wide={self.wide}"


class QuantEmbedding(nn.Module):
    """Table lookup from a quantized table ``(num_embeddings, dim)``; one scale per row when per-channel."""

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None,
                 weight_cfg: QuantConfig | None, wide: bool = False, where: str = "") -> None:
        super().__init__()
        self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, embedding_dim, padding_idx
        self.wide, self.weight_cfg = wide, weight_cfg
        self.weight = nn.Parameter(torch.empty(num_embeddings, embedding_dim))
        self.weight_q = quantizer_or_identity(weight_cfg, "weight", f"{where}.weight")

    @classmethod
    def from_float(cls, mod: nn.Embedding, weight_cfg, wide: bool = False, where: str = "") -> "QuantEmbedding":
        q = cls(mod.num_embeddings, mod.embedding_dim, mod.padding_idx, weight_cfg, wide, where)
        q.weight = mod.weight
        return q

    def to_float(self) -> nn.Embedding:
        emb = nn.Embedding(self.num_embeddings, self.embedding_dim, padding_idx=self.padding_idx)
        emb.weight = self.weight
        return emb

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return tf.embedding(idx, quantized_weight(self, self.weight_q, self.weight), self.padding_idx)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}, wide={self.wide}"
