"""CPU real-time factor of a shipped model at beam 16 with density-ratio fusion: batched search, split, references.

    python benchmarks/decode_speed.py [--ckpt models/multi] [--manifest data/multi/target_test.jsonl]
                                      [--utts 10] [--beam 16] [--algorithm alsd] [--weights FILE] [--repeat 3]

Run from the project root. One thread (as on the issue's single core). RTF = (features + encoder + search)
time / audio seconds, wall-clock and CPU time (``time.process_time``); the encoder and the batched search
are each timed ``--repeat`` times and the fastest pass is reported (the machine is shared: slower passes are
other jobs' load; the search itself is deterministic). The search's CPU time is split into model calls
(prediction network, LMs and their heads / log-softmax, joint + log-softmax: the stacked cell cache's
``_compute`` and ``StepScorer.joint``, timed in a second, instrumented pass) and the rest (search
bookkeeping: prefix lookups, state gathers, fusion terms, top-k, recombination, hypothesis objects).

Two more searches run on the same utterances and must agree with it: the per-scorer path (``PrefixCache``,
each scorer and the joint called as modules: what quantized models run, and the float search before the
stacked cache), which must give the same n-best bit for bit, and the unbatched reference
(``asr.search.reference``, batch-1 calls), which must find the same best hypotheses.
Goal (issue 15): CPU-time RTF <= 0.05 in total (encoder + batched search) at beam 16 with DR fusion.

Defaults: the newer shipped model ``models/multi`` on ``data/multi/target_test.jsonl`` (target-domain text
spoken by the training voices: its in-domain test set), LMs ``models/lm_target`` + ``models/lm_source``, DR
weights ``CKPT/fusion_dr.json`` when that file exists, else ``models/lm_target/fusion_dr.json``. For
``models/small`` (espeak-ng only) pass ``--ckpt models/small --manifest data/corpus/target_test.jsonl``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import asr.search.step as step_mod  # noqa: E402
from asr.cli.decode import read_utts  # noqa: E402
from asr.search.cache import LSTMCellCache  # noqa: E402
from asr.search.decode import decode_all, encode, word_error_rate  # noqa: E402
from asr.search.reference import reference_search  # noqa: E402
from asr.search.scorer import FusionWeights  # noqa: E402
from asr.search.setup import fusion_weights, load_acoustic, load_fusion  # noqa: E402
from asr.search.step import SearchConfig, StepScorer  # noqa: E402

FALLBACK_WEIGHTS = "models/lm_target/fusion_dr.json"


def _timing(fn, spent: list[float]):
    def timed(*args):
        c0 = time.process_time()
        out = fn(*args)
        spent[0] += time.process_time() - c0
        return out
    return timed


def _model_call_cpu_s(model, encoded, cfg, fusion) -> tuple[float, float]:
    """(CPU s in the model calls, CPU s of the whole search) of one instrumented batched decode."""
    spent = [0.0]
    originals = (LSTMCellCache._compute, StepScorer.joint)
    LSTMCellCache._compute = _timing(originals[0], spent)
    StepScorer.joint = _timing(originals[1], spent)
    try:
        c0 = time.process_time()
        decode_all(model, encoded, cfg, fusion)
        total = time.process_time() - c0
    finally:
        LSTMCellCache._compute, StepScorer.joint = originals
    return spent[0], total


def _per_scorer_path(model, encoded, cfg, fusion):
    """The decode through ``PrefixCache`` and module calls (the stacked cell cache switched off): (decodes, CPU s)."""
    original = step_mod.cell_cache
    step_mod.cell_cache = lambda *a, **k: None
    try:
        c0 = time.process_time()
        out = decode_all(model, encoded, cfg, fusion)
        return out, time.process_time() - c0
    finally:
        step_mod.cell_cache = original


def _nbest_bits(decoded) -> list:
    return [[(h.tokens, h.score, h.am_score, h.t) for h in d.nbest] for d in decoded]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ckpt", default="models/multi")
    p.add_argument("--manifest", default="data/multi/target_test.jsonl")
    p.add_argument("--utts", type=int, default=10, help="utterances (default 10)")
    p.add_argument("--beam", type=int, default=16)
    p.add_argument("--algorithm", default="alsd", choices=("alsd", "mbs"))
    p.add_argument("--weights", default=None,
                   help=f"DR fusion weights JSON written by asr tune-fusion (default CKPT/fusion_dr.json if it exists, "
                        f"else {FALLBACK_WEIGHTS})")
    p.add_argument("--repeat", type=int, default=3,
                   help="timed encoder and batched-search passes, fastest reported (default 3)")
    p.add_argument("--no-reference", action="store_true", help="skip the per-scorer and unbatched searches")
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error(f"--repeat = {args.repeat}: must be >= 1")
    torch.set_num_threads(1)

    weights_file = args.weights
    if weights_file is None:
        own = Path(args.ckpt) / "fusion_dr.json"
        weights_file = str(own) if own.is_file() else FALLBACK_WEIGHTS
    weights: FusionWeights = fusion_weights("dr", None, None, None, weights_file)
    model, path, _ = load_acoustic(args.ckpt)
    fusion, lm_info = load_fusion(weights, None, None, acoustic_dir=path)
    cfg = SearchConfig(beam=args.beam, algorithm=args.algorithm)
    utts = read_utts(args.manifest, args.utts)
    enc_passes = []
    for _ in range(args.repeat):
        encoded = encode(model, utts)
        enc_passes.append((sum(e.encoder_s for e in encoded), sum(e.encoder_cpu_s for e in encoded)))
    enc = min(enc_passes, key=lambda t: t[1])
    audio = sum(e.seconds for e in encoded)
    decode_all(model, encoded[:1], cfg, fusion)  # warm-up
    passes = []
    for _ in range(args.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        batched = decode_all(model, encoded, cfg, fusion)
        passes.append((time.perf_counter() - t0, time.process_time() - c0))
    search = min(passes, key=lambda t: t[1])
    wer = word_error_rate(encoded, batched)
    lms = ", ".join(f"{k} {v['path']}" for k, v in lm_info.items())
    print(f"model {path} on {args.manifest}: {len(encoded)} utterances, {audio:.1f} s audio; {cfg.algorithm} beam "
          f"{cfg.beam}, DR fusion {weights.as_dict()} ({weights_file}; {lms}); 1 thread; RTF = time / audio, "
          f"wall-clock and CPU time (process_time: what one uncontended core would take); fastest of "
          f"{args.repeat} encoder and search passes (CPU s: {', '.join(f'{c:.2f}' for _, c in passes)})")
    row = lambda name, t: print(f"  {name:<22} wall {t[0]:7.2f} s  RTF {t[0] / audio:.4f} | CPU {t[1]:7.2f} s  "  # noqa: E731
                                f"RTF {t[1] / audio:.4f}")
    row("encoder", enc)
    row("batched search", search)
    row("batched total", (enc[0] + search[0], enc[1] + search[1]))
    model_cpu, pass_cpu = _model_call_cpu_s(model, encoded, cfg, fusion)
    rest = pass_cpu - model_cpu
    print(f"  search split (CPU, instrumented pass of {pass_cpu:.2f} s): model calls {model_cpu:.2f} s "
          f"({100 * model_cpu / pass_cpu:.0f} %, RTF {model_cpu / audio:.4f}), search bookkeeping {rest:.2f} s "
          f"({100 * rest / pass_cpu:.0f} %, RTF {rest / audio:.4f})")
    print(f"  WER {wer:.2f} %  (total RTF goal <= 0.05: {'met' if (enc[1] + search[1]) / audio <= 0.05 else 'NOT met'}"
          " in CPU time)")
    if args.no_reference:
        return 0
    generic, generic_cpu = _per_scorer_path(model, encoded, cfg, fusion)
    same_bits = sum(a == b for a, b in zip(_nbest_bits(generic), _nbest_bits(batched)))
    print(f"  per-scorer path        CPU {generic_cpu:7.2f} s  RTF {generic_cpu / audio:.4f} (stacked-cache speed-up "
          f"{generic_cpu / search[1]:.2f}x, one pass each); same n-best bit for bit on {same_bits}/{len(encoded)} "
          "utterances")
    t0, c0 = time.perf_counter(), time.process_time()
    ref = [reference_search(model, e.encp, cfg, fusion) for e in encoded]
    unb = (time.perf_counter() - t0, time.process_time() - c0)
    same = sum(r[0].tokens == b.nbest[0].tokens for r, b in zip(ref, batched))
    row("unbatched search", unb)
    row("unbatched total", (enc[0] + unb[0], enc[1] + unb[1]))
    print(f"  batching speed-up {unb[1] / search[1]:.2f}x (CPU time); same best hypothesis on "
          f"{same}/{len(encoded)} utterances")
    return 0 if same_bits == len(encoded) and same == len(encoded) else 1


if __name__ == "__main__":
    sys.exit(main())
