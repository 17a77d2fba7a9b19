"""The RNN-Transducer: encoder + predictor + joiner built from a ModelConfig."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from asr.data.vocab import BLANK
from asr.model.config import ModelConfig
from asr.model.encoder import Encoder
from asr.model.joiner import Joiner
from asr.model.predictor import Predictor


class Transducer(nn.Module):
    """RNN-T; ``forward`` gives the full (B, T', U + 1, V) joint logits used by the loss."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.predictor = Predictor(cfg)
        self.joiner = Joiner(cfg)

    def forward(
        self, feats: torch.Tensor, lens: torch.Tensor, tokens: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """feats (B, T, F), lens (B,), tokens (B, U) padded with anything -> (logits (B, T', U+1, V), lens' (B,))."""
        enc, enc_lens = self.encoder(feats, lens)  # (B, T', E)
        pred_in = F.pad(tokens, (1, 0), value=BLANK)  # (B, U + 1): blank is the start symbol
        pred, _ = self.predictor(pred_in)  # (B, U + 1, P)
        return self.joiner(enc, pred), enc_lens

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())


def param_breakdown(model: Transducer) -> dict[str, int]:
    """Parameter counts of encoder, predictor and joiner."""
    return {name: sum(p.numel() for p in getattr(model, name).parameters()) for name in ("encoder", "predictor", "joiner")}
