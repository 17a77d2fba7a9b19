"""``simulate(arch, workload)``: mapping (naive, searched or replayed) -> plan -> engine -> :class:`RunResult`."""

from __future__ import annotations

import time

import numpy as np

from accelsim.errors import SpecError, TraceError
from accelsim.hostmem import keep_freed_memory, small_pages
from accelsim.map.build import Built, build_plan, weight_bytes_of
from accelsim.map.mapping import Mapping
from accelsim.map.naive import Residency, naive_mapping
from accelsim.map.plan import UNITS_PER_CORE, Played
from accelsim.sim.engine import play
from accelsim.sim.result import PieceRun, RunResult
from accelsim.spec.schema import ArchSpec
from accelsim.trace.io import Workload


def _check_capacity(arch: ArchSpec, workload: Workload, weight_bytes: dict[str, float]) -> None:
    total = sum(weight_bytes.values())
    if total > arch.offchip.capacity:
        raise SpecError(
            f"{arch.source or arch.name}: offchip.capacity = {arch.offchip.capacity:.0f} bytes cannot hold the "
            f"{total:.0f} bytes of weights of {workload.path} at this precision policy; raise the capacity"
        )


def choose_mapping(arch: ArchSpec, workload: Workload,
                   timings_s: dict[str, float] | None = None) -> tuple[Mapping, Built | None, Played | None]:
    """The mapping ``arch.scheduler.mapping`` asks for; the search also returns its verified plan and run
    (and its host seconds per phase in ``timings_s``)."""
    if arch.scheduler.mapping == "naive":
        return naive_mapping(arch, workload)[0], None, None
    from accelsim.map.search import search_mapping

    return search_mapping(arch, workload, timings_s)


def simulate(arch: ArchSpec, workload: Workload, *, record_timeline: bool = False,
             mapping: Mapping | None = None) -> RunResult:
    """Simulate ``workload`` on ``arch`` (with ``mapping``, or the one ``scheduler.mapping`` chooses);
    deterministic (same inputs, same result, bit for bit)."""
    wall0 = time.perf_counter()
    keep_freed_memory()  # the phases' large arrays reuse each other's pages (accelsim.hostmem)
    small_pages()  # no transparent huge pages: their faults cost a compaction each (accelsim.hostmem)
    ops = workload.ops
    n = len(ops)
    if n == 0:
        raise TraceError(f"{workload.path}: the workload has no ops; nothing to simulate")
    _check_capacity(arch, workload, weight_bytes_of(arch, workload))
    built = played = None
    phases = {"search": 0.0, "cost_map": 0.0, "engine": 0.0, "result": 0.0}
    if mapping is None:
        mapping, built, played = choose_mapping(arch, workload, phases)
    wall = time.perf_counter()
    if built is None:
        built = build_plan(arch, workload, mapping, overlap=arch.scheduler.overlap)
        phases["cost_map"] += time.perf_counter() - wall
    wall = time.perf_counter()
    if played is None:
        played = play(built.plan, arch.scheduler.engine)
        phases["engine"] += time.perf_counter() - wall
    built = built.without_dependencies()  # played: the links and ranks only an engine reads go
    wall = time.perf_counter()
    result = to_result(arch, workload, mapping, built, played, record_timeline)
    phases["result"] = time.perf_counter() - wall
    result.wall_s = time.perf_counter() - wall0
    result.wall_phases_s = phases
    return result


def to_result(arch: ArchSpec, workload: Workload, mapping: Mapping, built: Built, played: Played,
              record_timeline: bool = False) -> RunResult:
    """Aggregate a played plan's pieces to ops (:mod:`accelsim.sim.aggregate`: start: first piece, end: last
    piece, bytes summed, ...) into a RunResult."""
    from accelsim.sim.aggregate import ops_of_pieces

    n = len(workload.ops)
    plan = built.plan
    nl = built.loads
    costs = built.costs
    key = plan.piece_key if plan.piece_key is not None else np.arange(plan.n, dtype=np.int64)
    p0 = built.op_piece0 if built.op_piece0 is not None else np.arange(n + 1, dtype=np.int64)
    (start_s, end_s, busy, dram, saved, resident, macs, elem_ops, op_blocker, row,
     piece_dram) = ops_of_pieces(
        np.ascontiguousarray(p0, dtype=np.int64), nl, key, np.asarray(plan.piece_op), played.hit, played.start_s,
        played.end_s, played.blocker, np.asarray(plan.busy_s, dtype=np.float64),
        np.asarray(plan.hit_busy_s, dtype=np.float64), np.asarray(plan.dram_bytes, dtype=np.float64),
        np.asarray(built.resident, dtype=np.bool_), np.asarray(costs["macs"], dtype=np.int64),
        np.asarray(costs["elem_ops"], dtype=np.int64))
    op_costs = {key_: costs[key_][row] for key_ in ("out_bytes", "unit", "precision_code", "tiles")}
    op_costs.update(macs=macs, elem_ops=elem_ops, dram_bytes=dram, reuse_saved_bytes=saved, busy_s=busy)
    op_costs["precision_names"] = costs["precision_names"]
    op_costs["precision"] = costs["precision_names"][op_costs["precision_code"]]
    op_costs["distinct_keys"] = costs["distinct_keys"]
    unit = op_costs["unit"]
    key_unit = (np.asarray(plan.unit) % UNITS_PER_CORE).astype(np.int8)
    pieces = PieceRun(piece_op=plan.piece_op, start_s=played.start_s, end_s=played.end_s, blocker=played.blocker,
                      core=np.asarray(built.core)[key], unit=key_unit[key], dram_bytes=piece_dram)
    wbytes = weight_bytes_of(arch, workload)
    residency = Residency(built.pinned_per_core, wbytes, {w: int(cs[0]) for w, cs in mapping.pinned.items()},
                          tuple(float(b) for b in built.pinned_bytes))
    placement = {s: int(sm.cores[0]) for s, sm in mapping.streams.items()}
    # non-finite times (e.g. a near-zero bandwidth) are refused at the result boundary, which names the
    # inputs and overrides (accelsim.validation.check_summary, called by run / compare / sweep)
    return RunResult(
        arch=arch, workload=workload, start_s=start_s, end_s=end_s, blocker=op_blocker, core=built.op_core,
        unit=unit, costs=op_costs, resident=resident, placement=placement, residency=residency,
        record_timeline=record_timeline, pieces=pieces if (plan.n != n or nl) else None, mapping=mapping,
    )
