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


def make_step(model: torch.nn.Module, batch):
    """A closure running one training step of ``model`` on ``batch``; returns its wall time (s)."""
    feats, lens, tokens, tlens = batch
    opt = torch.optim.Adam(model.parameters(), lr=1e-5)
    model.train()

    def step() -> float:
        t0 = time.perf_counter()
        logits, enc_lens = model(feats, lens, tokens)  # (B, T', U+1, V)
        loss = rnnt_loss(logits, tokens, enc_lens, tlens).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return time.perf_counter() - t0

    return step


def interleaved_medians(steps: dict, rounds: int, warmup: int) -> dict[str, float]:
    """Median step time of each model, the models taking turns so that load on a shared machine hits all."""
    times: dict[str, list[float]] = {name: [] for name in steps}
    for r in range(warmup + rounds):
        for name, step in steps.items():
            t = step()
            if r >= warmup:
                times[name].append(t)
    return {name: statistics.median(ts) for name, ts in times.items()}


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
          f"{args.chars} units; {args.threads} thread(s); {args.steps} interleaved rounds")
    steps = {"fp32": make_step(model, batch)}
    for path in args.recipes:
        recipe = load_recipe(path)
        q = prepare(model, recipe)
        q.eval()
        with torch.no_grad(), calibration(q):
            q(feats, lens, tokens)
        steps[recipe.name] = make_step(q, batch)
    med = interleaved_medians(steps, args.steps, args.warmup)
    for name, t in med.items():
        print(f"{name:<12} {t * 1e3:9.1f} ms/step   {t / med['fp32']:.2f}x")
    if "int4" in med:
        print(f"QAT int4 / FP32 step time: {med['int4'] / med['fp32']:.2f}x (goal <= 1.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
