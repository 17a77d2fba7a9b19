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
from accelsim.sim.play import play
from accelsim.sim.result import OpRun, RunResult, RunTotals
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
    n = workload.n_ops
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
    piece, bytes summed, ...) and to the summary's totals, in one compiled pass, into a RunResult that keeps
    per op only start, end and blocker (the rest per op class, :class:`~accelsim.sim.result.OpRun`)."""
    from accelsim.cost.op import UNITS
    from accelsim.map.build import op_classes
    from accelsim.sim.aggregate import EXACT_LIMIT, eighths_only, run_of_pieces
    from accelsim.trace.coded import op_codes

    n = workload.n_ops
    plan = built.plan
    nl = built.loads
    costs = built.costs
    small = plan.n < 2**31
    key = plan.piece_key if plan.piece_key is not None else np.arange(plan.n, dtype=np.int32 if small else np.int64)
    p0 = built.op_piece0 if built.op_piece0 is not None else np.arange(n + 1, dtype=np.int32 if small else np.int64)
    oc = op_codes(workload)
    op_class, first = op_classes(workload)
    key_unit = (np.asarray(plan.unit) % UNITS_PER_CORE).astype(np.int8)
    start_s, end_s = np.empty(n), np.empty(n)
    op_blocker = np.empty(n, dtype=np.int32 if small else np.int64)

    dram_k = np.asarray(plan.dram_bytes, dtype=np.float64)
    # DRAM bytes as multiples of 1/8 (and MACs as ints) with sums below EXACT_LIMIT: summed exactly, any order
    exact = (eighths_only(dram_k)
             and float(dram_k.max(initial=0.0)) * plan.n * 8.0 < EXACT_LIMIT
             and float(np.asarray(costs["macs"]).max(initial=0)) * plan.n < EXACT_LIMIT)

    def run(cls: np.ndarray, cls_first: np.ndarray, room: int):
        while True:  # (a loop, not a recursive closure: a closure cycle would keep the plan alive until a GC)
            x = (np.empty(room, dtype=op_blocker.dtype), np.empty(room), np.empty(room), np.empty(room),
                 np.empty(room, dtype=np.bool_))
            got = run_of_pieces(
                p0, nl, key, plan.piece_op, played.hit, played.start_s, played.end_s, played.blocker,
                np.asarray(plan.busy_s, dtype=np.float64), np.asarray(plan.hit_busy_s, dtype=np.float64),
                dram_k, key_unit, np.asarray(built.resident, dtype=np.bool_),
                np.asarray(costs["macs"], dtype=np.int64), np.asarray(costs["elem_ops"], dtype=np.int64),
                costs["precision_code"], len(costs["precision_names"]), cls, cls_first, built.op_core,
                oc.phase.codes, len(oc.phase.names), oc.kind.codes, len(oc.kind.names), costs["unit"], len(UNITS),
                start_s, end_s, op_blocker, *x, exact)
            n_x = got[9]
            if n_x <= room:
                break
            room = n_x  # more ops than room differ from their class: again, with room for all
        for a in x:
            a.resize(n_x, refcheck=False)  # in place (no copy)
        return got[:9] + x + got[10:]

    got = run(op_class, first, n // 4 + 16)
    if not got[0]:  # an op differs from its class (not expected: a plan costs each class once): per op instead
        op_class = first = np.arange(n, dtype=np.int64)
        got = run(op_class, first, 16)
    del run
    ops = OpRun(op_class, first, *got[1:14])
    totals = RunTotals(*got[14:])
    row_costs = {k: costs[k] for k in ("out_bytes", "unit", "precision_code", "tiles", "precision_names",
                                       "distinct_keys")}
    wbytes = weight_bytes_of(arch, workload)
    residency = Residency(built.pinned_per_core, wbytes, {w: int(cs[0]) for w, cs in mapping.pinned.items()},
                          tuple(float(b) for b in built.pinned_bytes))
    placement = {s: int(sm.cores[0]) for s, sm in mapping.streams.items()}
    # non-finite times (e.g. a near-zero bandwidth) are refused at the result boundary, which names the
    # inputs and overrides (accelsim.validation.check_summary, called by run / compare / sweep)
    return RunResult(
        arch=arch, workload=workload, start_s=start_s, end_s=end_s, op_blocker=op_blocker, ops=ops,
        row_costs=row_costs, totals=totals, placement=placement, residency=residency,
        record_timeline=record_timeline, mapping=mapping,
    )
