"""Batched greedy RNN-T decoding: at each encoder frame emit the arg-max unit until blank (or a cap)."""

from __future__ import annotations

import torch

from asr.data.vocab import BLANK
from asr.model.transducer import Transducer


@torch.no_grad()
def greedy_decode(model: Transducer, feats: torch.Tensor, lens: torch.Tensor, max_symbols: int = 5) -> list[list[int]]:
    """Unit ids per utterance for feats (B, T, F), lens (B,); at most ``max_symbols`` emissions per frame.

    The model is switched to eval mode (and restored). All utterances advance together: one joiner call
    and at most one predictor step per (frame, symbol) for the whole batch.
    """
    was_training = model.training
    model.eval()
    try:
        enc, enc_lens = model.encoder(feats, lens)  # (B, T', E)
        encp = model.joiner.project_enc(enc)  # (B, T', J)
        b = feats.shape[0]
        tok, state = model.predictor.initial(b, feats.device)
        pred, state = model.predictor.step(tok, state)  # (B, P)
        predp = model.joiner.project_pred(pred)  # (B, J)
        hyps: list[list[int]] = [[] for _ in range(b)]
        for t in range(encp.shape[1]):
            active = t < enc_lens  # (B,)
            for _ in range(max_symbols):
                k = model.joiner.joint(encp[:, t], predp).argmax(dim=-1)  # (B,)
                emit = active & (k != BLANK)
                if not bool(emit.any()):
                    break
                new_pred, (h, c) = model.predictor.step(k, state)
                m = emit[None, :, None]
                state = (torch.where(m, h, state[0]), torch.where(m, c, state[1]))
                predp = torch.where(emit[:, None], model.joiner.project_pred(new_pred), predp)
                for i in emit.nonzero()[:, 0].tolist():
                    hyps[i].append(int(k[i]))
                active = emit
        return hyps
    finally:
        model.train(was_training)
