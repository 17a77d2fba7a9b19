"""From a real decode to a workload directory: the model's own shapes, or re-emitted at paper scale."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from accelsim.trace.io import Workload
from asr.search.decode import Decoded, Encoded
from asr.search.scorer import FusionWeights
from asr.search.step import SearchConfig
from asr.trace.dims import PAPER_LM, LMDims, TraceDims, dims_from_model_config
from asr.trace.precision import all_weight_names, wide_weights
from asr.trace.record import UttRecord, stretch_events, write_trace

SCALES = ("model", "paper")


def trace_dims(model_cfg, lm_info: dict, scale: str, paper_cfg=None) -> TraceDims:
    """Layer sizes to emit: the decoded model's and LMs' (``model``) or ``paper_cfg``'s with PAPER_LM LMs."""
    if scale == "model":
        lms = {k: LMDims(v["embed"], v["hidden"], v["layers"]) for k, v in lm_info.items()}
        return dims_from_model_config(model_cfg, lms)
    return dims_from_model_config(paper_cfg, {k: PAPER_LM for k in lm_info})


def write_decode_trace(
    out: str | Path,
    *,
    model_cfg,
    encoded: Sequence[Encoded],
    decoded: Sequence[Decoded],
    cfg: SearchConfig,
    weights: FusionWeights,
    lm_info: dict,
    recipe=None,
    lm_recipes: dict | None = None,
    wer_percent: float,
    test_set: str,
    command: str,
    scale: str = "model",
    paper_cfg=None,
    extra_notes: str = "",
    model_name: str = "the decoded model",
) -> Workload:
    """Write the workload of decoded utterances (each ``Decoded`` must carry its call log).

    ``model_name`` names the decoded (trained) model in the description, e.g. ``models/multi``.
    """
    if any(d.log is None for d in decoded):
        raise ValueError("write_decode_trace needs decodes run with record=True")
    dims = trace_dims(model_cfg, lm_info, scale, paper_cfg)
    utts = []
    for e, d in zip(encoded, decoded):
        frames = e.encp.shape[0]
        events = tuple(d.log.events)
        if scale == "paper":
            dst = round(frames * model_cfg.stack / paper_cfg.stack)
            events, frames = tuple(stretch_events(events, frames, dst)), dst
        utts.append(UttRecord(frames, e.seconds, events))
    wide = wide_weights(all_weight_names(dims), recipe, lm_recipes)
    lms = ", ".join(f"{k} {v['layers']}x{v['hidden']}" for k, v in dims.describe()["lms"].items()) or "no LM"
    fusion = f"{weights.kind} fusion {weights.as_dict()}" if weights.kind != "none" else "no LM fusion"
    what = f"{cfg.algorithm} beam {cfg.beam}, {fusion}, {len(utts)} utterances of {test_set}"
    if scale == "paper":
        description = (f"Paper-scale re-emission of a real decode of {model_name} ({what}): the per-step "
                       f"structure (batch size of every call) recorded by the decode, with the layer shapes of "
                       f"configs/paper.yaml ({dims.rnnt_params() / 1e6:.1f} M RNN-T parameters; LMs {lms}).")
        notes = (f"Not executed at these shapes: a paper-scale model cannot be trained here. The encoder runs at "
                 f"{dims.frame_rate_hz:g} frames/s instead of the decoded model's {100 / model_cfg.stack:g}; the "
                 f"extra frames are inserted as blank steps (joint + selection over the beam, no new prefix). "
                 f"LM sizes are an assumption (PAPER.md gives none). WER is the decoded model's.")
    else:
        description = f"Real decode of the model's own shapes ({what}; RNN-T {dims.rnnt_params() / 1e6:.2f} M "
        description += f"parameters, LMs {lms})."
        notes = "Ops and batch sizes exactly as executed by asr.search (recorded per call)."
    notes = f"{notes} {extra_notes}".strip()
    search = {"algorithm": cfg.algorithm, "beam": cfg.beam, "fusion": weights.kind,
              "fusion_weights": weights.as_dict()}
    return write_trace(
        out, name=Path(out).name, dims=dims, utts=utts, synthetic=False, description=description, command=command,
        notes=notes, recipe=(recipe.source or recipe.name) if recipe is not None else None, search=search,
        wer_percent=wer_percent,
        test_set=test_set, wide=wide,
    )
