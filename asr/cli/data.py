"""`asr data`: build the synthesized two-domain corpus, import a LibriSpeech-layout tree, check a manifest."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from asr.data.corpus import CorpusConfig, build_corpus
from asr.data.librispeech import librispeech_utterances
from asr.data.manifest import read_manifest, write_manifest


def register(sub) -> None:
    p = sub.add_parser("data", help="build / import / check speech corpora")
    dsub = p.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    b = dsub.add_parser("build", help="synthesize the fortunes (source) + KJV (target) corpus (espeak-ng; Piper, Festival, flite by --*-voices)")
    b.add_argument("--out", required=True, type=Path, help="corpus folder (e.g. data/corpus)")
    b.add_argument("--seed", type=int, default=CorpusConfig.seed)
    b.add_argument("--jobs", type=int, default=2, help="synthesis processes")
    for name in ("source_train", "source_dev", "source_test", "target_dev", "target_test"):
        b.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(CorpusConfig, name), metavar="N")
    b.add_argument("--renditions", type=int, default=CorpusConfig.renditions, metavar="K",
                   help="speakers per source-train sentence (--source-train -1 takes every sentence not in dev/test)")
    b.add_argument("--noise-prob", type=float, default=CorpusConfig.noise_prob, help="share of noisy utterances")
    b.add_argument("--train-voices", default=CorpusConfig.train_voices, metavar="FAMILIES",
                   help="voice families (engine[:voice][=weight], comma-separated) of the training, dev and in-domain "
                        "test splits, e.g. espeak=0.4,piper=0.6 (engines: espeak, piper, kokoro, festival)")
    b.add_argument("--unseen-voices", default=CorpusConfig.unseen_voices, metavar="FAMILIES",
                   help="held-out family for source/target_test_unseen, e.g. festival:ked")
    b.add_argument("--independent-voices", default=CorpusConfig.independent_voices, metavar="FAMILIES",
                   help="reserved evaluation voices for source/target_test_independent, e.g. flite,festival:kal,festival:slt")
    b.add_argument("--augment", type=float, default=CorpusConfig.augment, metavar="P",
                   help="share of training utterances through speed/VTLP/reverb/noise/telephone augmentation")
    b.add_argument("--splits", default="", metavar="SPLITS",
                   help="render only these audio splits (comma-separated, e.g. source_train); the others are left for a "
                        "later run of the same command without --splits (default: all)")
    b.add_argument("--no-progress", action="store_true", help="periodic log lines instead of a progress bar")
    b.set_defaults(func=_build)
    ls = dsub.add_parser("librispeech", help="write a manifest of a LibriSpeech-layout folder")
    ls.add_argument("--root", required=True, type=Path)
    ls.add_argument("--out", required=True, type=Path, help="manifest .jsonl to write")
    ls.set_defaults(func=_librispeech)
    c = dsub.add_parser("check", help="validate manifests (keys, transcripts, audio files)")
    c.add_argument("manifests", nargs="+", type=Path)
    c.set_defaults(func=_check)


def _build(args: argparse.Namespace) -> int:
    cfg = CorpusConfig(
        seed=args.seed,
        source_train=args.source_train,
        source_dev=args.source_dev,
        source_test=args.source_test,
        target_dev=args.target_dev,
        target_test=args.target_test,
        noise_prob=args.noise_prob,
        renditions=args.renditions,
        train_voices=args.train_voices,
        unseen_voices=args.unseen_voices,
        independent_voices=args.independent_voices,
        augment=args.augment,
    )
    only = tuple(x.strip() for x in args.splits.split(",") if x.strip())
    t0 = time.time()
    last = [0.0]

    def progress(split: str, done: int, total: int) -> None:
        if done == total or time.time() - last[0] > 10:
            last[0] = time.time()
            print(f"  {split}: {done}/{total} utterances ({time.time() - t0:.0f} s)", flush=True)

    print(f"asr data build: text splits and LM text -> {args.out}", flush=True)
    if args.no_progress:
        counts = build_corpus(args.out, cfg, jobs=args.jobs, progress=progress, only_splits=only)
    else:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        cols = (TextColumn("{task.description:22s}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn())
        with Progress(*cols) as bar:
            tasks: dict[str, int] = {}

            def show(split: str, done: int, total: int) -> None:
                if split not in tasks:
                    tasks[split] = bar.add_task(split, total=total)
                bar.update(tasks[split], completed=done)

            counts = build_corpus(args.out, cfg, jobs=args.jobs, progress=show, only_splits=only)
    for split, n in counts.items():
        hours = sum(u.duration_s for u in read_manifest(args.out / f"{split}.jsonl")) / 3600
        print(f"{split:14s} {n:6d} utterances {hours:6.2f} h")
    print(f"done in {time.time() - t0:.0f} s")
    return 0


def _librispeech(args: argparse.Namespace) -> int:
    utts = librispeech_utterances(args.root)
    write_manifest(args.out, utts)
    print(f"{args.out}: {len(utts)} utterances, {sum(u.duration_s for u in utts) / 3600:.2f} h")
    return 0


def _check(args: argparse.Namespace) -> int:
    for m in args.manifests:
        utts = read_manifest(m, check_audio=True)
        print(f"{m}: {len(utts)} utterances, {sum(u.duration_s for u in utts) / 3600:.2f} h, all audio present")
    return 0
