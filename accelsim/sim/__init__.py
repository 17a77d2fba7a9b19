"""The simulator: the only package that imports simpy. ``simulate(arch, workload) -> RunResult``."""

from accelsim.sim.chrome import to_chrome_trace
from accelsim.sim.placement import Residency, choose_residency, place_streams
from accelsim.sim.result import RunResult
from accelsim.sim.simulate import simulate

__all__ = ["Residency", "RunResult", "choose_residency", "place_streams", "simulate", "to_chrome_trace"]
