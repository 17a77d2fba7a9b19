"""Run a sweep: validate every point, skip those the journal already holds, evaluate the rest, keep the table fresh.

Output folder::

    sweep.resolved.yaml   the resolved config: spec file and hash, root, every point with its id and values
    journal.jsonl         one fsynced record per finished point (the durable truth; see journal.py)
    results.parquet/.csv  the table, compacted from the journal every few seconds and at the end (atomic)
    timelines/ID.parquet  per-point timelines, only for points the spec's ``timeline`` selectors name

Ctrl-C writes the table and re-raises KeyboardInterrupt; kill -9 loses at most the points in flight. ``resume``
runs only the points without a record (and, with ``retry_errors``, those whose record is an error).
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from accelsim.atomic import atomic_write_text
from accelsim.errors import SweepError
from accelsim.sweep.backends import Backend, EvaluateFn
from accelsim.sweep.grid import ArchChecker, PointTask, default_arch_checker, resolve_points
from accelsim.sweep.journal import JOURNAL_FILE, Journal, Outcome
from accelsim.sweep.results import RESULTS_FORMAT_VERSION, TIMELINE_DIR, build_table, write_results
from accelsim.sweep.spec import load_sweep

RESOLVED_FILE = "sweep.resolved.yaml"


@dataclass(frozen=True)
class SweepReport:
    """What a call to :func:`run_sweep` did."""

    out_dir: Path
    total: int
    reused: int  # points whose journal record was kept (not rerun)
    ran: int  # points evaluated by this call
    errors: int  # rows of the final table whose status is error
    stale: int  # journal records that match no point of this grid (kept in the journal, not in the table)
    elapsed_s: float


def _write_resolved(out: Path, spec_path: Path, spec_sha: str, spec, root: Path, tasks: list[PointTask]) -> None:
    doc = {
        "results_format_version": RESULTS_FORMAT_VERSION,
        "name": spec.name,
        "description": spec.description,
        "spec_file": str(spec_path.resolve()),
        "spec_sha256": spec_sha,
        "root": str(root),
        "points_total": len(tasks),
        "points": [
            {"point_id": t.point_id, "arch": t.arch_file, "workload": t.workload_dir,
             "overrides": dict(t.overrides), "timeline": t.timeline}
            for t in tasks
        ],
    }
    atomic_write_text(out / RESOLVED_FILE, yaml.safe_dump(doc, sort_keys=False, width=110))


@contextlib.contextmanager
def _defer_sigint() -> Iterator[None]:
    """Hold Ctrl-C until the block ends, so a point is never durable in the journal yet missing from the table."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            raise KeyboardInterrupt


def _nothing() -> Iterator[Outcome]:
    yield from ()


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("errors {task.fields[errors]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
        console=Console(stderr=True), disable=not enabled, transient=False,
    )


def run_sweep(
    spec_path: str | Path,
    out_dir: str | Path,
    *,
    backend: Backend,
    evaluate: EvaluateFn | None = None,
    resume: bool = False,
    retry_errors: bool = False,
    progress: bool | None = None,
    check_arch: ArchChecker = default_arch_checker,
    compact_every_s: float = 5.0,
    max_points: int | None = None,
) -> SweepReport:
    """Run (or resume) the sweep in ``spec_path`` into ``out_dir``; see the module doc."""
    start = time.perf_counter()
    spec_path, out = Path(spec_path), Path(out_dir)
    spec, root, spec_sha = load_sweep(spec_path)
    tasks = resolve_points(spec, root, check_arch=check_arch, where=str(spec_path), max_points=max_points)
    if (out / JOURNAL_FILE).exists() and not resume:
        raise SweepError(
            f"{out} already holds a sweep ({JOURNAL_FILE}); pass --resume to continue it, or choose another --out"
        )
    if evaluate is None:
        from accelsim.sweep.evaluate import evaluate_point as evaluate
    out.mkdir(parents=True, exist_ok=True)
    tasks = [
        dataclasses.replace(t, timeline_path=str((out / TIMELINE_DIR / f"{t.point_id}.parquet").resolve()))
        if t.timeline else t
        for t in tasks
    ]
    with Journal(out, header={"name": spec.name, "spec_sha256": spec_sha}) as journal:
        if journal.header.get("name") != spec.name:
            raise SweepError(
                f"{out} holds sweep {journal.header.get('name')!r}, not {spec.name!r} ({spec_path}); "
                "resume a sweep into its own folder, or choose another --out"
            )
        _write_resolved(out, spec_path, spec_sha, spec, root, tasks)
        ids = {t.point_id for t in tasks}
        stale = sum(1 for pid in journal.records if pid not in ids)

        def finished(t: PointTask) -> bool:
            rec = journal.records.get(t.point_id)
            return rec is not None and not (retry_errors and rec.status == "error")

        todo = [t for t in tasks if not finished(t)]
        reused = len(tasks) - len(todo)

        def compact() -> None:
            write_results(out, build_table(tasks, journal.records), name=spec.name, points_total=len(tasks))

        show = sys.stderr.isatty() if progress is None else progress
        ran = 0
        last = time.monotonic()
        try:
            with _progress(show) as bar:
                errors_now = sum(1 for t in tasks if finished(t) and journal.records[t.point_id].status == "error")
                tid = bar.add_task(spec.name, total=len(tasks), completed=reused, errors=errors_now)
                with contextlib.closing(backend.run(evaluate, todo) if todo else _nothing()) as outcomes:
                    for outcome in outcomes:
                        with _defer_sigint():
                            journal.append(outcome)
                        ran += 1
                        errors_now += outcome.status == "error"
                        bar.update(tid, advance=1, errors=errors_now)
                        if time.monotonic() - last >= compact_every_s:
                            compact()
                            last = time.monotonic()
        finally:
            compact()  # also on Ctrl-C: the table holds every finished point
        errors = sum(1 for t in tasks if journal.records[t.point_id].status == "error")
    return SweepReport(out, len(tasks), reused, ran, errors, stale, time.perf_counter() - start)
