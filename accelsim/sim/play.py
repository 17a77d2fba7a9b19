"""Play a :class:`~accelsim.map.plan.Plan` out in time on the chosen engine (``scheduler.engine``).

The engines' modules are imported when chosen: the fast engine's (:mod:`accelsim.sim.fast`, compiled) on
every run, the reference engine's (:mod:`accelsim.sim.engine`, simpy) only when it is asked for.
"""

from __future__ import annotations

from accelsim.map.plan import Plan, Played

ENGINES = ("fast", "reference")


def play(plan: Plan, engine: str = "fast") -> Played:
    """Play ``plan`` out in time on ``engine``: ``"fast"`` (compiled, :mod:`accelsim.sim.fast`) or
    ``"reference"`` (simpy, :mod:`accelsim.sim.engine`); both give identical results, bit for bit."""
    if engine == "fast":
        from accelsim.sim.fast import play_fast

        return play_fast(plan)
    if engine == "reference":
        from accelsim.sim.engine import play_reference

        return play_reference(plan)
    raise ValueError(f"engine {engine!r}: expected one of {', '.join(ENGINES)}")
