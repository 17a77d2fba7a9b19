"""Chrome trace-event JSON of a run's schedule (opens in Perfetto / chrome://tracing): one track per unit."""

from __future__ import annotations

from accelsim.cost.op import UNITS
from accelsim.errors import AccelsimError
from accelsim.sim.result import RunResult


def to_chrome_trace(result: RunResult) -> dict:
    """``{"traceEvents": [...]}``: process = core, thread = unit, complete events in microseconds."""
    tl = result.timeline
    if tl is None:
        raise AccelsimError("the run was simulated without record_timeline=True; no timeline to export")
    events: list[dict] = []
    for core in range(result.arch.cores):
        events.append({"ph": "M", "name": "process_name", "pid": core, "tid": 0, "args": {"name": f"core {core}"}})
        for k, unit in enumerate(UNITS):
            events.append({"ph": "M", "name": "thread_name", "pid": core, "tid": k, "args": {"name": unit}})
    unit_index = {u: k for k, u in enumerate(UNITS)}
    for row in tl.itertuples(index=False):
        events.append({
            "ph": "X",
            "name": f"{row.kind} {row.stream}",
            "cat": row.phase,
            "pid": int(row.core),
            "tid": unit_index[str(row.unit)],
            "ts": row.start_s * 1e6,
            "dur": (row.end_s - row.start_s) * 1e6,
            "args": {"op_id": int(row.op_id), "phase": row.phase, "dram_bytes": float(row.dram_bytes)},
        })
    return {"traceEvents": events, "displayTimeUnit": "ns",
            "otherData": {"arch": result.arch.name, "workload": result.workload.name}}
