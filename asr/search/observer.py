"""What a search executed, call by call: the record the operator tracer turns into ops.

The searches report each batched call with its real batch size (beam occupancy changes from step to step,
and only prefixes not cached yet reach the prediction network and the LMs). The record is model-independent
(numbers of rows, not shapes), so the same record can be re-emitted with any layer sizes.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Event:
    """One batched call.

    kind: "scorers" (prediction network + every LM on ``m`` new prefixes, ``gathered`` rows of parent state
    fetched from the cache), "joint" (joint network + log-softmax on ``m`` hypotheses) or "select" (fusion of
    ``m`` x vocab candidate scores, top-``k`` over all of them, recombination down to ``kept`` hypotheses).
    """

    kind: str
    step: int
    m: int
    gathered: int = 0
    k: int = 0
    kept: int = 0


@dataclass
class CallLog:
    """Collects :class:`Event` records; the searches call it through the methods below."""

    events: list[Event] = field(default_factory=list)
    step: int = -1

    def begin_step(self, step: int) -> None:
        self.step = step

    def scorers(self, m: int, gathered: int) -> None:
        self.events.append(Event("scorers", self.step, m, gathered=gathered))

    def joint(self, m: int) -> None:
        self.events.append(Event("joint", self.step, m))

    def select(self, m: int, k: int, kept: int) -> None:
        self.events.append(Event("select", self.step, m, k=k, kept=kept))
