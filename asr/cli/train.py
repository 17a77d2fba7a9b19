"""`asr train`: train an RNN-T from a recipe YAML on a corpus folder (or explicit manifests); resumable."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from accelsim.atomic import atomic_write_text
from asr.errors import DataError


def register(sub) -> None:
    p = sub.add_parser("train", help="train an RNN-T (resumes from OUT/ckpt when present)")
    p.add_argument("--config", required=True, type=Path, help="recipe YAML (features, model, train sections)")
    p.add_argument("--data", type=Path, help="corpus folder with source_train.jsonl and source_dev.jsonl")
    p.add_argument("--train-manifest", type=Path, nargs="+", metavar="MANIFEST",
                   help="training manifest(s) (override --data); several are joined, in order, into OUT/train.jsonl")
    p.add_argument("--dev-manifest", type=Path, help="dev manifest (overrides --data)")
    p.add_argument("--out", type=Path, help="run folder: log, checkpoints, best/ model")
    p.add_argument("--max-steps", type=int, help="stop after this many steps in total")
    p.add_argument("--limit", type=int, help="use only the first N training utterances")
    p.add_argument("--no-resume", action="store_true", help="start afresh even if OUT/ckpt has checkpoints")
    p.add_argument("--init-from", type=Path, metavar="MODEL",
                   help="warm start from a saved model of the same architecture (ignored when the run resumes)")
    p.add_argument("--dry-run", action="store_true", help="print the model and its parameter count, then exit")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bar even on a terminal (the periodic log lines remain)")
    p.set_defaults(func=_train)


def _train(args: argparse.Namespace) -> int:
    import torch

    from asr.model import ModelConfig, Transducer, param_breakdown
    from asr.train.config import TrainConfig

    mcfg = ModelConfig.from_yaml(args.config)
    tcfg = TrainConfig.from_yaml(args.config)
    if args.dry_run:
        model = Transducer(mcfg)
        print(model)
        parts = ", ".join(f"{k} {v / 1e6:.2f} M" for k, v in param_breakdown(model).items())
        print(f"{args.config}: {model.num_params():,} parameters ({model.num_params() / 1e6:.1f} M: {parts})")
        return 0
    if args.out is None:
        raise DataError("asr train: --out is required (the run folder) unless --dry-run")
    train_m = args.train_manifest or ([args.data / "source_train.jsonl"] if args.data else None)
    dev_m = args.dev_manifest or (args.data / "source_dev.jsonl" if args.data else None)
    if train_m is None:
        raise DataError("asr train: give --data (corpus folder) or --train-manifest")
    from asr.data.dataset import SpeechDataset
    from asr.train.trainer import Trainer, stdout_log

    args.out.mkdir(parents=True, exist_ok=True)
    if len(train_m) == 1:
        train_m = train_m[0]
    else:  # one manifest of them all (paths made absolute); resuming rewrites the same file
        from dataclasses import replace

        from asr.data.manifest import read_manifest, write_manifest

        problems: list[str] = []
        joined = [replace(u, audio=u.audio.resolve()) for m in train_m for u in read_manifest(m, problems=problems)]
        for p in problems:
            print(f"asr train: skipped {p}", file=sys.stderr)
        train_m = args.out / "train.jsonl"
        write_manifest(train_m, joined)
    atomic_write_text(args.out / "COMMAND.txt", "asr " + " ".join(shlex.quote(a) for a in sys.argv[1:]) + "\n")
    log = stdout_log(args.out / "train.log")
    torch.set_num_threads(tcfg.threads)
    cache = args.out / "feature_cache"
    log(f"loading {train_m} (features cached in {cache})")
    train = SpeechDataset(train_m, mcfg.features, cache_dir=cache, limit=args.limit, min_frames=mcfg.stack)
    dev = SpeechDataset(dev_m, mcfg.features, cache_dir=cache, min_frames=mcfg.stack) if dev_m and dev_m.is_file() else None
    if len(train) == 0:
        raise DataError(f"{train_m}: no usable utterances ({len(train.skipped)} skipped, e.g. {train.skipped[:1]})")
    trainer = Trainer(mcfg, tcfg, train, dev, args.out, log=log)
    resumed = False if args.no_resume else trainer.resume()
    if args.init_from and not resumed:
        trainer.init_from(args.init_from)
    if sys.stdout.isatty() and not args.no_progress:  # a progress bar; in a log file the periodic lines suffice
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        cols = (TextColumn("train"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[loss]}"), TimeRemainingColumn())
        with Progress(*cols) as bar:
            task = bar.add_task("train", total=trainer.total_steps, completed=trainer.state["step"], loss="")
            trainer.on_step = lambda step, total, loss: bar.update(task, completed=step, loss=f"loss/unit {loss:.3f}")
            st = trainer.fit(max_steps=args.max_steps)
    else:
        st = trainer.fit(max_steps=args.max_steps)
    trainer.finish()
    skipped = len(train.skipped) + (len(dev.skipped) if dev else 0)
    log(f"finished at step {st['step']}: best dev WER {st['best_wer']}, {skipped} bad utterances skipped, {st['skipped_batches']} batches skipped")
    return 0
