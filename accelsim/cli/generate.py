"""``accelsim generate``: write a synthetic paper-scale RNN-T workload (docs/trace-format.md)."""

from __future__ import annotations

import argparse
import shlex

from accelsim.errors import AccelsimError
from accelsim.trace.synthetic import FUSIONS, SyntheticConfig, write_synthetic


def command_line(args: argparse.Namespace) -> str:
    """The canonical command that regenerates the workload (every option spelled out)."""
    parts = ["accelsim", "generate", "--out", args.out, "--beam", str(args.beam), "--fusion", args.fusion,
             "--utterances", str(args.utterances), "--seconds", str(args.seconds), "--seed", str(args.seed),
             "--emit-rate", str(args.emit_rate)]
    if args.label_frac is not None:
        parts += ["--label-frac", str(args.label_frac)]
    if args.name:
        parts += ["--name", args.name]
    return shlex.join(parts)


def handle(args: argparse.Namespace) -> int:
    try:
        cfg = SyntheticConfig(beam=args.beam, fusion=args.fusion, utterances=args.utterances, seconds=args.seconds,
                              seed=args.seed, emit_rate=args.emit_rate, label_frac=args.label_frac)
    except ValueError as exc:
        field = str(exc).split(" ", 1)[0]
        raise AccelsimError(f"option --{field.replace('_', '-')}: {exc}") from None
    wl = write_synthetic(args.out, cfg, command=command_line(args), name=args.name)
    print(f"wrote {args.out}: {wl.meta.ops.count:,} ops, {wl.audio_seconds:.2f} s of audio in "
          f"{wl.meta.audio.utterances} utterances, beam {cfg.beam}, fusion {cfg.fusion}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("generate", help="write a synthetic paper-scale RNN-T workload", description=__doc__)
    p.add_argument("--out", required=True, help="workload directory to write (created)")
    p.add_argument("--beam", type=int, default=16, help="beam width (default 16)")
    p.add_argument("--fusion", choices=FUSIONS, default="dr", help="LM fusion: none, shallow, dr (default dr)")
    p.add_argument("--utterances", type=int, default=3, help="number of utterances (default 3)")
    p.add_argument("--seconds", type=float, default=4.0, help="mean utterance length, s (default 4)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--emit-rate", type=float, default=0.24, help="labels per encoder frame (default 0.24)")
    p.add_argument("--label-frac", type=float, default=None,
                   help="fraction of beam hypotheses needing new states per step (default: see docs)")
    p.add_argument("--name", default=None, help="workload name (default: the directory name)")
    p.set_defaults(func=handle)
