"""``asr`` command line: one module per subcommand, each exposing ``register(subparsers)``.

Handlers return an exit code; an :class:`~accelsim.errors.AccelsimError` (the asr errors derive from it)
becomes a one-paragraph message on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from accelsim.errors import AccelsimError

SUBCOMMAND_MODULES = ("data", "train", "eval", "qat", "export", "lm", "decode", "tune_fusion", "trace")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="asr", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(f"asr.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except AccelsimError as exc:
        print(f"asr {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"asr {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
