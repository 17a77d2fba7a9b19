"""``accelsim`` command line: simulate, compare, generate workloads, sweep, report (``accelsim.cli_dispatch``)."""

from __future__ import annotations

import argparse
import sys

from accelsim import cli_dispatch

SUBCOMMAND_MODULES = ("run", "compare", "generate", "sweep", "report", "validate")


def build_parser() -> argparse.ArgumentParser:
    return cli_dispatch.build_parser("accelsim", __doc__.splitlines()[0], __name__, SUBCOMMAND_MODULES)


def main(argv: list[str] | None = None) -> int:
    return cli_dispatch.run(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
