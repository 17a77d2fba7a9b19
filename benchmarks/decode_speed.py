"""CPU real-time factor of the small model at beam 16 with density-ratio fusion, batched vs unbatched search.

    python benchmarks/decode_speed.py [--ckpt models/small] [--utts 10] [--beam 16] [--algorithm alsd]

One thread (as on the issue's single core). RTF = (features + encoder + search wall time) / audio seconds;
the search-only RTF is printed too, and the search's CPU time split into model calls (prediction network,
LMs, joint: timed in a second, instrumented pass) and the rest (hypothesis bookkeeping: cache lookups,
fusion, top-k, recombination). The unbatched reference (``asr.search.reference``) runs the same search
with batch-1 calls on the same utterances in the same run, and must find the same best hypotheses.
Goal: CPU-time RTF <= 0.05 in total (encoder + batched search) at beam 16 with DR fusion.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from asr.cli.decode import read_utts  # noqa: E402
from asr.search.decode import decode_all, encode, word_error_rate  # noqa: E402
from asr.search.reference import reference_search  # noqa: E402
from asr.search.scorer import FusionWeights  # noqa: E402
from asr.search.setup import load_acoustic, load_fusion  # noqa: E402
from asr.search.step import SearchConfig  # noqa: E402


class _Timed:
    """Wraps a scorer (or the joint) and adds the CPU time of every call to ``spent[0]``."""

    def __init__(self, inner, spent: list[float]) -> None:
        self.inner, self.spent = inner, spent
        self.phase = getattr(inner, "phase", "")

    def initial_state(self, batch: int):
        return self.inner.initial_state(batch)

    def step(self, tokens, state):
        c0 = time.process_time()
        out = self.inner.step(tokens, state)
        self.spent[0] += time.process_time() - c0
        return out


def _model_call_cpu_s(model, encoded, cfg, fusion) -> float:
    """CPU seconds spent inside the prediction network, LM and joint calls of one batched decode."""
    import asr.search.step as step_mod
    from asr.search.scorer import Fusion

    spent = [0.0]
    timed_fusion = Fusion(tuple((_Timed(s, spent), w) for s, w in fusion.terms), fusion.rho)
    original_pred, original_joint = step_mod.prediction_scorer, model.joiner.joint

    def joint(*a):
        c0 = time.process_time()
        out = original_joint(*a)
        spent[0] += time.process_time() - c0
        return out

    step_mod.prediction_scorer = lambda m: _Timed(original_pred(m), spent)
    model.joiner.joint = joint
    try:
        decode_all(model, encoded, cfg, timed_fusion)
    finally:
        step_mod.prediction_scorer = original_pred
        del model.joiner.joint
    return spent[0]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ckpt", default="models/small")
    p.add_argument("--manifest", default="data/corpus/target_test.jsonl")
    p.add_argument("--utts", type=int, default=10, help="utterances (default 10)")
    p.add_argument("--beam", type=int, default=16)
    p.add_argument("--algorithm", default="alsd", choices=("alsd", "mbs"))
    p.add_argument("--weights", default="models/lm_target/fusion_dr.json",
                   help="fusion weights JSON written by asr tune-fusion (default models/lm_target/fusion_dr.json)")
    p.add_argument("--no-reference", action="store_true", help="skip the unbatched search")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    from asr.search.setup import fusion_weights

    weights: FusionWeights = fusion_weights("dr", None, None, None, args.weights)
    model, path, _ = load_acoustic(args.ckpt)
    fusion, _ = load_fusion(weights, None, None, acoustic_dir=path)
    cfg = SearchConfig(beam=args.beam, algorithm=args.algorithm)
    encoded = encode(model, read_utts(args.manifest, args.utts))
    audio = sum(e.seconds for e in encoded)
    enc = (sum(e.encoder_s for e in encoded), sum(e.encoder_cpu_s for e in encoded))
    decode_all(model, encoded[:1], cfg, fusion)  # warm-up
    t0, c0 = time.perf_counter(), time.process_time()
    batched = decode_all(model, encoded, cfg, fusion)
    search = (time.perf_counter() - t0, time.process_time() - c0)
    wer = word_error_rate(encoded, batched)
    print(f"model {path}, {len(encoded)} utterances, {audio:.1f} s audio, {cfg.algorithm} beam {cfg.beam}, "
          f"DR fusion {weights.as_dict()}, 1 thread; RTF = time / audio, wall-clock and CPU time (process_time:"
          f" what one uncontended core would take)")
    row = lambda name, t: print(f"  {name:<18} wall {t[0]:7.2f} s  RTF {t[0] / audio:.4f} | CPU {t[1]:7.2f} s  "  # noqa: E731
                                f"RTF {t[1] / audio:.4f}")
    row("encoder", enc)
    row("batched search", search)
    row("batched total", (enc[0] + search[0], enc[1] + search[1]))
    model_cpu = _model_call_cpu_s(model, encoded, cfg, fusion)
    print(f"  search split (CPU, instrumented pass): model calls {model_cpu:.2f} s "
          f"({100 * model_cpu / search[1]:.0f} %, RTF {model_cpu / audio:.4f}), bookkeeping "
          f"{search[1] - model_cpu:.2f} s ({100 * (1 - model_cpu / search[1]):.0f} %, "
          f"RTF {(search[1] - model_cpu) / audio:.4f})")
    print(f"  WER {wer:.2f} %")
    if not args.no_reference:
        t0, c0 = time.perf_counter(), time.process_time()
        ref = [reference_search(model, e.encp, cfg, fusion) for e in encoded]
        unb = (time.perf_counter() - t0, time.process_time() - c0)
        same = sum(r[0].tokens == b.nbest[0].tokens for r, b in zip(ref, batched))
        row("unbatched search", unb)
        row("unbatched total", (enc[0] + unb[0], enc[1] + unb[1]))
        print(f"  batching speed-up {unb[1] / search[1]:.2f}x (CPU time); same best hypothesis on "
              f"{same}/{len(encoded)} utterances")
    return 0


if __name__ == "__main__":
    sys.exit(main())
