"""``simulate(arch, workload)``: costs -> placement -> residency -> engine -> :class:`RunResult`."""

from __future__ import annotations

import time

import numpy as np

from accelsim.cost.op import cost_arrays
from accelsim.cost.transfer import ring_hops
from accelsim.errors import TraceError
from accelsim.sim.engine import Engine
from accelsim.sim.placement import choose_residency, place_streams
from accelsim.sim.result import RunResult
from accelsim.spec.schema import ArchSpec
from accelsim.trace.io import Workload

UNITS_PER_CORE = 3  # matrix, vector, dma


def simulate(arch: ArchSpec, workload: Workload, *, record_timeline: bool = False) -> RunResult:
    """Simulate ``workload`` on ``arch``; deterministic (same inputs, same result, bit for bit)."""
    wall0 = time.perf_counter()
    ops = workload.ops
    n = len(ops)
    if n == 0:
        raise TraceError(f"{workload.path}: the workload has no ops; nothing to simulate")
    wclass = {w: meta.pclass for w, meta in workload.meta.weights.items()}
    on_chip = cost_arrays(ops, arch, wclass, np.ones(n, dtype=bool))
    placement = place_streams(ops, on_chip["busy_s"], arch)
    streams = ops["stream"].astype(str)
    core = streams.map(placement).to_numpy(dtype=np.int64)
    residency = choose_residency(ops, core, workload.meta.weights, arch)
    weights = ops["weight"].astype(str).to_numpy()
    resident = np.array([w == "" or w in residency.pinned[c] for w, c in zip(weights, core)], dtype=bool)
    costs = cost_arrays(ops, arch, wclass, resident)
    unit = core * UNITS_PER_CORE + costs["unit"]
    capacity = [1, 1, arch.core.dma.engines] * arch.cores

    deps = ops["deps"].tolist()
    out_bytes = costs["out_bytes"]
    core_list = core.tolist()
    ic = arch.interconnect
    sync = arch.overheads.sync_cycles
    clock = arch.clock
    hop_cycles = [[(ring_hops(a, b, arch.cores) if ic.topology == "ring" else 1) * ic.hop_cycles
                   for b in range(arch.cores)] for a in range(arch.cores)]
    out_list = out_bytes.tolist()

    def edge_delay(d: int, c: int) -> float:
        a, b = core_list[d], core_list[c]
        if a == b:
            return 0.0
        return (sync + hop_cycles[a][b] + -(-out_list[d] // ic.bytes_per_cycle)) / clock

    utt_rank = None
    if arch.scheduler.utterances == "sequential":
        _, utt_rank = np.unique(ops["utt"].to_numpy(), return_inverse=True)
        utt_rank = utt_rank.astype(np.int64)
    engine = Engine(deps=deps, unit=unit, capacity=capacity, busy_s=costs["busy_s"], dispatch_s=costs["dispatch_s"],
                    compute_s=costs["compute_s"], first_s=costs["first_s"], dram_bytes=costs["dram_bytes"],
                    tiles=costs["tiles"], edge_delay=edge_delay, utt_order=utt_rank, bandwidth=arch.offchip.bandwidth)
    engine.run()
    return RunResult(
        arch=arch,
        workload=workload,
        start_s=np.array(engine.start),
        end_s=np.array(engine.end),
        blocker=np.array(engine.blocker, dtype=np.int64),
        core=core,
        unit=costs["unit"],
        costs=costs,
        resident=resident,
        placement=placement,
        residency=residency,
        record_timeline=record_timeline,
        wall_s=time.perf_counter() - wall0,
    )
