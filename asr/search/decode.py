"""Decode a manifest: features -> encoder (once per utterance) -> beam search per utterance -> WER.

Encoder outputs are computed once and reused across search configs (``asr tune-fusion`` decodes the same
dev set many times). Utterances are decoded one at a time, as a streaming recognizer would.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from asr.data.manifest import Utterance, read_utterance_audio
from asr.data.vocab import decode as ids_to_text
from asr.features import compute_features
from asr.search.alsd import alsd
from asr.search.hyp import Hyp
from asr.search.mbs import modified_beam_search
from asr.search.observer import CallLog
from asr.search.scorer import Fusion
from asr.search.step import SearchConfig

SEARCHES: dict[str, Callable[..., list[Hyp]]] = {"alsd": alsd, "mbs": modified_beam_search}


@dataclass(frozen=True)
class Encoded:
    """One utterance after the encoder: projected frames ``encp`` (T', J), its audio seconds and reference."""

    encp: torch.Tensor
    seconds: float
    ref: str
    encoder_s: float  # wall time of features + encoder + projection, s
    encoder_cpu_s: float  # CPU time of the same, s


@dataclass(frozen=True)
class Decoded:
    """Search output for one utterance: n-best (best first), best text, the call record, search wall time."""

    nbest: tuple[Hyp, ...]
    text: str
    log: CallLog | None
    search_s: float  # wall time, s
    search_cpu_s: float  # CPU time of this process (all threads), s


def encode(model, utts: Sequence[Utterance]) -> list[Encoded]:
    """Features, encoder and encoder projection of each utterance (batch 1, eval mode, no grad)."""
    feat_cfg = model.cfg.features
    out = []
    with torch.no_grad():
        for u in utts:
            t0, c0 = time.perf_counter(), time.process_time()
            wave = torch.from_numpy(read_utterance_audio(u))  # duration checked against the audio
            feats = compute_features(wave, feat_cfg.sample_rate, feat_cfg)  # (T, F)
            enc, lens = model.encoder(feats[None], torch.tensor([feats.shape[0]]))  # (1, T', E)
            encp = model.joiner.project_enc(enc[0, : int(lens[0])])  # (T', J)
            out.append(Encoded(encp, u.duration_s, u.text, time.perf_counter() - t0, time.process_time() - c0))
    return out


def search(model, enc: Encoded, cfg: SearchConfig, fusion: Fusion = Fusion(), record: bool = False) -> Decoded:
    """Run the configured search on one encoded utterance."""
    log = CallLog() if record else None
    t0, c0 = time.perf_counter(), time.process_time()
    nbest = SEARCHES[cfg.algorithm](model, enc.encp, cfg, fusion, observer=log)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return Decoded(tuple(nbest), ids_to_text(nbest[0].tokens) if nbest else "", log, wall, cpu)


def decode_all(model, encoded: Sequence[Encoded], cfg: SearchConfig, fusion: Fusion = Fusion(),
               record: bool = False) -> list[Decoded]:
    return [search(model, e, cfg, fusion, record) for e in encoded]


def word_error_rate(encoded: Sequence[Encoded], decoded: Sequence[Decoded]) -> float:
    """Corpus WER in percent."""
    from asr.train.metrics import wer

    return 100.0 * wer([e.ref for e in encoded], [d.text for d in decoded])
