"""``simulate(arch, workload)``: costs -> placement -> residency -> engine -> :class:`RunResult`."""

from __future__ import annotations

import time

import numpy as np

from accelsim.cost.op import category_codes, cost_arrays
from accelsim.cost.transfer import ring_hops
from accelsim.errors import SpecError, TraceError
from accelsim.map.plan import UNITS_PER_CORE, Plan
from accelsim.sim.engine import play
from accelsim.sim.placement import choose_residency, place_streams
from accelsim.sim.result import RunResult
from accelsim.spec.schema import ArchSpec
from accelsim.trace.io import Workload


def simulate(arch: ArchSpec, workload: Workload, *, record_timeline: bool = False) -> RunResult:
    """Simulate ``workload`` on ``arch``; deterministic (same inputs, same result, bit for bit)."""
    wall0 = time.perf_counter()
    ops = workload.ops
    n = len(ops)
    if n == 0:
        raise TraceError(f"{workload.path}: the workload has no ops; nothing to simulate")
    wclass = {w: meta.pclass for w, meta in workload.meta.weights.items()}
    on_chip = cost_arrays(ops, arch, wclass, np.ones(n, dtype=bool))
    placement = place_streams(ops, (on_chip["macs"] + on_chip["elem_ops"]).astype(np.float64), arch)
    scodes, snames = category_codes(ops["stream"])
    core = np.array([placement[s] for s in snames], dtype=np.int64)[scodes]
    residency = choose_residency(ops, core, workload.meta.weights, arch)
    total_weights = sum(residency.weight_bytes.values())
    if total_weights > arch.offchip.capacity:
        raise SpecError(
            f"{arch.source or arch.name}: offchip.capacity = {arch.offchip.capacity:.0f} bytes cannot hold the "
            f"{total_weights:.0f} bytes of weights of {workload.path} at this precision policy; raise the capacity"
        )
    wcodes, wnames = category_codes(ops["weight"])
    pinned_table = np.array([[w == "" or w in residency.pinned[c] for c in range(arch.cores)]
                             for w in wnames], dtype=bool).reshape(-1, arch.cores)
    resident = pinned_table[wcodes, core]
    costs = cost_arrays(ops, arch, wclass, resident)
    unit = core * UNITS_PER_CORE + costs["unit"]
    capacity = [1, 1, arch.core.dma.engines] * arch.cores

    dep_ptr, dep_src = workload.deps_csr()
    dep_dst = np.repeat(np.arange(n, dtype=np.int64), np.diff(dep_ptr))
    ic = arch.interconnect
    hops = np.array([[(ring_hops(a, b, arch.cores) if ic.topology == "ring" else 1) for b in range(arch.cores)]
                     for a in range(arch.cores)], dtype=np.float64)
    out_bytes = costs["out_bytes"]
    # seconds for each dependency's result to reach the consumer's core (0 on the same core)
    src_core, dst_core = core[dep_src], core[dep_dst]
    serialise = np.ceil(out_bytes[dep_src] / ic.bytes_per_cycle)
    cycles = arch.overheads.sync_cycles + hops[src_core, dst_core] * ic.hop_cycles + serialise
    dep_delay = np.where(src_core == dst_core, 0.0, cycles / arch.clock)

    utt_rank = None
    if arch.scheduler.utterances == "sequential":
        utt = ops["utt"].to_numpy()
        utt_rank = np.searchsorted(np.unique(utt), utt).astype(np.int64)
    # weight reuse cache: streamed matmul weights may stay in the scratchpad space pinning left free
    kcodes, knames = category_codes(ops["kind"])
    is_mm = np.array([k == "matmul" for k in knames], dtype=bool)[kcodes]
    wbytes = np.array([residency.weight_bytes.get(w, 0.0) for w in wnames], dtype=np.float64)
    weight_id = np.where(is_mm & (costs["dram_bytes"] > 0), wcodes, -1).astype(np.int64)
    budget = arch.core.scratchpad.size * arch.core.scratchpad.weight_fraction
    free = [budget - sum(residency.weight_bytes[w] for w in pinned) for pinned in residency.pinned]
    plan = Plan(
        piece_op=np.arange(n, dtype=np.int64), unit=unit.astype(np.int64), busy_s=costs["busy_s"],
        lead_s=costs["dispatch_s"] + costs["first_s"], compute_s=costs["compute_s"],
        dram_bytes=costs["dram_bytes"], tiles=costs["tiles"].astype(np.float64), weight_id=weight_id,
        hit_busy_s=on_chip["busy_s"], dep_ptr=dep_ptr, dep_src=dep_src, dep_delay_s=dep_delay,
        unit_capacity=np.array(capacity, dtype=np.int64), weight_bytes=wbytes,
        cache_bytes=np.array(free if arch.scheduler.weight_reuse else [0.0] * arch.cores, dtype=np.float64),
        bandwidth_Bps=float(arch.offchip.bandwidth), utt_rank=utt_rank)
    wall_map = time.perf_counter()
    played = play(plan, arch.scheduler.engine)
    wall_engine = time.perf_counter()
    hit = played.hit
    costs = dict(costs)
    costs["reuse_saved_bytes"] = np.where(hit, costs["dram_bytes"], 0.0)
    costs["dram_bytes"] = np.where(hit, 0.0, costs["dram_bytes"])
    costs["busy_s"] = np.where(hit, on_chip["busy_s"], costs["busy_s"])
    resident = resident | hit
    return RunResult(
        arch=arch,
        workload=workload,
        start_s=played.start_s,
        end_s=played.end_s,
        blocker=played.blocker,
        core=core,
        unit=costs["unit"],
        costs=costs,
        resident=resident,
        placement=placement,
        residency=residency,
        record_timeline=record_timeline,
        wall_s=time.perf_counter() - wall0,
        wall_phases_s={"cost_map": wall_map - wall0, "engine": wall_engine - wall_map},
    )
