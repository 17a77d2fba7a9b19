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
from asr.progress import add_progress_arg, progress_bar


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
                   help="manifests decoded before and after: JSONL paths, or names of manifests in --data "
                        "(default: source_test target_test)")
    p.add_argument("--cache", type=Path, help="feature cache folder for the training set (default OUT/feature_cache)")
    add_progress_arg(p)
    p.set_defaults(func=_qat)


def test_set_paths(data: Path, test_sets: list[str]) -> dict[str, Path]:
    """{result name: manifest path} for ``--test-sets``: a JSONL path as given (named by its stem), else a
    manifest name inside ``--data``; DataError for a missing one or two sets of the same name."""
    out: dict[str, Path] = {}
    for entry in test_sets:
        p = Path(entry)
        path = p if p.suffix == ".jsonl" or p.is_file() else data / f"{entry}.jsonl"
        if not path.is_file():
            raise DataError(f"{path}: --test-sets manifest not found (give a JSONL path or a manifest name in --data)")
        if path.stem in out or path.stem == "source_dev":
            raise DataError(f"--test-sets: two manifests named {path.stem!r} ({out.get(path.stem, 'source_dev')} and "
                            f"{path}); results are keyed by file name")
        out[path.stem] = path
    return out


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
    from asr.data.manifest import read_manifest
    from asr.model.io import load_model
    from asr.quant.io import save_qat
    from asr.quant.pack import build_export
    from asr.quant.prepare import convert
    from asr.quant.qat import QATConfig, finetune, prepare_calibrated
    from asr.quant.recipe import load_recipe
    from asr.search.decode import transcribe
    from asr.train.metrics import cer, wer
    from asr.train.trainer import stdout_log

    recipe = load_recipe(args.recipe)
    qcfg = QATConfig(steps=args.steps, lr=args.lr, batch_frames=args.batch_frames, calib_batches=args.calib_batches,
                     threads=args.threads, seed=args.seed)
    model_dir = resolve_model_dir(args.src)
    fp32, mcfg = load_model(model_dir)
    for name in ["source_train", "source_dev"]:
        if not (args.data / f"{name}.jsonl").is_file():
            raise DataError(f"{args.data / (name + '.jsonl')}: manifest not found (give --data a corpus folder)")
    tests = test_set_paths(args.data, args.test_sets)
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
    if len(train) == 0:
        raise DataError(f"{args.data / 'source_train.jsonl'}: no usable utterances ({train.skipped[:1]})")
    # scored with the one decoding path of `asr decode --beam 1` / `asr eval` (float32 features, greedy)
    skipped: dict[str, list[str]] = {name: [] for name in ["source_dev", *tests]}
    sets = {"source_dev": read_manifest(args.data / "source_dev.jsonl", problems=skipped["source_dev"])[: args.dev_utts]}
    sets |= {name: read_manifest(path, problems=skipped[name]) for name, path in tests.items()}

    def score(model, tag: str) -> dict:
        out = {}
        model.eval()
        for name, utts in sets.items():
            t0 = time.time()
            bad: list[str] = []
            encoded, decoded = transcribe(model, utts, skipped=bad, label=f"{tag} {name}", progress=args.progress)
            refs, hyps = [e.ref for e in encoded], [d.text for d in decoded]
            w, c = (100 * wer(refs, hyps), 100 * cer(refs, hyps)) if refs else (float("nan"), float("nan"))
            out[name] = {"wer_percent": round(w, 2), "cer_percent": round(c, 2), "utts": len(refs),
                         "skipped": len(skipped[name]) + len(bad)}
            log(f"{tag:>10} {name:<12} WER {w:6.2f} %  CER {c:6.2f} %  ({len(refs)} utts, {time.time() - t0:.0f} s)")
        return out

    results = {"recipe": recipe.name, "recipe_file": str(args.recipe), "from": str(model_dir), "command": command,
               "qat_config": asdict(qcfg), "test_sets": {name: str(path) for name, path in tests.items()}}
    results["fp32"] = score(fp32, "fp32")
    qmodel = prepare_calibrated(fp32, recipe, train, qcfg)
    results["calibrated"] = score(qmodel, "calibrated")
    t0 = time.time()
    with progress_bar("qat", qcfg.steps, args.progress) as advance:
        finetune(qmodel, train, qcfg, log, on_step=lambda step, loss: advance(1, info=f"loss/unit {loss:.3f}"))
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
