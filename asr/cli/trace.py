"""`asr trace`: decode real audio and write the operator trace (a workload directory for accelsim)."""

from __future__ import annotations

import argparse
import shlex
import sys

from asr.cli.decode import add_model_args, add_search_args, read_utts, search_config
from asr.trace.workload import SCALES


def register(sub) -> None:
    p = sub.add_parser("trace", help="decode a manifest and write its operator trace as an accelsim workload")
    add_model_args(p)
    add_search_args(p, fusion_default="dr")
    p.add_argument("--manifest", default="data/corpus/target_test.jsonl",
                   help="utterances to decode (default data/corpus/target_test.jsonl)")
    p.add_argument("--limit", type=int, default=20, help="first N utterances (default 20; 0 = all)")
    p.add_argument("--scale", choices=SCALES, default="model",
                   help="model: the decoded model's own shapes; paper: re-emit with --paper-config's shapes")
    p.add_argument("--paper-config", default="configs/paper.yaml", help="paper-scale model config (--scale paper)")
    p.add_argument("--pclass-recipe", default=None,
                   help="recipe that assigns precision classes (matmul / matmul_wide) to the traced weights, e.g. a "
                        "float decode traced for an INT4 chip (default: the QAT model's own recipe, if any)")
    p.add_argument("--out", required=True, help="workload directory to write (e.g. workloads/small_beam16)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from asr.model import ModelConfig
    from asr.search.decode import decode_all, encode, word_error_rate
    from asr.search.setup import fusion_weights, is_integer_model, load_acoustic, load_fusion, set_threads
    from asr.trace.workload import write_decode_trace

    set_threads(args.threads)
    cfg = search_config(args)
    weights = fusion_weights(args.fusion, args.lam, args.mu, args.rho, args.weights)
    model, path, recipe = load_acoustic(args.ckpt, args.recipe)
    fusion, lm_info = load_fusion(weights, args.lm_target, args.lm_source, recipe, acoustic_dir=path,
                                  integer=is_integer_model(model))
    decoded_with = recipe.name if recipe is not None else None
    if args.pclass_recipe:
        from asr.quant.recipe import load_recipe

        recipe = load_recipe(args.pclass_recipe)
    lm_recipes = {k: recipe for k in lm_info} if recipe is not None else None
    paper_cfg = ModelConfig.from_yaml(args.paper_config) if args.scale == "paper" else None
    utts = read_utts(args.manifest, args.limit)
    encoded = encode(model, utts)
    decoded = decode_all(model, encoded, cfg, fusion, record=True)
    wer = word_error_rate(encoded, decoded)
    command = "asr " + shlex.join(sys.argv[1:]) if sys.argv and sys.argv[0].endswith("asr") else \
        "asr trace " + shlex.join(_argv_of(args))
    test_set = f"{args.manifest} (first {len(utts)} utterances)" if args.limit else args.manifest
    wl = write_decode_trace(
        args.out, model_cfg=model.cfg, encoded=encoded, decoded=decoded, cfg=cfg, weights=weights, lm_info=lm_info,
        recipe=recipe, lm_recipes=lm_recipes, wer_percent=wer, test_set=test_set, command=command,
        scale=args.scale, paper_cfg=paper_cfg, model_name=args.ckpt,
        extra_notes=(f"Precision classes from {args.pclass_recipe}; the decode itself ran "
                     f"{'quantized (' + decoded_with + ')' if decoded_with else 'in FP32'} (WER is that system's)."
                     if args.pclass_recipe else ""),
    )
    print(f"{args.out}: {wl.meta.ops.count} ops, {wl.audio_seconds:.1f} s audio in {len(utts)} utterances, "
          f"WER {wer:.2f} %, {args.scale} scale")
    return 0


def _argv_of(args: argparse.Namespace) -> list[str]:
    """The options of this run, for the provenance when not started from the ``asr`` script."""
    out = []
    for key, value in sorted(vars(args).items()):
        if key in ("func", "command") or value is None:
            continue
        flag = {"lam": "lambda"}.get(key, key).replace("_", "-")
        out += [f"--{flag}", str(value)]
    return out
