"""The shared shape of the ``accelsim`` and ``asr`` command lines: one module per subcommand.

Each subcommand module exposes ``register(subparsers)``, which adds its parser and sets ``func``, a handler that
takes the parsed ``argparse.Namespace`` and returns an exit code. Bad input raises an
:class:`~accelsim.errors.AccelsimError` (the asr errors derive from it), which becomes a one-paragraph message on
stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import gc
import importlib
import os
import sys
import threading
from collections.abc import Mapping, Sequence

from accelsim.errors import AccelsimError


def build_parser(prog: str, description: str, package: str, modules: Sequence[str] | Mapping[str, str],
                 argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """A parser whose subcommands are registered by ``package.<name>`` for each name in ``modules``.

    With ``modules`` a mapping name -> one-line help and ``argv`` given, only the module of the subcommand that
    ``argv`` names is imported (the others appear in ``--help`` by their one-line help), so that ``--help`` and
    each command pay only for their own imports.
    """
    parser = argparse.ArgumentParser(prog=prog, description=description)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = None
    if isinstance(modules, Mapping) and argv is not None:
        chosen = next((a for a in argv if not a.startswith("-")), None)
    for name in modules:
        if isinstance(modules, Mapping) and argv is not None and name != chosen:
            sub.add_parser(name, help=modules[name])
        else:
            importlib.import_module(f"{package}.{name}").register(sub)
    return parser


def run(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen handler; user errors -> message + 2, Ctrl-C -> 130."""
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except AccelsimError as exc:
        print(f"{parser.prog} {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{parser.prog} {args.command}: interrupted", file=sys.stderr)
        return 130


@contextlib.contextmanager
def imports_without_collection():
    """Import modules with the cyclic garbage collector paused, then freeze what they made.

    Importing creates many long-lived objects and almost no garbage, yet it triggers the collector, whose full
    passes walk every object imported so far (about 0.15 CPU s of a short ``accelsim run``). Frozen objects
    (:func:`gc.freeze`) stay out of later passes, so the run's own garbage is still collected as usual.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def exit_without_teardown(code: int) -> None:
    """End the process now with exit status ``code``, skipping the interpreter's teardown.

    Tearing down frees every object of every imported module one by one (pandas, pydantic, numba's typing and
    lowering registries): 0.13-0.35 CPU s after a short ``accelsim run``, a tenth to a fifth of it, for nothing
    (the outputs are written and closed by then; mypy ends the same way). The exit handlers still run and the
    standard streams are flushed first. It returns, and the process ends as usual, under a profiler or tracer
    (``python3 -m cProfile``, coverage: they write their results during the teardown), while a thread the
    interpreter would wait for is still running (e.g. an executor's manager thread), and when a flush fails
    (e.g. a closed pipe), letting the interpreter report it.
    """
    if sys.getprofile() is not None or sys.gettrace() is not None:
        return
    main = threading.main_thread()
    if any(t is not main and not t.daemon and t.is_alive() for t in threading.enumerate()):
        return
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    os._exit(code)
