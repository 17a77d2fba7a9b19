"""``accelsim`` command line: one module per subcommand, each exposing ``register(subparsers)``.

A subcommand's handler takes the parsed ``argparse.Namespace`` and returns an exit code. Bad input raises an
:class:`~accelsim.errors.AccelsimError`, which becomes a one-paragraph message on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from accelsim.errors import AccelsimError

SUBCOMMAND_MODULES = ("run", "compare", "generate", "sweep", "report")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="accelsim", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(f"accelsim.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except AccelsimError as exc:
        print(f"accelsim {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"accelsim {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
