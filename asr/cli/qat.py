"""`asr qat`: fine-tune an FP32 RNN-T with fake quantization following a recipe; report WER before and after.

Writes into OUT: ``model/`` (the QAT model: config.yaml, recipe.yaml, qat.safetensors; `asr export` packs it),
``results.json`` (WER of FP32, calibrated-only and QAT models on dev and the test sets, compression ratio),
``resolved.yaml`` (every setting used) and ``qat.log``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from dataclasses import asdict
from pathlib import Path

from accelsim.atomic import atomic_write_text
from asr.errors import CheckpointError, DataError


def register(sub) -> None:
    p = sub.add_parser("qat", help="quantization-aware fine-tuning from an FP32 model; prints WER before/after")
    p.add_argument("--from", dest="src", required=True, type=Path,
                   help="FP32 model folder (model.safetensors + config.yaml), or a run folder / file holding LATEST")
    p.add_argument("--recipe", required=True, type=Path, help="quantization recipe YAML (recipes/int4.yaml ...)")
    p.add_argument("--data", required=True, type=Path, help="corpus folder with source_train/dev/test.jsonl")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--steps", type=int, default=300, help="fine-tuning steps (default 300)")
    p.add_argument("--lr", type=float, default=2e-4, help="peak Adam learning rate (default 2e-4)")
    p.add_argument("--batch-frames", type=int, default=12000, help="padded 10 ms frames per batch")
    p.add_argument("--calib-batches", type=int, default=8, help="batches that initialise activation ranges")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, help="use only the first N training utterances")
    p.add_argument("--dev-utts", type=int, default=300, help="dev utterances decoded before/after")
    p.add_argument("--test-sets", nargs="*", default=["source_test", "target_test"],
                   help="manifests (names in --data) decoded before and after (default: both test sets)")
    p.add_argument("--cache", type=Path, help="feature cache folder (default OUT/feature_cache)")
    p.set_defaults(func=_qat)


def resolve_model_dir(src: Path) -> Path:
    """A model folder from a folder, a run folder with LATEST, or a LATEST-style file holding a path."""
    if src.is_file():
        target = Path(src.read_text(encoding="utf-8").strip())
        if not target.is_absolute():
            target = src.parent / target
        return resolve_model_dir(target)
    if (src / "LATEST").is_file() and not (src / "model.safetensors").is_file():
        return resolve_model_dir(src / "LATEST")
    if not (src / "model.safetensors").is_file():
        raise CheckpointError(f"{src}: no model.safetensors here (expected an FP32 model folder from `asr train`, "
                              "e.g. runs/small/best or models/small, or a run folder holding LATEST)")
    return src


def _qat(args: argparse.Namespace) -> int:
    import torch

    from asr.data.dataset import SpeechDataset
    from asr.model.io import load_model
    from asr.quant.io import save_qat
    from asr.quant.pack import build_export
    from asr.quant.prepare import convert
    from asr.quant.qat import QATConfig, finetune, prepare_calibrated
    from asr.quant.recipe import load_recipe
    from asr.train.trainer import evaluate, stdout_log

    recipe = load_recipe(args.recipe)
    qcfg = QATConfig(steps=args.steps, lr=args.lr, batch_frames=args.batch_frames, calib_batches=args.calib_batches,
                     threads=args.threads, seed=args.seed)
    model_dir = resolve_model_dir(args.src)
    fp32, mcfg = load_model(model_dir)
    for name in ["source_train", "source_dev", *args.test_sets]:
        if not (args.data / f"{name}.jsonl").is_file():
            raise DataError(f"{args.data / (name + '.jsonl')}: manifest not found (give --data a corpus folder)")
    args.out.mkdir(parents=True, exist_ok=True)
    command = "asr " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    atomic_write_text(args.out / "COMMAND.txt", command + "\n")
    log = stdout_log(args.out / "qat.log")
    torch.set_num_threads(args.threads)
    cache = args.cache or args.out / "feature_cache"
    load = lambda name, limit=None: SpeechDataset(args.data / f"{name}.jsonl", mcfg.features, cache_dir=cache,  # noqa: E731
                                                   limit=limit, min_frames=mcfg.stack)
    log(f"{model_dir}: {sum(p.numel() for p in fp32.parameters()):,} parameters; recipe {recipe.name} ({args.recipe})")
    train = load("source_train", args.limit)
    sets = {"source_dev": load("source_dev", args.dev_utts)} | {name: load(name) for name in args.test_sets}

    def score(model, tag: str) -> dict:
        out = {}
        for name, data in sets.items():
            t0 = time.time()
            res = evaluate(model, data, args.batch_frames)
            out[name] = {"wer_percent": round(100 * res["wer"], 2), "cer_percent": round(100 * res["cer"], 2),
                         "utts": res["utts"]}
            log(f"{tag:>10} {name:<12} WER {100 * res['wer']:6.2f} %  CER {100 * res['cer']:6.2f} %  "
                f"({res['utts']} utts, {time.time() - t0:.0f} s)")
        return out

    results = {"recipe": recipe.name, "recipe_file": str(args.recipe), "from": str(model_dir), "command": command,
               "qat_config": asdict(qcfg)}
    results["fp32"] = score(fp32, "fp32")
    qmodel = prepare_calibrated(fp32, recipe, train, qcfg)
    results["calibrated"] = score(qmodel, "calibrated")
    t0 = time.time()
    finetune(qmodel, train, qcfg, log)
    results["qat_seconds"] = round(time.time() - t0, 1)
    results["qat"] = score(qmodel, "qat")
    save_qat(qmodel, mcfg, recipe, args.out / "model")
    fp32_params = sum(p.numel() for p in fp32.parameters())
    _, _, report = build_export(convert(qmodel, "int"), fp32_params)
    results["compression"] = {"fp32_bytes": report.fp32_bytes, "packed_bytes": report.packed_bytes,
                              "ratio": round(report.ratio, 3)}
    atomic_write_text(args.out / "results.json", json.dumps(results, indent=1) + "\n")
    import yaml

    atomic_write_text(args.out / "resolved.yaml", yaml.safe_dump(
        {"command": command, "from": str(model_dir), "qat": asdict(qcfg), "recipe": recipe.to_dict()}, sort_keys=False))
    print(f"\nWER % ({recipe.name}, {args.steps} QAT steps, compression {report.ratio:.2f}x vs FP32):")
    print(f"  {'set':<12} {'fp32':>7} {'calib':>7} {'qat':>7}")
    for name in sets:
        print(f"  {name:<12} {results['fp32'][name]['wer_percent']:7.2f} {results['calibrated'][name]['wer_percent']:7.2f} "
              f"{results['qat'][name]['wer_percent']:7.2f}")
    print(f"wrote {args.out / 'model'} and {args.out / 'results.json'}")
    return 0
