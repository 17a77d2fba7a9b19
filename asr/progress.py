"""One progress bar helper for every long ``asr`` job (rich, like ``accelsim sweep``), off for log files.

    with progress_bar("decode", total=len(utts), enabled=args.progress) as advance:
        for u in utts:
            ...
            advance(1, info="WER 12.3 %")

``enabled=None`` shows the bar only on a terminal (stderr is a tty); ``False`` (``--no-progress``) never
shows it, so redirected logs stay clean. The bar goes to stderr and never changes what a job computes.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Advance = Callable[..., None]


def add_progress_arg(p: argparse.ArgumentParser) -> None:
    """The shared ``--no-progress`` flag (sets ``args.progress = False``; default: bar on a terminal only)."""
    p.add_argument("--no-progress", dest="progress", action="store_false", default=None,
                   help="no progress bar (for logs; by default a bar is shown on a terminal)")


def bar_enabled(enabled: bool | None) -> bool:
    """True for a bar: ``enabled`` itself, or when None whether stderr is a terminal."""
    return sys.stderr.isatty() if enabled is None else bool(enabled)


@contextmanager
def progress_bar(label: str, total: int | None, enabled: bool | None = None,
                 completed: int = 0) -> Iterator[Advance]:
    """Yields ``advance(n=1, info="")``: moves the bar by ``n`` units and shows ``info`` beside it.

    Without a bar, ``advance`` does nothing (the job runs identically).
    """
    if not bar_enabled(enabled):
        yield lambda n=1, info=None: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    cols = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*cols, console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task(label, total=total, completed=completed, info="")

        def advance(n: int = 1, info: str | None = None) -> None:
            if info is None:
                bar.advance(task, n)
            else:
                bar.update(task, advance=n, info=info)

        yield advance
