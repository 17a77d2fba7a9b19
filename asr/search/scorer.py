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


def lm_scorer(lm, phase: str) -> RecurrentScorer:
    """A scorer over an ``asr.lm.CharLSTMLM`` (or a quantized copy): rows are next-unit log-probs (m, V)."""
    return RecurrentScorer(lm.step, lm.cfg.layers, lm.cfg.hidden, phase)


def prediction_scorer(model) -> RecurrentScorer:
    """The RNN-T prediction network then the joiner's prediction projection: rows (m, J)."""
    return RecurrentScorer(model.predictor.step, 1, model.predictor.units, "prediction",
                           head=model.joiner.project_pred)


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
