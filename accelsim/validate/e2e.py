"""End-to-end cases measured on an H100 (PAPER.md), as traces the simulator replays.

- :func:`encoder_trace`: a 6 x 640 bidirectional LSTM encoder over 500 frames, batch 1 (cuDNN measured
  about 114 ms in FP16): per layer and direction one input projection over all frames, then per frame the
  recurrent matmul ``(1 x H) @ (H x 4H)`` and the LSTM cell update; layer ``l + 1`` waits for both directions.
- :func:`beam_step_trace`: ``steps`` beam-search steps of ``beam`` hypotheses, each step one batched call of
  the prediction network (embedding, 1 LSTM layer, joint projection), two LSTM LMs (embedding, ``lm_layers``
  layers of ``lm_hidden`` cells, output projection, log-softmax) and the joint (combine, tanh, output
  projection, log-softmax), then score fusion, top-k and the reordering of the states; step ``s + 1`` waits
  for step ``s`` (measured: eager about 0.93 ms per step whatever the beam; in a CUDA graph 170 us at beam 16).

Dimensions other than those PAPER.md states follow :class:`accelsim.trace.synthetic.SyntheticConfig`.
"""

from __future__ import annotations

from pathlib import Path

from accelsim.trace.builder import TraceBuilder
from accelsim.trace.io import Workload, load_workload, write_workload
from accelsim.trace.synthetic import SyntheticConfig

#: PAPER.md's measured whole-model cases (seconds): (case, launch mode) -> measured time per unit of work.
MEASURED_ENCODER_S = 114e-3  # cuDNN 6x640 BiLSTM fp16, T = 500, B = 1
MEASURED_STEP_EAGER_S = 0.93e-3  # eager Python beam-search step, beam 1..64
MEASURED_STEP_GRAPH_S = 170e-6  # the step in a CUDA graph, beam 16
FRAME_RATE_HZ = 50.0


def encoder_trace(frames: int = 500, layers: int = 6, cells: int = 640, input_dim: int = 240) -> TraceBuilder:
    """The bidirectional LSTM encoder of one utterance of ``frames`` frames (module docstring)."""
    tb = TraceBuilder()
    h = cells
    for layer in range(layers):
        din = input_dim if layer == 0 else 2 * h
        for d in ("fwd", "bwd"):
            tb.declare_weight(f"enc.l{layer}.{d}.wih", (din, 4 * h), "matmul")
            tb.declare_weight(f"enc.l{layer}.{d}.whh", (h, 4 * h), "matmul")
    prev_layer: list[int] = []
    for layer in range(layers):
        din = input_dim if layer == 0 else 2 * h
        last = []
        for d in ("fwd", "bwd"):
            stream = f"encoder.l{layer}.{d}"
            ip = tb.matmul("encoder", m=frames, k=din, weight=f"enc.l{layer}.{d}.wih", deps=prev_layer,
                           stream=stream)
            prev = ip
            for t in (range(frames) if d == "fwd" else range(frames - 1, -1, -1)):
                mm = tb.matmul("encoder", m=1, k=h, weight=f"enc.l{layer}.{d}.whh", deps=(ip, prev), stream=stream,
                               step=t)
                prev = tb.add("lstm_pointwise", "encoder", m=1, n=h, pclass="nonlinear", func="lstm", deps=(mm,),
                              stream=stream, step=t)
            last.append(prev)
        prev_layer = last
    return tb


def beam_step_trace(beam: int, lm_hidden: int, steps: int = 10, lm_layers: int | None = None) -> TraceBuilder:
    """``steps`` fused beam-search steps of ``beam`` hypotheses with two LMs of ``lm_hidden`` cells."""
    cfg = SyntheticConfig(lm_cells=lm_hidden, **({"lm_layers": lm_layers} if lm_layers else {}))
    tb = TraceBuilder()
    lms = ("lm_target", "lm_source")
    tb.declare_weight("pred.embed", (cfg.vocab, cfg.pred_embed))
    tb.declare_weight("pred.l0.w", (cfg.pred_embed + cfg.pred_cells, 4 * cfg.pred_cells))
    tb.declare_weight("joint.pred", (cfg.pred_cells, cfg.joint_dim))
    tb.declare_weight("joint.out", (cfg.joint_dim, cfg.vocab))
    for lm in lms:
        tb.declare_weight(f"{lm}.embed", (cfg.vocab, cfg.lm_embed))
        for j in range(cfg.lm_layers):
            din = cfg.lm_embed if j == 0 else cfg.lm_cells
            tb.declare_weight(f"{lm}.l{j}.w", (din + cfg.lm_cells, 4 * cfg.lm_cells))
        tb.declare_weight(f"{lm}.out", (cfg.lm_cells, cfg.vocab))
    state_elems = 2 * cfg.pred_cells + len(lms) * cfg.lm_layers * 2 * cfg.lm_cells
    last: list[int] = []
    b = beam

    def stack(phase, prefix, layers, din, cells):
        x = tb.add("embedding", phase, m=b, n=din, pclass="matmul", weight=f"{prefix}.embed", deps=last,
                   stream=phase, step=step)
        for j in range(layers):
            k = (din if j == 0 else cells) + cells
            mm = tb.matmul(phase, m=b, k=k, weight=f"{prefix}.l{j}.w", deps=(x,), stream=phase, step=step)
            x = tb.add("lstm_pointwise", phase, m=b, n=cells, pclass="nonlinear", func="lstm", deps=(mm,),
                       stream=phase, step=step)
        return x

    for step in range(steps):
        pw = stack("prediction", "pred", 1, cfg.pred_embed, cfg.pred_cells)
        pp = tb.matmul("joint", m=b, k=cfg.pred_cells, weight="joint.pred", deps=(pw,), stream="joint", step=step)
        scores = []
        for lm in lms:
            x = stack(lm, lm, cfg.lm_layers, cfg.lm_embed, cfg.lm_cells)
            out = tb.matmul(lm, m=b, k=cfg.lm_cells, weight=f"{lm}.out", deps=(x,), stream=lm, step=step)
            scores.append(tb.add("softmax", lm, m=b, n=cfg.vocab, pclass="softmax", func="log", deps=(out,),
                                 stream=lm, step=step))
        comb = tb.add("elementwise", "joint", m=b, n=cfg.joint_dim, pclass="elementwise", func="mul", deps=(pp,),
                      stream="joint", step=step)
        th = tb.add("nonlinear", "joint", m=b, n=cfg.joint_dim, pclass="nonlinear", func="tanh", deps=(comb,),
                    stream="joint", step=step)
        jo = tb.matmul("joint", m=b, k=cfg.joint_dim, weight="joint.out", deps=(th,), stream="joint", step=step)
        js = tb.add("softmax", "joint", m=b, n=cfg.vocab, pclass="softmax", func="log", deps=(jo,), stream="joint",
                    step=step)
        fuse = tb.add("elementwise", "search", m=b, n=cfg.vocab, pclass="softmax", func="add", deps=(js, *scores),
                      stream="search", step=step)
        tk = tb.add("topk", "search", m=1, n=b * cfg.vocab, k=b, pclass="softmax", deps=(fuse,), stream="search",
                    step=step)
        last = [tb.add("gather", "search", m=b, n=state_elems, pclass="elementwise", deps=(tk,), stream="search",
                       step=step)]
    return tb


def write_case(tb: TraceBuilder, out: str | Path, name: str, frames: int, description: str, beam: int = 1) -> Workload:
    """Write ``tb`` as a workload directory (``frames`` encoder frames of audio at 50 Hz) and load it back."""
    write_workload(out, ops=tb.to_frame(), weights=tb.weights, name=name, synthetic=True, description=description,
                   provenance={"command": "python3 scripts/validation_results.py",
                               "generator": "accelsim.validate.e2e"},
                   model={}, search={"algorithm": "alsd", "beam": beam, "fusion": "dr", "fusion_weights": {}},
                   audio={"seconds": frames / FRAME_RATE_HZ, "utterances": 1, "frame_rate_hz": FRAME_RATE_HZ})
    return load_workload(out)
