"""Acoustic encoder: frame stacking (input subsampling) then a stack of single-layer bidirectional LSTMs.

Each layer is its own ``nn.LSTM(bidirectional=True, batch_first=True, num_layers=1)`` in ``layers`` so that
quantization can replace layers one by one by module path (``encoder.layers.0``). Layers are run on packed
sequences in eval mode, so padding never leaks into the backward direction: a batch decodes exactly like
its utterances one by one (a replacement layer must accept a PackedSequence like ``nn.LSTM`` does). In
training mode layers run on the padded tensor: PyTorch's packed LSTM backward on CPU slices every time
step and costs several times the padded (oneDNN) path, and length-bucketed batches keep the padding
that the backward direction reads in front of an utterance short (a few frames).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from asr.features import stack_frames
from asr.model.config import ModelConfig


class Encoder(nn.Module):
    """(B, T, F) features at 10 ms -> (B, T // stack, 2 * enc_units) encodings."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.stack = cfg.stack
        dims = [cfg.input_dim] + [cfg.enc_dim] * cfg.enc_layers
        self.layers = nn.ModuleList(
            nn.LSTM(dims[i], cfg.enc_units, num_layers=1, bidirectional=True, batch_first=True)
            for i in range(cfg.enc_layers)
        )
        self.dropout = nn.Dropout(cfg.enc_dropout)

    def forward(self, feats: torch.Tensor, lens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """feats (B, T, F), lens (B,) in frames -> (enc (B, T', E), lens' (B,)) with T' = T // stack."""
        x, out_lens = stack_frames(feats, lens, self.stack)  # (B, T', F * stack)
        total = x.shape[1]
        exact = not self.training and bool((out_lens != total).any())
        for i, layer in enumerate(self.layers):
            if i > 0:
                x = self.dropout(x)
            if exact:
                packed = pack_padded_sequence(x, out_lens.cpu(), batch_first=True, enforce_sorted=False)
                y, _ = layer(packed)
                x, _ = pad_packed_sequence(y, batch_first=True, total_length=total)  # (B, T', E)
            else:
                x, _ = layer(x)  # (B, T', E)
        return x, out_lens
