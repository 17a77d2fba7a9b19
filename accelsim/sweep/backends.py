"""Execution backends: evaluate points in parallel and yield one :class:`Outcome` per point as each finishes.

The evaluation function is a parameter (tests inject crashing or slow ones). Inside a worker :func:`call_point`
turns any exception into an error outcome, so one bad point never stops a sweep.

- :class:`LocalBackend` (default): a process pool (spawn start method, SIGINT ignored in workers so Ctrl-C is
  handled once, by the parent; on Linux each worker is killed when the parent dies, even by kill -9). A worker
  process that *dies* (segfault, kill, out of memory) breaks the pool: the points that were in flight are re-run
  one at a time in a fresh pool, and the one that kills its worker while running alone is recorded as an error;
  the others are unaffected.
- :class:`DaskBackend`: a Dask ``distributed`` cluster, either an existing scheduler (``address``) or a
  ``LocalCluster`` of ``workers`` workers. Paths in the points must be readable by the workers.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

from accelsim.errors import SweepError
from accelsim.sweep.grid import PointTask
from accelsim.sweep.journal import Outcome

EvaluateFn = Callable[[PointTask], dict[str, Any]]
#: Most local worker processes (each is a Python interpreter holding a workload: ~100 MB or more).
MAX_LOCAL_WORKERS = 256
BACKENDS = ("local", "dask")


class Backend(Protocol):
    """Evaluates tasks and yields one Outcome per task, in completion order; closing the iterator stops the work."""

    def run(self, evaluate: EvaluateFn, tasks: list[PointTask]) -> Iterator[Outcome]: ...


def call_point(evaluate: EvaluateFn, task: PointTask) -> Outcome:
    """Run ``evaluate(task)``; an exception becomes an error outcome naming its type, message and place."""
    start = time.perf_counter()
    try:
        result = evaluate(task)
    except Exception as exc:  # noqa: BLE001 - recorded in the point's row, the sweep goes on
        frames = traceback.extract_tb(exc.__traceback__)
        where = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
        return Outcome(
            task.point_id, "error", time.perf_counter() - start,
            error=f"{type(exc).__name__}: {exc}{where}", traceback="".join(traceback.format_exception(exc)),
        )
    return Outcome(task.point_id, "ok", time.perf_counter() - start, result=dict(result))


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this worker when its parent dies (a kill -9 of the sweep leaves no orphans)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before the request took effect
        os._exit(1)


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()


class LocalBackend:
    """Process pool on this machine; see the module doc for how a dying worker is isolated."""

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise SweepError(f"--workers = {workers}: need at least 1 worker")
        if workers > MAX_LOCAL_WORKERS:
            raise SweepError(f"--workers = {workers}: at most {MAX_LOCAL_WORKERS} local worker processes "
                             f"(this machine has {os.cpu_count()} CPUs); use --backend dask for a cluster")
        self.workers = workers

    def _pool(self) -> ProcessPoolExecutor:
        ctx = multiprocessing.get_context("spawn")
        return ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_ignore_sigint)

    def run(self, evaluate: EvaluateFn, tasks: list[PointTask]) -> Iterator[Outcome]:
        queue: deque[PointTask] = deque(tasks)
        suspects: deque[PointTask] = deque()  # in flight when a worker died: rerun alone
        inflight: dict[Future, tuple[PointTask, bool]] = {}
        pool = self._pool()
        clean_exit = False
        try:
            while queue or suspects or inflight:
                broken = False
                try:  # a pool can break between two submits: treat it like a break seen by wait()
                    if suspects:
                        if not inflight:
                            fut = pool.submit(call_point, evaluate, suspects[0])
                            inflight[fut] = (suspects.popleft(), True)
                    else:
                        while queue and len(inflight) < 2 * self.workers:
                            fut = pool.submit(call_point, evaluate, queue[0])
                            inflight[fut] = (queue.popleft(), False)
                except BrokenProcessPool:
                    broken = True
                if not broken and inflight:
                    wait(list(inflight), return_when=FIRST_COMPLETED)
                for fut in [f for f in inflight if f.done()]:
                    task, alone = inflight.pop(fut)
                    exc = fut.exception()
                    if exc is None:
                        yield fut.result()
                    elif isinstance(exc, BrokenProcessPool):
                        broken = True
                        if alone:
                            yield Outcome(
                                task.point_id, "error", 0.0,
                                error="the worker process evaluating this point died (crash, kill or out of memory)",
                            )
                        else:
                            suspects.append(task)
                    else:  # e.g. the task or its result could not be pickled
                        yield Outcome(task.point_id, "error", 0.0, error=f"{type(exc).__name__}: {exc}")
                if broken:
                    suspects.extend(task for task, _ in inflight.values())
                    inflight.clear()
                    pool.shutdown(wait=False, cancel_futures=True)
                    pool = self._pool()
            clean_exit = True
        finally:
            if not clean_exit:  # interrupted: do not wait for running points, their results are not wanted
                for proc in list(getattr(pool, "_processes", {}).values()):
                    proc.terminate()
            pool.shutdown(wait=clean_exit, cancel_futures=True)


class DaskBackend:
    """Dask ``distributed``: an existing scheduler at ``address``, or a LocalCluster of ``workers`` workers."""

    def __init__(self, workers: int, address: str | None = None, processes: bool = True) -> None:
        if workers < 1:
            raise SweepError(f"--workers = {workers}: need at least 1 worker")
        self.workers, self.address, self.processes = workers, address, processes

    def run(self, evaluate: EvaluateFn, tasks: list[PointTask]) -> Iterator[Outcome]:
        try:
            from distributed import Client, LocalCluster, as_completed
        except ImportError:
            raise SweepError(
                "--backend dask needs the dask distributed package: pip install 'accelsim[dask]'"
            ) from None
        cluster = None
        if self.address:
            try:
                client = Client(self.address, timeout="20s")
            except OSError as exc:
                raise SweepError(f"cannot reach the Dask scheduler at {self.address}: {exc}") from None
        else:
            cluster = LocalCluster(
                n_workers=self.workers, threads_per_worker=1, processes=self.processes, dashboard_address=None
            )
            client = Client(cluster)
        futures: dict[Any, PointTask] = {}
        try:
            for task in tasks:
                fut = client.submit(call_point, evaluate, task, key=f"accelsim-point-{task.point_id}", pure=False)
                futures[fut] = task
            for fut in as_completed(list(futures)):
                task = futures[fut]
                try:
                    yield fut.result()
                except Exception as exc:  # noqa: BLE001 - e.g. KilledWorker: record it, keep going
                    yield Outcome(task.point_id, "error", 0.0, error=f"dask: {type(exc).__name__}: {exc}")
        finally:
            client.cancel(list(futures))
            client.close()
            if cluster is not None:
                cluster.close()


def make_backend(name: str, workers: int, address: str | None = None) -> LocalBackend | DaskBackend:
    if name == "local":
        if address:
            raise SweepError("--scheduler applies to --backend dask only")
        return LocalBackend(workers)
    if name == "dask":
        return DaskBackend(workers, address)
    raise SweepError(f"unknown backend {name!r} (allowed: {', '.join(BACKENDS)})")
