"""Synthetic paper-scale RNN-T workloads: the op stream of a batched ALSD beam search with LM fusion.

Until ``asr trace`` records real decodes, this builds the trace from model dimensions (PAPER.md), a beam
width and a stated emission rate. Per utterance of ``T`` encoder frames:

- encoder: for each of ``enc_layers`` bidirectional LSTM layers and each direction, one input-projection
  matmul over all ``T`` frames, then per frame a recurrent matmul (1 x H) @ (H x 4H) and an LSTM pointwise
  update; layer ``l + 1`` needs both directions of layer ``l`` complete; then the joint's encoder projection.
- search (alignment-length synchronous decoding, ``T + U`` steps, ``U = emit_rate * T`` labels): at each step
  the hypotheses extended by a label in the previous step (``Binomial(B, label_frac)``) get new prediction
  network and LM states (one batched call each: embedding, LSTM layers, output projection, log-softmax);
  then the joint over all ``B`` active hypotheses, the fusion of scores, top-k and the reordering of states.

Every number is deterministic given the config (seeded numpy Generator).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from accelsim.trace.builder import TraceBuilder
from accelsim.trace.io import Workload, write_workload

FUSIONS = ("none", "shallow", "dr")


@dataclass(frozen=True)
class SyntheticConfig:
    """Model dimensions (PAPER.md [R]) and decode statistics of a synthetic workload."""

    beam: int = 16
    fusion: str = "dr"  # none | shallow (target LM) | dr (target and source LM)
    utterances: int = 3
    seconds: float = 4.0  # mean utterance length, s; each is drawn from [0.6, 1.4] x seconds
    seed: int = 0
    frame_rate_hz: float = 50.0  # [R] 2 stacked 10 ms frames -> 20 ms encoder frames
    emit_rate: float = 0.24  # [assumption] labels per encoder frame: ~12 characters/s of conversational speech
    label_frac: float | None = None  # fraction of beam hyps label-extended per step; None: see resolved_label_frac
    input_dim: int = 240  # [R] 40 log-Mel + deltas + double deltas, 2 frames stacked
    enc_layers: int = 6  # [R]
    enc_cells: int = 640  # [R] per direction
    pred_embed: int = 256  # [assumption]
    pred_cells: int = 768  # [R] 768 or 1024; 768 gives the paper's ~57 M parameters
    joint_dim: int = 256  # [R]
    vocab: int = 46  # [R] characters incl. blank
    lm_embed: int = 256  # [assumption]
    lm_layers: int = 2  # [assumption] character LSTM LM
    lm_cells: int = 1024  # [assumption]

    def __post_init__(self) -> None:
        if self.fusion not in FUSIONS:
            raise ValueError(f"fusion = {self.fusion!r}: expected one of {FUSIONS}")
        for name in ("beam", "utterances", "enc_layers", "enc_cells", "pred_cells", "vocab", "input_dim",
                     "pred_embed", "joint_dim", "lm_embed", "lm_layers", "lm_cells"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} = {getattr(self, name)}: must be >= 1")
        for name in ("seconds", "frame_rate_hz", "emit_rate"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} = {getattr(self, name)}: must be > 0")
        if self.label_frac is not None and not 0 < self.label_frac <= 1:
            raise ValueError(f"label_frac = {self.label_frac}: must be in (0, 1]")

    @property
    def resolved_label_frac(self) -> float:
        """Beam 1: the alignment's label share U / (T + U). Wider beams: 0.5 [assumption] -- survivors of a
        pruned beam are often alternative label extensions of the same prefixes, so many need fresh states."""
        if self.label_frac is not None:
            return self.label_frac
        return self.emit_rate / (1.0 + self.emit_rate) if self.beam == 1 else 0.5

    @property
    def lms(self) -> tuple[str, ...]:
        return {"none": (), "shallow": ("lm_target",), "dr": ("lm_target", "lm_source")}[self.fusion]


def _declare_weights(tb: TraceBuilder, cfg: SyntheticConfig) -> None:
    h = cfg.enc_cells
    for layer in range(cfg.enc_layers):
        din = cfg.input_dim if layer == 0 else 2 * h
        for d in ("fwd", "bwd"):
            tb.declare_weight(f"enc.l{layer}.{d}.wih", (din, 4 * h), "matmul_wide" if layer == 0 else "matmul")
            tb.declare_weight(f"enc.l{layer}.{d}.whh", (h, 4 * h), "matmul")
    tb.declare_weight("pred.embed", (cfg.vocab, cfg.pred_embed), "matmul")
    tb.declare_weight("pred.l0.w", (cfg.pred_embed + cfg.pred_cells, 4 * cfg.pred_cells), "matmul")
    tb.declare_weight("joint.enc", (2 * h, cfg.joint_dim), "matmul")
    tb.declare_weight("joint.pred", (cfg.pred_cells, cfg.joint_dim), "matmul")
    tb.declare_weight("joint.out", (cfg.joint_dim, cfg.vocab), "matmul_wide")
    for lm in cfg.lms:
        tb.declare_weight(f"{lm}.embed", (cfg.vocab, cfg.lm_embed), "matmul")
        for j in range(cfg.lm_layers):
            din = cfg.lm_embed if j == 0 else cfg.lm_cells
            tb.declare_weight(f"{lm}.l{j}.w", (din + cfg.lm_cells, 4 * cfg.lm_cells), "matmul")
        tb.declare_weight(f"{lm}.out", (cfg.lm_cells, cfg.vocab), "matmul")


def _encoder(tb: TraceBuilder, cfg: SyntheticConfig, utt: int, frames: int) -> int:
    """Append one utterance's encoder; returns the id of the joint's encoder projection."""
    h = cfg.enc_cells
    prev_layer: list[int] = []
    for layer in range(cfg.enc_layers):
        din = cfg.input_dim if layer == 0 else 2 * h
        last = []
        for d in ("fwd", "bwd"):
            stream = f"encoder.l{layer}.{d}"
            ip = tb.matmul("encoder", m=frames, k=din, weight=f"enc.l{layer}.{d}.wih", deps=prev_layer,
                           stream=stream, utt=utt)
            prev = ip
            order = range(frames) if d == "fwd" else range(frames - 1, -1, -1)
            for t in order:
                mm = tb.matmul("encoder", m=1, k=h, weight=f"enc.l{layer}.{d}.whh", deps=(ip, prev),
                               stream=stream, utt=utt, step=t)
                prev = tb.add("lstm_pointwise", "encoder", m=1, n=h, pclass="nonlinear", func="lstm",
                              deps=(mm,), stream=stream, utt=utt, step=t)
            last.append(prev)
        prev_layer = last
    return tb.matmul("joint", m=frames, k=2 * h, weight="joint.enc", deps=prev_layer, stream="joint", utt=utt)


def _lstm_stack(tb, phase, stream, prefix, layers, din, cells, rows, deps, states, utt, step) -> int:
    """Embedding then ``layers`` LSTM layers for ``rows`` hypotheses; updates ``states`` (op ids, -1 = none)."""
    x = tb.add("embedding", phase, m=rows, n=din, pclass="matmul", weight=f"{prefix}.embed", deps=deps,
               stream=stream, utt=utt, step=step)
    for j in range(layers):
        k = (din if j == 0 else cells) + cells
        state = [states[j]] if states[j] >= 0 else []
        mm = tb.matmul(phase, m=rows, k=k, weight=f"{prefix}.l{j}.w", deps=(x, *state), stream=stream, utt=utt,
                       step=step)
        x = tb.add("lstm_pointwise", phase, m=rows, n=cells, pclass="nonlinear", func="lstm", deps=(mm,),
                   stream=stream, utt=utt, step=step)
        states[j] = x
    return x


def _search(tb: TraceBuilder, cfg: SyntheticConfig, utt: int, frames: int, enc_proj: int,
            rng: np.random.Generator) -> None:
    steps = frames + int(round(cfg.emit_rate * frames))
    q = cfg.resolved_label_frac
    state_elems = 2 * cfg.pred_cells + len(cfg.lms) * cfg.lm_layers * 2 * cfg.lm_cells
    pred_state: list[int] = [-1]
    lm_state = {lm: [-1] * cfg.lm_layers for lm in cfg.lms}
    last_search = enc_proj
    pred_proj = -1
    active_prev = 1
    for i in range(steps):
        active = min(cfg.beam, 2**i)
        new = 1 if i == 0 else int(rng.binomial(active_prev, q))
        lm_scores = []
        if new:
            pw = _lstm_stack(tb, "prediction", "prediction", "pred", 1, cfg.pred_embed, cfg.pred_cells, new,
                             (last_search,), pred_state, utt, i)
            pred_proj = tb.matmul("joint", m=new, k=cfg.pred_cells, weight="joint.pred", deps=(pw,),
                                  stream="prediction", utt=utt, step=i)
            for lm in cfg.lms:
                x = _lstm_stack(tb, lm, lm, lm, cfg.lm_layers, cfg.lm_embed, cfg.lm_cells, new, (last_search,),
                                lm_state[lm], utt, i)
                out = tb.matmul(lm, m=new, k=cfg.lm_cells, weight=f"{lm}.out", deps=(x,), stream=lm, utt=utt, step=i)
                lm_scores.append(tb.add("softmax", lm, m=new, n=cfg.vocab, pclass="softmax", func="log",
                                        deps=(out,), stream=lm, utt=utt, step=i))
        deps = [d for d in (enc_proj, pred_proj, last_search) if d >= 0]
        comb = tb.add("elementwise", "joint", m=active, n=cfg.joint_dim, pclass="elementwise", func="mul",
                      deps=deps, stream="joint", utt=utt, step=i)
        th = tb.add("nonlinear", "joint", m=active, n=cfg.joint_dim, pclass="nonlinear", func="tanh", deps=(comb,),
                    stream="joint", utt=utt, step=i)
        jo = tb.matmul("joint", m=active, k=cfg.joint_dim, weight="joint.out", deps=(th,), stream="joint",
                       utt=utt, step=i)
        js = tb.add("softmax", "joint", m=active, n=cfg.vocab, pclass="softmax", func="log", deps=(jo,),
                    stream="joint", utt=utt, step=i)
        fuse = tb.add("elementwise", "search", m=active, n=cfg.vocab, pclass="softmax", func="add",
                      deps=(js, *lm_scores), stream="search", utt=utt, step=i)
        tk = tb.add("topk", "search", m=1, n=active * cfg.vocab, k=cfg.beam, pclass="softmax", deps=(fuse,),
                    stream="search", utt=utt, step=i)
        last_search = tb.add("gather", "search", m=min(cfg.beam, 2 ** (i + 1)), n=state_elems,
                             pclass="elementwise", deps=(tk,), stream="search", utt=utt, step=i)
        active_prev = active


def model_dims(cfg: SyntheticConfig, params: int) -> dict:
    dims = {k: v for k, v in asdict(cfg).items() if k not in ("beam", "fusion", "utterances", "seconds", "seed",
                                                              "emit_rate", "label_frac", "frame_rate_hz")}
    dims["parameters"] = params
    return dims


def build(cfg: SyntheticConfig) -> tuple[TraceBuilder, list[int]]:
    """The trace of ``cfg`` and the frame count of each utterance."""
    rng = np.random.default_rng(cfg.seed)
    tb = TraceBuilder()
    _declare_weights(tb, cfg)
    lengths = [max(1, int(round(cfg.seconds * rng.uniform(0.6, 1.4) * cfg.frame_rate_hz)))
               for _ in range(cfg.utterances)]
    for utt, frames in enumerate(lengths):
        enc_proj = _encoder(tb, cfg, utt, frames)
        _search(tb, cfg, utt, frames, enc_proj, rng)
    return tb, lengths


def write_synthetic(out: str | Path, cfg: SyntheticConfig, *, command: str, name: str | None = None) -> Workload:
    """Generate and write a workload directory; ``command`` is recorded as its provenance."""
    tb, lengths = build(cfg)
    params = sum(w.elements for w in tb.weights.values())
    fusion_name = {"none": "no LM", "shallow": "shallow fusion", "dr": "density-ratio fusion"}[cfg.fusion]
    return write_workload(
        out,
        ops=tb.to_frame(),
        weights=tb.weights,
        name=name or Path(out).name,
        synthetic=True,
        description=(f"synthetic paper-scale RNN-T, ALSD beam {cfg.beam}, {fusion_name}, {cfg.utterances} "
                     f"utterances; emission rate {cfg.emit_rate} labels/frame, label_frac "
                     f"{cfg.resolved_label_frac:.3f}"),
        provenance={"command": command, "generator": "accelsim.trace.synthetic",
                    "notes": f"seed {cfg.seed}; frames per utterance {lengths}; config {asdict(cfg)}"},
        model=model_dims(cfg, params),
        search={"algorithm": "alsd", "beam": cfg.beam, "fusion": cfg.fusion, "fusion_weights": {}},
        audio={"seconds": sum(lengths) / cfg.frame_rate_hz, "utterances": cfg.utterances,
               "frame_rate_hz": cfg.frame_rate_hz},
    )
