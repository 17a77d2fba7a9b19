"""Prediction network: embedding + one LSTM layer over the previously emitted units (blank = start)."""

from __future__ import annotations

import torch
from torch import nn

from asr.data.vocab import BLANK
from asr.model.config import ModelConfig

State = tuple[torch.Tensor, torch.Tensor]  # (h, c), each (1, B, P)


class Predictor(nn.Module):
    """tokens (B, U) -> outputs (B, U, P); id 0 (blank) is the start-of-sequence input."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.embedding = nn.Embedding(cfg.vocab_size, cfg.pred_embed)
        self.lstm = nn.LSTM(cfg.pred_embed, cfg.pred_units, num_layers=1, batch_first=True)
        self.dropout = nn.Dropout(cfg.pred_dropout)
        self.units = cfg.pred_units

    def forward(self, tokens: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """tokens (B, U) long -> (out (B, U, P), (h, c) each (1, B, P))."""
        emb = self.dropout(self.embedding(tokens))  # (B, U, D)
        out, state = self.lstm(emb, state)
        return self.dropout(out), state

    def step(self, tokens: torch.Tensor, state: State | None) -> tuple[torch.Tensor, State]:
        """One step for a batch of last tokens (B,) -> (out (B, P), new state)."""
        out, state = self.forward(tokens[:, None], state)
        return out[:, 0], state

    def initial(self, batch: int, device=None) -> tuple[torch.Tensor, State]:
        """Start tokens (B,) = blank and a zero state."""
        zeros = torch.zeros(1, batch, self.units, device=device)
        return torch.full((batch,), BLANK, dtype=torch.long, device=device), (zeros, zeros.clone())
