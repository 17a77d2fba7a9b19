"""``accelsim`` command line: simulate, compare, generate workloads, sweep, report (``accelsim.cli_dispatch``)."""

from __future__ import annotations

import argparse
import sys

from accelsim import cli_dispatch

#: subcommand module -> its one-line help (as its ``register`` gives it; tests keep the two equal). Only the
#: chosen subcommand's module is imported, so ``accelsim --help`` loads no pandas, pydantic or simulator.
SUBCOMMANDS = {
    "run": "simulate a workload on an architecture; print RTF and where the time goes",
    "compare": "speedup of architecture B over A on one workload, overall and per phase",
    "generate": "write a synthetic paper-scale RNN-T workload",
    "sweep": "run a grid of simulations (precision x beam x architecture) into a results table",
    "report": "turn a sweep's results into one self-contained interactive HTML page",
    "validate": "predict measured op latencies with the cost path; MAPE per (op, dtype)",
}
SUBCOMMAND_MODULES = tuple(SUBCOMMANDS)


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The whole parser; given ``argv``, one that imports only the subcommand ``argv`` names."""
    return cli_dispatch.build_parser("accelsim", __doc__.splitlines()[0], __name__, SUBCOMMANDS, argv)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if argv is None:  # the program: import the subcommand's modules without collecting garbage
        with cli_dispatch.imports_without_collection():
            parser = build_parser(args)
    else:
        parser = build_parser(args)
    code = cli_dispatch.run(parser, args)
    if argv is None:  # run as the program (the console script), not called: end without the teardown
        cli_dispatch.exit_without_teardown(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
