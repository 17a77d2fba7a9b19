"""Joint network: project encoder and predictor outputs to J, combine (add or multiply), tanh, linear to V."""

from __future__ import annotations

import torch
from torch import nn

from asr.model.config import ModelConfig


class Joiner(nn.Module):
    """logits = out(tanh(enc_proj(enc) (+|*) pred_proj(pred)))."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.enc_proj = nn.Linear(cfg.enc_dim, cfg.joint_dim)
        self.pred_proj = nn.Linear(cfg.pred_units, cfg.joint_dim)
        self.out = nn.Linear(cfg.joint_dim, cfg.vocab_size)
        self.combine = cfg.combine

    def project_enc(self, enc: torch.Tensor) -> torch.Tensor:
        """(..., E) -> (..., J)."""
        return self.enc_proj(enc)

    def project_pred(self, pred: torch.Tensor) -> torch.Tensor:
        """(..., P) -> (..., J)."""
        return self.pred_proj(pred)

    def joint(self, encp: torch.Tensor, predp: torch.Tensor) -> torch.Tensor:
        """Projected inputs, broadcastable to (..., J) -> logits (..., V)."""
        h = encp + predp if self.combine == "additive" else encp * predp
        return self.out(torch.tanh(h))

    def forward(self, enc: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
        """enc (B, T, E), pred (B, U, P) -> logits (B, T, U, V) for training."""
        return self.joint(self.project_enc(enc)[:, :, None], self.project_pred(pred)[:, None])  # (B, T, U, V)
