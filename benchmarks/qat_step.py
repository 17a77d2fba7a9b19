"""QAT training-step cost: (INT4 fake-quant step time) / (FP32 step time) on the same batch. Goal: <= 1.5x.

A step = forward + RNN-T loss + backward + Adam update, on a random batch shaped like the corpus (8
utterances of 4 s, 40 characters each). Prints one table row per recipe and the ratio to FP32.

    python3 benchmarks/qat_step.py [--config configs/paper.yaml] [--recipes recipes/int4.yaml ...]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

from asr.model import ModelConfig, Transducer
from asr.quant import calibration, load_recipe, prepare
from asr.train.loss import rnnt_loss


def step_seconds(model: torch.nn.Module, batch, steps: int, warmup: int) -> float:
    """Median wall time of one training step (s)."""
    feats, lens, tokens, tlens = batch
    opt = torch.optim.Adam(model.parameters(), lr=1e-5)
    model.train()
    times = []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        logits, enc_lens = model(feats, lens, tokens)  # (B, T', U+1, V)
        loss = rnnt_loss(logits, tokens, enc_lens, tlens).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", help="model YAML (features + model sections); default: ModelConfig()")
    ap.add_argument("--recipes", nargs="+", default=["recipes/int4.yaml", "recipes/int8.yaml", "recipes/int4_naive.yaml"])
    ap.add_argument("--batch", type=int, default=8, help="utterances per batch")
    ap.add_argument("--seconds", type=float, default=4.0, help="audio per utterance, s")
    ap.add_argument("--chars", type=int, default=40, help="transcript length, units")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    cfg = ModelConfig.from_yaml(args.config) if args.config else ModelConfig()
    frames = int(args.seconds * 100)
    feats = torch.randn(args.batch, frames, cfg.features.dim)
    lens = torch.full((args.batch,), frames)
    lens[1:] -= torch.randint(0, frames // 4, (args.batch - 1,))
    tokens = torch.randint(1, cfg.vocab_size, (args.batch, args.chars))
    tlens = torch.full((args.batch,), args.chars)
    batch = (feats, lens, tokens, tlens)
    model = Transducer(cfg)
    print(f"model: {model.num_params() / 1e6:.2f} M params; batch {args.batch} x {args.seconds:g} s, "
          f"{args.chars} units; {args.threads} thread(s)")
    base = step_seconds(model, batch, args.steps, args.warmup)
    print(f"{'fp32':<12} {base * 1e3:9.1f} ms/step   1.00x")
    worst = 1.0
    for path in args.recipes:
        recipe = load_recipe(path)
        q = prepare(model, recipe)
        with torch.no_grad(), calibration(q):
            q.eval()
            q(feats, lens, tokens)
        t = step_seconds(q, batch, args.steps, args.warmup)
        print(f"{recipe.name:<12} {t * 1e3:9.1f} ms/step   {t / base:.2f}x")
        if recipe.name == "int4":
            worst = t / base
    print(f"QAT int4 / FP32 step time: {worst:.2f}x (goal <= 1.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
