"""Seconds per RNN-T training step (forward, loss, backward, Adam) on this CPU, for recipe configs.

    python3 benchmarks/train_step.py --configs configs/small.yaml configs/paper.yaml --batch 8 --seconds 4

A synthetic batch of ``batch`` utterances of ``seconds`` audio (10 ms frames) and ``chars_per_s``
transcript units each; the first step (allocation, oneDNN primitive creation) is a warm-up and not timed.
Prints one line per config and, with --out, writes a CSV with unit-suffixed columns.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from accelsim.atomic import atomic_write_text
from asr.model import ModelConfig, Transducer
from asr.train.loss import rnnt_loss


def time_steps(cfg: ModelConfig, batch: int, seconds: float, chars_per_s: float, repeats: int) -> list[float]:
    """Wall-clock seconds of ``repeats`` timed training steps (after one warm-up)."""
    torch.manual_seed(0)
    model = Transducer(cfg).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    frames, units = int(seconds * 100), max(1, int(seconds * chars_per_s))
    feats = torch.randn(batch, frames, cfg.features.dim)  # (B, T, F)
    lens = torch.full((batch,), frames)
    tokens = torch.randint(1, cfg.vocab_size, (batch, units))  # (B, U)
    tlens = torch.full((batch,), units)
    out = []
    for i in range(repeats + 1):
        t0 = time.perf_counter()
        logits, enc_lens = model(feats, lens, tokens)  # (B, T', U + 1, V)
        loss = rnnt_loss(logits, tokens, enc_lens, tlens).sum() / tlens.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i:
            out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", nargs="+", type=Path, default=[Path("configs/small.yaml"), Path("configs/paper.yaml")])
    ap.add_argument("--batch", type=int, default=8, help="utterances per step")
    ap.add_argument("--seconds", type=float, default=4.0, help="audio seconds per utterance")
    ap.add_argument("--chars-per-s", type=float, default=14.0, help="transcript units per audio second")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, help="CSV to write")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = ["config,params,batch,audio_s,threads,step_s_median,step_s_min,audio_s_per_step_s"]
    for path in args.configs:
        cfg = ModelConfig.from_yaml(path)
        params = Transducer(cfg).num_params()
        times = time_steps(cfg, args.batch, args.seconds, args.chars_per_s, args.repeats)
        med = statistics.median(times)
        print(f"{path}: {params / 1e6:.1f} M params, batch {args.batch} x {args.seconds} s: {med:.2f} s/step "
              f"(min {min(times):.2f}; {args.batch * args.seconds / med:.1f} audio s per s; {args.threads} threads)")
        rows.append(f"{path},{params},{args.batch},{args.seconds},{args.threads},{med:.4f},{min(times):.4f},{args.batch * args.seconds / med:.3f}")
    if args.out:
        atomic_write_text(args.out, "\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
