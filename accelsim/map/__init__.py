"""The mapping stage: trace + architecture -> :class:`Plan` (which core runs which piece, what is pinned)."""

from accelsim.map.plan import UNITS_PER_CORE, Plan, Played

__all__ = ["Plan", "Played", "UNITS_PER_CORE"]
