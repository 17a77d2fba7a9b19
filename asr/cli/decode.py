"""`asr decode`: WER (and CPU real-time factor) of one search configuration on a manifest."""

from __future__ import annotations

import argparse
import json

from asr.progress import add_progress_arg, progress_bar
from asr.search.scorer import FusionWeights
from asr.search.step import ALGORITHMS, MAX_BEAM
from asr.validate import finite_float


def add_model_args(p: argparse.ArgumentParser) -> None:
    """Arguments shared by decode, tune-fusion and trace: model, LMs, recipe, threads."""
    p.add_argument("--ckpt", required=True, help="model folder (models/small, a checkpoint folder, or a LATEST file)")
    p.add_argument("--recipe", default=None, help="expected quantization recipe (checked against the QAT model folder's own)")
    p.add_argument("--lm-target", default=None,
                   help="target-domain LM folder (default: lm_target beside the model's folder, else the project's "
                        "models/lm_target; its RECIPE subfolder, e.g. int4/, for a quantized model)")
    p.add_argument("--lm-source", default=None, help="source-domain LM folder (default: like --lm-target, lm_source)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")


def add_search_args(p: argparse.ArgumentParser, fusion_default: str = "none") -> None:
    p.add_argument("--beam", type=int, default=8, help=f"beam width 1..{MAX_BEAM} (default 8)")
    p.add_argument("--algorithm", choices=ALGORITHMS, default="alsd", help="search algorithm (default alsd)")
    p.add_argument("--fusion", choices=("none", "shallow", "dr"), default=fusion_default,
                   help=f"LM fusion (default {fusion_default})")
    p.add_argument("--weights", default=None, help="fusion weights JSON written by `asr tune-fusion`")
    p.add_argument("--lambda", dest="lam", type=finite_float, default=None,
                   help="target-LM weight (overrides --weights)")
    p.add_argument("--mu", type=finite_float, default=None, help="source-LM weight (dr only; overrides --weights)")
    p.add_argument("--rho", type=finite_float, default=None, help="reward per emitted label (overrides --weights)")


def register(sub) -> None:
    p = sub.add_parser("decode", help="beam-search decode a manifest and print WER and RTF")
    add_model_args(p)
    add_search_args(p)
    p.add_argument("--manifest", required=True, help="JSONL manifest (audio_filepath, duration, text)")
    p.add_argument("--limit", type=int, default=0, help="decode only the first N utterances (0 = all)")
    p.add_argument("--out", default=None, help="write per-utterance hypotheses and the summary to this JSON")
    add_progress_arg(p)
    p.set_defaults(func=_run)


def search_config(args: argparse.Namespace):
    from asr.errors import ConfigError
    from asr.search.step import SearchConfig

    try:
        return SearchConfig(beam=args.beam, algorithm=args.algorithm)
    except ValueError as exc:
        raise ConfigError(f"--beam/--algorithm: {exc}") from None


def read_utts(manifest: str, limit: int):
    from asr.data.manifest import read_manifest
    from asr.errors import DataError

    utts = read_manifest(manifest)
    if limit < 0:
        raise DataError(f"--limit = {limit}: must be >= 0")
    return utts[:limit] if limit else utts


def _run(args: argparse.Namespace) -> int:
    from accelsim.atomic import atomic_write_text
    from asr.search.decode import char_error_rate, decode_all, encode, word_error_rate
    from asr.search.setup import fusion_weights, is_integer_model, load_acoustic, load_fusion, set_threads
    from asr.validate import check_decode_summary

    set_threads(args.threads)
    cfg = search_config(args)
    weights: FusionWeights = fusion_weights(args.fusion, args.lam, args.mu, args.rho, args.weights)
    model, path, recipe = load_acoustic(args.ckpt, args.recipe)
    integer = is_integer_model(model)
    fusion, lm_info = load_fusion(weights, args.lm_target, args.lm_source, recipe, acoustic_dir=path, integer=integer)
    utts = read_utts(args.manifest, args.limit)
    with progress_bar("encode", len(utts), args.progress) as advance:
        encoded = encode(model, utts, on_utt=advance)
    with progress_bar(f"decode beam {cfg.beam}", len(utts), args.progress) as advance:
        decoded = decode_all(model, encoded, cfg, fusion, on_utt=advance)
    wer = word_error_rate(encoded, decoded)
    cer = char_error_rate(encoded, decoded)
    audio = sum(e.seconds for e in encoded)
    enc_s = sum(e.encoder_s for e in encoded)
    search_s = sum(d.search_s for d in decoded)
    cpu_s = sum(e.encoder_cpu_s for e in encoded) + sum(d.search_cpu_s for d in decoded)
    summary = {
        "manifest": args.manifest, "utterances": len(utts), "ckpt": str(path),
        "recipe": recipe.name if recipe is not None else None, "integer": integer,
        "algorithm": cfg.algorithm, "beam": cfg.beam, "fusion": weights.kind, "fusion_weights": weights.as_dict(),
        "lms": lm_info, "wer_percent": round(wer, 3), "cer_percent": round(cer, 3), "audio_s": round(audio, 3),
        "rtf": round((enc_s + search_s) / audio, 4), "rtf_search": round(search_s / audio, 4),
        "rtf_cpu": round(cpu_s / audio, 4),
        "threads": args.threads,
    }
    check_decode_summary(summary, f"decode of {args.manifest} with {path}")
    print(f"WER {wer:.2f} %, CER {cer:.2f} % on {len(utts)} utterances ({audio:.1f} s audio); {cfg.algorithm} beam {cfg.beam}, "
          f"fusion {weights.kind} {weights.as_dict()}; RTF {summary['rtf']:.3f} wall "
          f"(search {summary['rtf_search']:.3f}), {summary['rtf_cpu']:.3f} CPU time, {args.threads} thread(s)")
    if args.out:
        rows = [{"ref": e.ref, "hyp": d.text, "score": d.nbest[0].score if d.nbest else None}
                for e, d in zip(encoded, decoded)]
        atomic_write_text(args.out, json.dumps({"summary": summary, "utterances": rows}, indent=1) + "\n")
    return 0
