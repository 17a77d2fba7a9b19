"""`asr eval`: greedy-decode manifests with a trained model and print WER and CER.

Greedy decoding is ``asr decode --beam 1``'s path (:func:`asr.search.decode.transcribe`: float32 features,
batch-1 encoder, ALSD at beam 1), so both commands give the same hypotheses for every model, INT4 included.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from accelsim.atomic import atomic_write_text
from asr.errors import DataError
from asr.progress import add_progress_arg


def register(sub) -> None:
    p = sub.add_parser("eval", help="WER / CER of a model on manifests (greedy decoding)")
    p.add_argument("--model", required=True, type=Path,
                   help="model folder: float (models/small), packed integer export (models/small_int4) or QAT OUT/model")
    p.add_argument("manifests", nargs="+", type=Path, help="JSONL manifests to score")
    p.add_argument("--limit", type=int, help="score only the first N utterances of each manifest")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, help="write results (metrics and hypotheses) as JSON here")
    p.add_argument("--vocab-text", type=Path, metavar="TXT",
                   help="training transcripts (e.g. data/corpus/lm_source_train.txt): also split the word errors "
                        "between reference words seen in it and unseen (OOV) words")
    add_progress_arg(p)
    p.set_defaults(func=_eval)


def _eval(args: argparse.Namespace) -> int:
    import torch

    from asr.data.manifest import read_manifest
    from asr.search.decode import transcribe
    from asr.search.setup import load_acoustic
    from asr.train.metrics import cer, errors_by_vocabulary, wer

    torch.set_num_threads(args.threads)
    model, _, _ = load_acoustic(args.model)
    vocabulary = None
    if args.vocab_text:
        if not args.vocab_text.is_file():
            raise DataError(f"{args.vocab_text}: --vocab-text file not found")
        vocabulary = set(args.vocab_text.read_text().split())
    if args.limit is not None and args.limit < 0:
        raise DataError(f"--limit = {args.limit}: must be >= 0")
    results = {}
    print(f"{'manifest':40s} {'utts':>6s} {'WER %':>7s} {'CER %':>7s} {'skipped':>8s}")
    for m in args.manifests:
        skipped: list[str] = []
        utts = read_manifest(m, problems=skipped)[: args.limit]
        encoded, decoded = transcribe(model, utts, skipped=skipped, label=f"eval {m.name}", progress=args.progress)
        if not encoded:
            raise DataError(f"{m}: no usable utterances ({len(skipped)} skipped; first: {skipped[:1]})")
        refs, hyps = [e.ref for e in encoded], [d.text for d in decoded]
        res = {"wer": wer(refs, hyps), "cer": cer(refs, hyps), "utts": len(refs)}
        results[str(m)] = {**res, "skipped": skipped, "hyps": [{"ref": r, "hyp": h} for r, h in zip(refs, hyps)]}
        print(f"{str(m):40s} {res['utts']:6d} {100 * res['wer']:7.2f} {100 * res['cer']:7.2f} {len(skipped):8d}")
        for msg in skipped[:3]:
            print(f"  skipped: {msg}")
        if vocabulary is not None:
            split = errors_by_vocabulary(refs, hyps, vocabulary)
            results[str(m)]["by_vocabulary"] = split
            print(f"  {100 * split['oov_rate']:.1f} % of the reference words are unseen in {args.vocab_text}: "
                  f"{100 * split['oov_error_rate']:.1f} % of them wrong, against {100 * split['iv_error_rate']:.1f} % "
                  f"of seen words; {split['insertions']} insertions")
    if args.out:
        atomic_write_text(args.out, json.dumps({"model": str(args.model), "results": results}, indent=1) + "\n")
    return 0
