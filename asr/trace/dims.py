"""Layer sizes the tracer emits ops with: the decoded model's own, or a paper-scale model's (re-emission).

The decode's *structure* (frames per utterance, batch sizes of every call per step) is recorded independently
of these sizes (``asr.search.observer``), so the same record can be written with the small model's layer
shapes (what really ran) or with ``configs/paper.yaml``'s (what the paper's accelerator would run).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class LMDims:
    """A character LSTM LM: embedding size, cells per layer, layers (units)."""

    embed: int
    hidden: int
    layers: int = 1


@dataclass(frozen=True)
class TraceDims:
    """RNN-T and LM sizes in units; ``enc_input`` is the stacked feature width, ``stack`` 10 ms frames per step."""

    enc_input: int
    enc_layers: int
    enc_units: int
    pred_embed: int
    pred_units: int
    joint_dim: int
    vocab: int
    combine: str = "additive"
    stack: int = 4
    lms: dict[str, LMDims] = field(default_factory=dict)  # phase ("lm_target", "lm_source") -> dims

    @property
    def enc_dim(self) -> int:
        return 2 * self.enc_units

    @property
    def frame_rate_hz(self) -> float:
        """Encoder frames per second (features every 10 ms, ``stack`` of them per encoder frame)."""
        return 100.0 / self.stack

    def with_lms(self, lms: dict[str, LMDims]) -> TraceDims:
        return TraceDims(**{**asdict(self), "lms": dict(lms)})

    def describe(self) -> dict:
        """Free-form ``model`` mapping of ``workload.yaml``: every layer size plus parameter counts."""
        d = asdict(self)
        d["lms"] = {k: asdict(v) for k, v in self.lms.items()}
        d["rnnt_params"] = self.rnnt_params()
        d["lm_params"] = {k: lm_params(v, self.vocab) for k, v in self.lms.items()}
        return d

    def rnnt_params(self) -> int:
        enc, ins = 0, self.enc_input
        for _ in range(self.enc_layers):
            enc += 2 * _lstm_params(ins, self.enc_units)
            ins = self.enc_dim
        pred = self.vocab * self.pred_embed + _lstm_params(self.pred_embed, self.pred_units)
        joint = (self.enc_dim + 1) * self.joint_dim + (self.pred_units + 1) * self.joint_dim
        joint += (self.joint_dim + 1) * self.vocab
        return enc + pred + joint


def _lstm_params(ins: int, hidden: int) -> int:
    return 4 * hidden * (ins + hidden + 2)


def lm_params(lm: LMDims, vocab: int) -> int:
    total, ins = vocab * lm.embed, lm.embed
    for _ in range(lm.layers):
        total += _lstm_params(ins, lm.hidden)
        ins = lm.hidden
    return total + (lm.hidden + 1) * vocab


def dims_from_model_config(cfg, lms: dict[str, LMDims] | None = None) -> TraceDims:
    """From an ``asr.model.config.ModelConfig`` (the small model's, or ``configs/paper.yaml``'s)."""
    return TraceDims(
        enc_input=cfg.input_dim,
        enc_layers=cfg.enc_layers,
        enc_units=cfg.enc_units,
        pred_embed=cfg.pred_embed,
        pred_units=cfg.pred_units,
        joint_dim=cfg.joint_dim,
        vocab=cfg.vocab_size,
        combine=cfg.combine,
        stack=cfg.stack,
        lms=dict(lms or {}),
    )


#: LMs of the paper-scale re-emission [R]: PAPER.md gives no LM sizes; IBM's character LMs for Switchboard
#: fusion are LSTMs of about this size (2 x 1024 cells), an assumption stated in every paper-scale workload.yaml.
PAPER_LM = LMDims(embed=256, hidden=1024, layers=2)
