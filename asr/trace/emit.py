"""Turn one decoded utterance (encoder frames + the search's call record) into accelsim ops.

Every network call is written as the operations it executes, with the batch size it really had:

* encoder, per layer and direction: the input projection of all frames as one matmul (m = frames), then per
  frame the recurrent matmul and the LSTM cell update (m = 1); then the joiner's encoder projection (m = frames);
* per search step, for the prefixes not cached yet (m = new prefixes): state gather, embedding, LSTM matmuls and
  cell update of the prediction network and of each LM, the prediction projection / LM output layer and the
  LMs' log-softmax;
* per step for the whole beam (m = hypotheses): row gather, combination, tanh, output matmul, log-softmax of
  the joint; then the fusion (one scale-add per LM, one add of scores and reward) and a top-k over all
  m x vocab candidates.

Dependencies: each recurrent stream is a chain; a search step's scorer ops wait for the previous step's top-k
(which decides the prefixes), the joint waits for the prediction projection, the fusion for the joint and
the LMs. Weight names (``encoder.l0.fwd.w_ih`` ...) match :func:`declare_weights`.
"""

from __future__ import annotations

from accelsim.trace.builder import TraceBuilder
from asr.search.observer import Event
from asr.trace.dims import TraceDims

ENC = "encoder"
DIRS = ("fwd", "bwd")


def declare_weights(tb: TraceBuilder, dims: TraceDims, wide: frozenset[str] = frozenset()) -> None:
    """Declare every weight (``(k, n)`` for matmuls, ``(rows, width)`` for embeddings); ``wide`` names the
    weights the recipe keeps wider than the rest (precision class ``matmul_wide``)."""

    def w(name: str, shape: tuple[int, int]) -> None:
        tb.declare_weight(name, shape, "matmul_wide" if name in wide else "matmul")

    ins = dims.enc_input
    for layer in range(dims.enc_layers):
        for d in DIRS:
            w(f"encoder.l{layer}.{d}.w_ih", (ins, 4 * dims.enc_units))
            w(f"encoder.l{layer}.{d}.w_hh", (dims.enc_units, 4 * dims.enc_units))
        ins = dims.enc_dim
    w("joint.enc_proj", (dims.enc_dim, dims.joint_dim))
    w("prediction.embedding", (dims.vocab, dims.pred_embed))
    w("prediction.l0.w_ih", (dims.pred_embed, 4 * dims.pred_units))
    w("prediction.l0.w_hh", (dims.pred_units, 4 * dims.pred_units))
    w("joint.pred_proj", (dims.pred_units, dims.joint_dim))
    w("joint.out", (dims.joint_dim, dims.vocab))
    for phase, lm in dims.lms.items():
        w(f"{phase}.embedding", (dims.vocab, lm.embed))
        ins = lm.embed
        for layer in range(lm.layers):
            w(f"{phase}.l{layer}.w_ih", (ins, 4 * lm.hidden))
            w(f"{phase}.l{layer}.w_hh", (lm.hidden, 4 * lm.hidden))
            ins = lm.hidden
        w(f"{phase}.out", (lm.hidden, dims.vocab))


def emit_encoder(tb: TraceBuilder, dims: TraceDims, utt: int, frames: int, after: list[int]) -> int:
    """Ops of the encoder and the encoder projection for ``frames`` encoder frames; returns the projection's id."""
    prev_outputs = list(after)
    ins = dims.enc_input
    for layer in range(dims.enc_layers):
        outputs = []
        for d in DIRS:
            stream = f"encoder.l{layer}.{d}"
            kw = dict(utt=utt, stream=stream)
            proj = tb.matmul(ENC, m=frames, k=ins, weight=f"encoder.l{layer}.{d}.w_ih", deps=prev_outputs, step=-1,
                             **kw)
            last = proj
            for s in range(frames):
                step = s if d == "fwd" else frames - 1 - s
                rec = tb.matmul(ENC, m=1, k=dims.enc_units, weight=f"encoder.l{layer}.{d}.w_hh", deps=[last, proj],
                                step=step, **kw)
                last = tb.add("lstm_pointwise", ENC, m=1, n=dims.enc_units, pclass="nonlinear", func="lstm",
                              deps=[rec], step=step, **kw)
            outputs.append(last)
        prev_outputs = outputs
        ins = dims.enc_dim
    return tb.matmul("joint", m=frames, k=dims.enc_dim, weight="joint.enc_proj", deps=prev_outputs,
                     utt=utt, stream="joint", step=-1)


class DecodeEmitter:
    """Writes the search's events of one utterance; ``last_select`` chains the steps."""

    def __init__(self, tb: TraceBuilder, dims: TraceDims, utt: int, enc_proj: int) -> None:
        self.tb, self.dims, self.utt = tb, dims, utt
        self.enc_proj = enc_proj
        self.last_select = enc_proj
        self.pred_ready = enc_proj  # op after which the newest prediction rows exist
        self.lm_ready: dict[str, int] = {}
        self.joint_done = enc_proj

    def event(self, ev: Event) -> None:
        getattr(self, f"_{ev.kind}")(ev)

    def _recurrent(self, phase: str, step: int, m: int, gathered: int, embed: int, hidden: int, layers: int) -> int:
        tb, kw = self.tb, dict(utt=self.utt, stream=phase, step=step)
        deps = [self.last_select]
        if gathered:
            deps = [tb.add("gather", phase, m=gathered, n=2 * layers * hidden, pclass="elementwise", func="copy",
                           deps=deps, **kw)]
        state = deps[0]
        x = tb.add("embedding", phase, m=m, n=embed, pclass="elementwise", weight=f"{phase}.embedding",
                   deps=[self.last_select], **kw)
        ins = embed
        for layer in range(layers):
            a = tb.matmul(phase, m=m, k=ins, weight=f"{phase}.l{layer}.w_ih", deps=[x], **kw)
            b = tb.matmul(phase, m=m, k=hidden, weight=f"{phase}.l{layer}.w_hh", deps=[state], **kw)
            x = tb.add("lstm_pointwise", phase, m=m, n=hidden, pclass="nonlinear", func="lstm", deps=[a, b], **kw)
            ins = hidden
        return x

    def _scorers(self, ev: Event) -> None:
        d, tb = self.dims, self.tb
        h = self._recurrent("prediction", ev.step, ev.m, ev.gathered, d.pred_embed, d.pred_units, 1)
        self.pred_ready = tb.matmul("joint", m=ev.m, k=d.pred_units, weight="joint.pred_proj", deps=[h],
                                    utt=self.utt, stream="prediction", step=ev.step)
        for phase, lm in d.lms.items():
            h = self._recurrent(phase, ev.step, ev.m, ev.gathered, lm.embed, lm.hidden, lm.layers)
            kw = dict(utt=self.utt, stream=phase, step=ev.step)
            out = tb.matmul(phase, m=ev.m, k=lm.hidden, weight=f"{phase}.out", deps=[h], **kw)
            self.lm_ready[phase] = tb.add("softmax", phase, m=ev.m, n=d.vocab, pclass="softmax", func="log",
                                          deps=[out], **kw)

    def _joint(self, ev: Event) -> None:
        d, tb = self.dims, self.tb
        kw = dict(utt=self.utt, stream="joint", step=ev.step)
        g = tb.add("gather", "joint", m=ev.m, n=2 * d.joint_dim, pclass="elementwise", func="copy",
                   deps=[self.pred_ready, self.last_select], **kw)
        comb = "add" if d.combine == "additive" else "mul"
        c = tb.add("elementwise", "joint", m=ev.m, n=d.joint_dim, pclass="elementwise", func=comb, deps=[g], **kw)
        t = tb.add("nonlinear", "joint", m=ev.m, n=d.joint_dim, pclass="nonlinear", func="tanh", deps=[c], **kw)
        o = tb.matmul("joint", m=ev.m, k=d.joint_dim, weight="joint.out", deps=[t], **kw)
        self.joint_done = tb.add("softmax", "joint", m=ev.m, n=d.vocab, pclass="softmax", func="log",
                                 deps=[o], **kw)

    def _select(self, ev: Event) -> None:
        d, tb = self.dims, self.tb
        kw = dict(utt=self.utt, stream="search", step=ev.step)
        last = self.joint_done
        for phase in d.lms:  # fused += weight * log P_lm, one scale-add per LM
            last = tb.add("elementwise", "search", m=ev.m, n=d.vocab, pclass="elementwise", func="mul",
                          deps=[last, self.lm_ready[phase]], **kw)
        last = tb.add("elementwise", "search", m=ev.m, n=d.vocab, pclass="elementwise", func="add", deps=[last], **kw)
        self.last_select = tb.add("topk", "search", m=1, k=ev.k, n=ev.m * d.vocab, pclass="softmax", deps=[last],
                                  **kw)
