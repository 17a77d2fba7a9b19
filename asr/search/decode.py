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
from asr.errors import DataError
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


def encode(model, utts: Sequence[Utterance], on_utt: Callable[[], None] | None = None,
           skipped: list[str] | None = None) -> list[Encoded]:
    """Features (float32), encoder and encoder projection of each utterance (batch 1, eval mode, no grad).

    ``on_utt()`` is called after each utterance (a progress bar). With a ``skipped`` list, an utterance whose
    audio is unreadable or shorter than one encoder step is left out and its message appended (else: DataError).
    """
    feat_cfg = model.cfg.features
    out = []
    with torch.no_grad():
        for u in utts:
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                wave = torch.from_numpy(read_utterance_audio(u))  # duration checked against the audio
                feats = compute_features(wave, feat_cfg.sample_rate, feat_cfg)  # (T, F)
                if feats.shape[0] < model.cfg.stack:
                    raise DataError(f"{u.audio}: {feats.shape[0]} frames, fewer than one encoder step "
                                    f"({model.cfg.stack})")
            except DataError as exc:
                if skipped is None:
                    raise
                skipped.append(str(exc))
                if on_utt is not None:
                    on_utt()
                continue
            enc, lens = model.encoder(feats[None], torch.tensor([feats.shape[0]]))  # (1, T', E)
            encp = model.joiner.project_enc(enc[0, : int(lens[0])])  # (T', J)
            out.append(Encoded(encp, u.duration_s, u.text, time.perf_counter() - t0, time.process_time() - c0))
            if on_utt is not None:
                on_utt()
    return out


def search(model, enc: Encoded, cfg: SearchConfig, fusion: Fusion = Fusion(), record: bool = False) -> Decoded:
    """Run the configured search on one encoded utterance."""
    log = CallLog() if record else None
    t0, c0 = time.perf_counter(), time.process_time()
    nbest = SEARCHES[cfg.algorithm](model, enc.encp, cfg, fusion, observer=log)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return Decoded(tuple(nbest), ids_to_text(nbest[0].tokens) if nbest else "", log, wall, cpu)


def decode_all(model, encoded: Sequence[Encoded], cfg: SearchConfig, fusion: Fusion = Fusion(),
               record: bool = False, on_utt: Callable[[], None] | None = None) -> list[Decoded]:
    """:func:`search` on every utterance in order; ``on_utt()`` after each (a progress bar)."""
    out = []
    for e in encoded:
        out.append(search(model, e, cfg, fusion, record))
        if on_utt is not None:
            on_utt()
    return out


def transcribe(model, utts: Sequence[Utterance], cfg: SearchConfig = SearchConfig(beam=1),
               fusion: Fusion = Fusion(), skipped: list[str] | None = None, label: str = "decode",
               progress: bool | None = None) -> tuple[list[Encoded], list[Decoded]]:
    """The one decoding path of ``asr decode``, ``asr eval`` and ``asr qat``: :func:`encode` then :func:`search`.

    ``cfg`` beam 1 (the default) is greedy decoding. ``progress``: a bar over the utterances (None: on a
    terminal only). Returns the encoded utterances (skipped ones left out) and their decodes, in order.
    """
    from asr.progress import progress_bar

    with progress_bar(label, 2 * len(utts), progress) as advance:
        encoded = encode(model, utts, on_utt=advance, skipped=skipped)
        if len(encoded) < len(utts):
            advance(len(utts) - len(encoded))
        decoded = decode_all(model, encoded, cfg, fusion, on_utt=advance)
    return encoded, decoded


def word_error_rate(encoded: Sequence[Encoded], decoded: Sequence[Decoded]) -> float:
    """Corpus WER in percent."""
    from asr.train.metrics import wer

    return 100.0 * wer([e.ref for e in encoded], [d.text for d in decoded])


def char_error_rate(encoded: Sequence[Encoded], decoded: Sequence[Decoded]) -> float:
    """Corpus CER in percent (characters, spaces included)."""
    from asr.train.metrics import cer

    return 100.0 * cer([e.ref for e in encoded], [d.text for d in decoded])
