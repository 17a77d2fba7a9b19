"""Label scorers (the prediction network and the LMs) behind one protocol, and the fusion weights.

A :class:`Scorer` maps a batch of prefixes, each given by its last unit and the recurrent state after the
prefix's earlier units, to an output row and a new state. States travel batch-first (one row per prefix),
so the search's prefix cache can gather/scatter rows of any scorer the same way. The search never asks what
kind of LM it holds: fusion is a list of (scorer, weight) terms plus a length reward.

Density-ratio fusion (PAPER.md): ``log P_rnnt + lambda log P_target - mu log P_source + rho |y|`` with the LM
terms and the reward applied on label (non-blank) emissions only; shallow fusion is ``mu = 0``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import torch
from torch import nn

from asr.validate import check_fusion_values

#: Batch-first recurrent state: a tuple of tensors, each (num_prefixes, ...).
State = tuple[torch.Tensor, ...]


class Scorer(Protocol):
    """Anything that scores the next unit of a batch of prefixes."""

    #: Trace phase of this scorer's ops: "prediction", "lm_target" or "lm_source".
    phase: str

    def initial_state(self, batch: int) -> State:
        """State before the start-of-sequence unit, ``batch`` rows."""

    def step(self, tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """tokens (m,) int64, state rows (m, ...) -> (output (m, D), new state rows (m, ...))."""


class RecurrentScorer:
    """Adapts a module's layer-first ``step(tokens (m,), (h, c) each (layers, m, H))`` to the batch-first protocol.

    ``head`` (optional) is applied to the step's output: the joiner's ``project_pred`` for the prediction network,
    so the prefix cache holds the projected rows the joint needs. The wrapped module's own ``step`` is called, so
    a quantized copy (``asr.quant.prepare``) is scored exactly as it runs.
    """

    def __init__(self, step, layers: int, hidden: int, phase: str, head=None) -> None:
        self._step, self.layers, self.hidden, self.phase, self.head = step, layers, hidden, phase, head

    def initial_state(self, batch: int) -> State:
        z = torch.zeros(batch, self.layers, self.hidden)
        return z, z.clone()

    def step(self, tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        h0, c0 = (s.transpose(0, 1).contiguous() for s in state)  # (layers, m, H)
        out, (h, c) = self._step(tokens, (h0, c0))  # (m, D)
        if self.head is not None:
            out = self.head(out)  # (m, J)
        return out, (h.transpose(0, 1), c.transpose(0, 1))  # rows (m, layers, H)


class LSTMCellScorer:
    """The same scorer for a float ``embedding -> nn.LSTM -> head`` stack, one step as a few fused tensor ops.

    The embedding and input projection of layer 0 are folded into one table ``(vocab, 4H)`` =
    ``E @ W_ih^T + b_ih + b_hh`` (a token's input gates are a row lookup), and each step is one ``addmm`` with
    ``W_hh^T`` plus the gate math: the ``nn.LSTM`` call overhead (about 0.2 ms per call, most of a beam
    search step on CPU) disappears. Outputs equal :class:`RecurrentScorer`'s to float rounding (tests).
    Only for plain float modules; quantized models keep :class:`RecurrentScorer` (they run as they are).
    """

    def __init__(self, embedding: nn.Embedding, lstm: nn.LSTM, phase: str, head=None, log_softmax: bool = False):
        self.phase, self.head, self.log_softmax = phase, head, log_softmax
        self.layers, self.hidden = lstm.num_layers, lstm.hidden_size
        H = self.hidden
        # gate rows reordered from PyTorch's (i, f, g, o) to (i, f, o, g): one sigmoid over the first 3H columns
        order = torch.cat([torch.arange(0, 2 * H), torch.arange(3 * H, 4 * H), torch.arange(2 * H, 3 * H)])
        with torch.no_grad():
            self.w_hh_t, self.w_ih_t, self.bias = [], [], []
            for layer in range(lstm.num_layers):
                w_ih = getattr(lstm, f"weight_ih_l{layer}").detach()[order]
                b = torch.zeros(4 * H)
                if lstm.bias:
                    b = (getattr(lstm, f"bias_ih_l{layer}") + getattr(lstm, f"bias_hh_l{layer}")).detach()[order]
                self.w_ih_t.append(w_ih.t().contiguous())
                self.bias.append(b)
                self.w_hh_t.append(getattr(lstm, f"weight_hh_l{layer}").detach()[order].t().contiguous())
            self.table = torch.addmm(self.bias[0], embedding.weight.detach(), self.w_ih_t[0])  # (vocab, 4H)

    def initial_state(self, batch: int) -> State:
        z = torch.zeros(batch, self.layers, self.hidden)
        return z, z.clone()

    def step(self, tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        h0, c0 = state  # (m, layers, H) each
        H = self.hidden
        hs, cs = [], []
        x = None
        with torch.no_grad():
            for layer in range(self.layers):
                gates_in = (self.table.index_select(0, tokens) if layer == 0
                            else torch.addmm(self.bias[layer], x, self.w_ih_t[layer]))  # (m, 4H)
                gates = torch.addmm(gates_in, h0[:, layer], self.w_hh_t[layer])  # (m, 4H): i, f, o, g
                sig = torch.sigmoid(gates[:, : 3 * H])  # (m, 3H)
                c = torch.addcmul(sig[:, H : 2 * H] * c0[:, layer], sig[:, :H], torch.tanh(gates[:, 3 * H :]))
                x = sig[:, 2 * H :] * torch.tanh(c)  # (m, H)
                hs.append(x)
                cs.append(c)
            out = self.head(x) if self.head is not None else x
            if self.log_softmax:
                out = torch.log_softmax(out, dim=-1)
        if self.layers == 1:
            return out, (hs[0].unsqueeze(1), cs[0].unsqueeze(1))
        return out, (torch.stack(hs, 1), torch.stack(cs, 1))


def _plain(*mods) -> bool:
    """True when every module is exactly a float torch.nn module (not a quantized replacement) and nothing observes
    its calls (no forward hooks, e.g. a test counting executed ops): only then may a fused step stand in for it."""
    return all(type(m) in (nn.Embedding, nn.LSTM, nn.Linear) and not m._forward_hooks and not m._forward_pre_hooks
               for m in mods)


def lm_scorer(lm, phase: str):
    """A scorer over an ``asr.lm.CharLSTMLM`` (or a quantized copy): rows are next-unit log-probs (m, V)."""
    if _plain(lm.embedding, lm.lstm, lm.output) and not lm.lstm.bidirectional and lm.lstm.batch_first:
        return LSTMCellScorer(lm.embedding, lm.lstm, phase, head=lm.output, log_softmax=True)
    return RecurrentScorer(lm.step, lm.cfg.layers, lm.cfg.hidden, phase)


def prediction_scorer(model):
    """The RNN-T prediction network then the joiner's prediction projection: rows (m, J)."""
    pred = model.predictor
    if _plain(pred.embedding, pred.lstm, model.joiner.pred_proj) and not pred.training:
        return LSTMCellScorer(pred.embedding, pred.lstm, "prediction", head=model.joiner.pred_proj)  # = project_pred
    return RecurrentScorer(pred.step, 1, pred.units, "prediction", head=model.joiner.project_pred)


@dataclass(frozen=True)
class FusionWeights:
    """lambda (target LM), mu (source LM), rho (reward per label); all dimensionless, per nat."""

    kind: Literal["none", "shallow", "dr"] = "none"
    lam: float = 0.0
    mu: float = 0.0
    rho: float = 0.0

    def __post_init__(self) -> None:
        check_fusion_values(**{"lambda": self.lam, "mu": self.mu, "rho": self.rho})  # never NaN/inf weights
        if self.kind not in ("none", "shallow", "dr"):
            raise ValueError(f"fusion kind {self.kind!r}: expected none, shallow or dr")
        if self.kind == "none" and (self.lam or self.mu):
            raise ValueError("fusion 'none' takes no LM weights (lambda = mu = 0)")
        if self.kind == "shallow" and self.mu:
            raise ValueError(f"shallow fusion has mu = 0, got mu = {self.mu}")

    def as_dict(self) -> dict[str, float]:
        return {} if self.kind == "none" else {"lambda": self.lam, "mu": self.mu, "rho": self.rho}


@dataclass(frozen=True)
class Fusion:
    """The LM terms of a search: ``(scorer, weight)`` pairs and the label reward ``rho``."""

    terms: Sequence[tuple[Scorer, float]] = field(default_factory=tuple)
    rho: float = 0.0


def build_fusion(weights: FusionWeights, target_lm=None, source_lm=None) -> Fusion:
    """Fusion terms for ``weights``: none -> no LM, shallow -> +lambda target, dr -> also -mu source."""
    if weights.kind == "none":
        return Fusion((), weights.rho)
    if target_lm is None:
        raise ValueError(f"{weights.kind} fusion needs a target LM")
    terms = [(lm_scorer(target_lm, "lm_target"), weights.lam)]
    if weights.kind == "dr":
        if source_lm is None:
            raise ValueError("density-ratio fusion needs a source LM")
        terms.append((lm_scorer(source_lm, "lm_source"), -weights.mu))
    return Fusion(tuple(terms), weights.rho)
