"""`asr tune-fusion`: search lambda, mu, rho (grid or random) for the lowest WER on a dev set.

The dev set is encoded once; every trial only re-runs the beam search. The result file holds every trial and
the best weights, and ``asr decode --weights FILE`` / ``asr trace --weights FILE`` read it.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random

from asr.cli.decode import add_model_args, read_utts, search_config
from asr.progress import add_progress_arg, progress_bar
from asr.search.step import ALGORITHMS, MAX_BEAM
from asr.validate import finite_float


def _floats(text: str) -> list[float]:
    try:
        values = [finite_float(x) for x in text.split(",") if x.strip()]  # nan/inf refused
    except (ValueError, argparse.ArgumentTypeError):
        raise argparse.ArgumentTypeError(
            f"{text[:80]!r}: expected comma-separated finite numbers, e.g. 0.1,0.3,0.5") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one number")
    return values


def register(sub) -> None:
    p = sub.add_parser("tune-fusion", help="grid/random search of LM fusion weights on a dev set")
    add_model_args(p)
    p.add_argument("--manifest", default="data/corpus/target_dev.jsonl", help="dev manifest (default target_dev)")
    p.add_argument("--limit", type=int, default=100, help="first N utterances (default 100; 0 = all)")
    p.add_argument("--fusion", choices=("shallow", "dr"), default="dr", help="fusion to tune (default dr)")
    p.add_argument("--beam", type=int, default=4, help=f"beam width 1..{MAX_BEAM} while tuning (default 4)")
    p.add_argument("--algorithm", choices=ALGORITHMS, default="alsd")
    p.add_argument("--method", choices=("grid", "random"), default="grid", help="grid (default) or random search")
    p.add_argument("--lambda-values", type=_floats, default=[0.2, 0.4, 0.6, 0.8], help="lambda grid / range")
    p.add_argument("--mu-values", type=_floats, default=[0.0, 0.2, 0.4], help="mu grid / range (dr only)")
    p.add_argument("--rho-values", type=_floats, default=[0.0, 0.5, 1.0, 1.5], help="rho grid / range")
    p.add_argument("--trials", type=int, default=30, help="random search: number of trials (default 30)")
    p.add_argument("--seed", type=int, default=0, help="random search seed")
    p.add_argument("--out", required=True, help="JSON file for all trials and the best weights")
    add_progress_arg(p)
    p.set_defaults(func=_run)


def candidates(args: argparse.Namespace) -> list[tuple[float, float, float]]:
    """(lambda, mu, rho) points: the full grid, or ``trials`` uniform draws inside each list's min..max."""
    from asr.errors import ConfigError

    mus = args.mu_values if args.fusion == "dr" else [0.0]
    if args.method == "grid":
        return list(itertools.product(args.lambda_values, mus, args.rho_values))
    if args.trials <= 0:
        raise ConfigError(f"--trials = {args.trials}: must be > 0")
    rng = random.Random(args.seed)
    span = lambda v: (min(v), max(v))  # noqa: E731
    (l0, l1), (m0, m1), (r0, r1) = span(args.lambda_values), span(mus), span(args.rho_values)
    return [(round(rng.uniform(l0, l1), 4), round(rng.uniform(m0, m1), 4), round(rng.uniform(r0, r1), 4))
            for _ in range(args.trials)]


def _run(args: argparse.Namespace) -> int:
    from accelsim.atomic import atomic_write_text
    from asr.search.decode import decode_all, encode, word_error_rate
    from asr.search.scorer import FusionWeights, build_fusion
    from asr.search.setup import is_integer_model, load_acoustic, load_lms, set_threads

    set_threads(args.threads)
    cfg = search_config(args)
    points = candidates(args)
    model, path, recipe = load_acoustic(args.ckpt, args.recipe)
    target, source, lm_info = load_lms(args.fusion, args.lm_target, args.lm_source, recipe, acoustic_dir=path,
                                       integer=is_integer_model(model))
    utts = read_utts(args.manifest, args.limit)
    with progress_bar("encode", len(utts), args.progress) as advance:
        encoded = encode(model, utts, on_utt=advance)
    base = word_error_rate(encoded, decode_all(model, encoded, cfg))
    print(f"no LM: WER {base:.2f} % on {len(encoded)} utterances of {args.manifest} ({cfg.algorithm} beam {cfg.beam})")
    trials = []
    with progress_bar("tune-fusion", len(points) * len(encoded), args.progress) as advance:
        for i, (lam, mu, rho) in enumerate(points):
            fusion = build_fusion(FusionWeights(args.fusion, lam, mu, rho), target, source)
            wer = word_error_rate(encoded, decode_all(model, encoded, cfg, fusion, on_utt=advance))
            trials.append({"lambda": lam, "mu": mu, "rho": rho, "wer_percent": round(wer, 3)})
            print(f"[{i + 1}/{len(points)}] lambda {lam:g} mu {mu:g} rho {rho:g}: WER {wer:.2f} %", flush=True)
    best = min(trials, key=lambda r: (r["wer_percent"], r["lambda"], r["mu"], r["rho"]))
    doc = {"fusion": args.fusion, "manifest": args.manifest, "utterances": len(encoded), "ckpt": str(path),
           "recipe": recipe.name if recipe is not None else None, "algorithm": cfg.algorithm, "beam": cfg.beam, "method": args.method,
           "no_lm_wer_percent": round(base, 3), "best": best, "trials": trials, "lms": lm_info}
    atomic_write_text(args.out, json.dumps(doc, indent=1) + "\n")
    print(f"best: lambda {best['lambda']:g} mu {best['mu']:g} rho {best['rho']:g}: WER {best['wer_percent']:.2f} % "
          f"(no LM {base:.2f} %) -> {args.out}")
    return 0
