"""Assemble a workload from decoded utterances: ops (``emit``), weights, ``workload.yaml`` metadata.

Two uses: the decoded model's own trace (``dims`` = its layer sizes, events as recorded), and the paper-scale
re-emission (``dims`` = configs/paper.yaml's, events *stretched* to the paper's encoder frame rate by
:func:`stretch_events`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from accelsim.trace.builder import TraceBuilder
from accelsim.trace.io import Workload, write_workload
from asr.search.observer import Event
from asr.trace.dims import TraceDims
from asr.trace.emit import DecodeEmitter, declare_weights, emit_encoder


@dataclass(frozen=True)
class UttRecord:
    """What the tracer needs of one decoded utterance: encoder frames, audio seconds, the search's events."""

    frames: int
    seconds: float
    events: tuple[Event, ...]


def stretch_events(events: Sequence[Event], frames_src: int, frames_dst: int) -> list[Event]:
    """Re-time a search record from ``frames_src`` to ``frames_dst`` encoder frames (``frames_dst >= frames_src``).

    A model with a higher frame rate sees the same labels over more frames; the extra frames are blank frames,
    on which a search step finds no new prefix (cache hit: no prediction-network or LM call) and costs one
    joint call and one selection over the beam. ``frames_dst - frames_src`` such steps are inserted, spread
    evenly after the recorded steps, each a copy of the preceding step's joint and select calls.
    """
    if frames_dst < frames_src:
        raise ValueError(f"stretch_events: cannot shrink {frames_src} frames to {frames_dst}")
    steps = sorted({e.step for e in events if e.step >= 0})
    extra = frames_dst - frames_src
    if not steps or not extra:
        return list(events)
    by_step: dict[int, list[Event]] = {}
    for e in events:
        by_step.setdefault(e.step, []).append(e)
    out = list(by_step.pop(-1, []))
    new_step = 0
    for j, s in enumerate(steps):
        group = by_step[s]
        out.extend(Event(e.kind, new_step, e.m, e.gathered, e.k, e.kept) for e in group)
        new_step += 1
        n_insert = (j + 1) * extra // len(steps) - j * extra // len(steps)
        tail = [e for e in group if e.kind in ("joint", "select")]
        for _ in range(n_insert):
            out.extend(Event(e.kind, new_step, e.m, 0, e.k, e.kept) for e in tail)
            new_step += 1
    return out


def build_trace(dims: TraceDims, utts: Sequence[UttRecord], wide: frozenset[str] = frozenset()) -> TraceBuilder:
    """All ops of all utterances, in issue order (utterances one after the other)."""
    tb = TraceBuilder()
    declare_weights(tb, dims, wide)
    after: list[int] = []
    for i, u in enumerate(utts):
        proj = emit_encoder(tb, dims, i, u.frames, after)
        em = DecodeEmitter(tb, dims, i, proj)
        for ev in u.events:
            em.event(ev)
        after = [em.last_select]
    return tb


def write_trace(
    out: str | Path,
    *,
    name: str,
    dims: TraceDims,
    utts: Sequence[UttRecord],
    synthetic: bool,
    description: str,
    command: str,
    notes: str,
    recipe: str | None,
    search: dict,
    wer_percent: float | None,
    test_set: str,
    wide: frozenset[str] = frozenset(),
) -> Workload:
    """Build the ops and write ``out/ops.parquet`` + ``out/workload.yaml`` (atomically, via accelsim)."""
    tb = build_trace(dims, utts, wide)
    accuracy = None if wer_percent is None else {"wer_percent": round(wer_percent, 3), "test_set": test_set}
    return write_workload(
        out,
        ops=tb.to_frame(),
        weights=tb.weights,
        name=name,
        synthetic=synthetic,
        description=description,
        provenance={"command": command, "generator": "asr.trace", "notes": notes},
        model=dims.describe(),
        recipe=recipe,
        search=search,
        audio={"seconds": round(sum(u.seconds for u in utts), 4), "utterances": len(utts),
               "frame_rate_hz": dims.frame_rate_hz},
        accuracy=accuracy,
    )
