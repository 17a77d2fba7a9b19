"""`asr eval`: greedy-decode manifests with a trained model and print WER and CER."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from accelsim.atomic import atomic_write_text
from asr.errors import DataError


def register(sub) -> None:
    p = sub.add_parser("eval", help="WER / CER of a model on manifests (greedy decoding)")
    p.add_argument("--model", required=True, type=Path, help="model folder (model.safetensors + config.yaml)")
    p.add_argument("manifests", nargs="+", type=Path, help="JSONL manifests to score")
    p.add_argument("--limit", type=int, help="score only the first N utterances of each manifest")
    p.add_argument("--batch-frames", type=int, default=16000, help="padded input frames per decoding batch")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, help="write results (metrics and hypotheses) as JSON here")
    p.add_argument("--vocab-text", type=Path, metavar="TXT",
                   help="training transcripts (e.g. data/corpus/lm_source_train.txt): also split the word errors "
                        "between reference words seen in it and unseen (OOV) words")
    p.set_defaults(func=_eval)


def _eval(args: argparse.Namespace) -> int:
    import torch

    from asr.data.dataset import SpeechDataset
    from asr.model import load_model
    from asr.train.metrics import errors_by_vocabulary
    from asr.train.trainer import evaluate

    torch.set_num_threads(args.threads)
    model, cfg = load_model(args.model)
    vocabulary = None
    if args.vocab_text:
        if not args.vocab_text.is_file():
            raise DataError(f"{args.vocab_text}: --vocab-text file not found")
        vocabulary = set(args.vocab_text.read_text().split())
    results = {}
    print(f"{'manifest':40s} {'utts':>6s} {'WER %':>7s} {'CER %':>7s} {'skipped':>8s}")
    for m in args.manifests:
        data = SpeechDataset(m, cfg.features, limit=args.limit, min_frames=cfg.stack)
        if len(data) == 0:
            raise DataError(f"{m}: no usable utterances ({len(data.skipped)} skipped; first: {data.skipped[:1]})")
        res = evaluate(model, data, args.batch_frames)
        results[str(m)] = {"wer": res["wer"], "cer": res["cer"], "utts": res["utts"], "skipped": data.skipped,
                           "hyps": [{"ref": r, "hyp": h} for r, h in zip(res["refs"], res["hyps"])]}
        print(f"{str(m):40s} {res['utts']:6d} {100 * res['wer']:7.2f} {100 * res['cer']:7.2f} {len(data.skipped):8d}")
        for msg in data.skipped[:3]:
            print(f"  skipped: {msg}")
        if vocabulary is not None:
            split = errors_by_vocabulary(res["refs"], res["hyps"], vocabulary)
            results[str(m)]["by_vocabulary"] = split
            print(f"  {100 * split['oov_rate']:.1f} % of the reference words are unseen in {args.vocab_text}: "
                  f"{100 * split['oov_error_rate']:.1f} % of them wrong, against {100 * split['iv_error_rate']:.1f} % "
                  f"of seen words; {split['insertions']} insertions")
    if args.out:
        atomic_write_text(args.out, json.dumps({"model": str(args.model), "results": results}, indent=1) + "\n")
    return 0
