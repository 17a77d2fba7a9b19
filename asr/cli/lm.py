"""`asr lm train|eval`: train a character LSTM LM on a text file, or print its perplexity on one."""

from __future__ import annotations

import argparse

from asr.errors import ConfigError
from asr.progress import add_progress_arg, progress_bar


def register(sub) -> None:
    p = sub.add_parser("lm", help="train or evaluate a character LSTM language model")
    lm_sub = p.add_subparsers(dest="lm_command", required=True, metavar="ACTION")

    t = lm_sub.add_parser("train", help="train on a text file (one sentence per line)")
    t.add_argument("--text", required=True, help="training text, one sentence per line")
    t.add_argument("--out", required=True, help="output directory (lm.safetensors + lm.json)")
    t.add_argument("--embed", type=int, default=64, help="embedding size (default 64)")
    t.add_argument("--hidden", type=int, default=256, help="LSTM cells per layer (default 256)")
    t.add_argument("--layers", type=int, default=1, help="LSTM layers (default 1)")
    t.add_argument("--steps", type=int, default=3000, help="optimizer steps (default 3000)")
    t.add_argument("--batch-size", type=int, default=32, help="sentences per step (default 32)")
    t.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate (default 2e-3)")
    t.add_argument("--minutes", type=float, default=15.0, help="wall-time budget in minutes (default 15)")
    t.add_argument("--eval-every", type=int, default=250, help="steps between dev evaluations (default 250)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    t.add_argument("--init", default=None, help="start from this trained LM folder (its sizes win)")
    t.add_argument("--recipe", default=None, help="quantization-aware training with this recipe (asr.quant)")
    add_progress_arg(t)
    t.set_defaults(func=_train)

    e = lm_sub.add_parser("eval", help="per-unit perplexity of an LM on a text file")
    e.add_argument("--lm", required=True, help="LM directory written by `asr lm train`")
    e.add_argument("--text", required=True, help="text, one sentence per line")
    e.add_argument("--threads", type=int, default=1)
    e.set_defaults(func=_eval)


def _positive(args: argparse.Namespace, *names: str) -> None:
    for name in names:
        value = getattr(args, name)
        if value <= 0:
            raise ConfigError(f"--{name.replace('_', '-')} = {value}: must be > 0")


def _train(args: argparse.Namespace) -> int:
    import torch

    from asr.lm.model import LMConfig
    from asr.lm.train import TrainConfig, train_lm

    _positive(args, "embed", "hidden", "layers", "steps", "batch_size", "lr", "minutes", "eval_every", "threads")
    torch.set_num_threads(args.threads)
    init = None
    if args.init:
        from asr.lm.model import load_lm

        init, meta = load_lm(args.init)
        if meta.get("recipe"):
            raise ConfigError(f"--init {args.init}: already quantized; start QAT from the float LM")
    with progress_bar("lm train", args.steps, args.progress) as advance:
        best = train_lm(
            args.text,
            args.out,
            LMConfig(embed=args.embed, hidden=args.hidden, layers=args.layers),
            TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr, max_minutes=args.minutes,
                        eval_every=args.eval_every, seed=args.seed),
            log=lambda s: print(s, flush=True),
            init=init,
            recipe=args.recipe,
            on_step=lambda step, loss: advance(1, info=f"loss {loss:.3f}"),
        )
    print(f"lm train: best dev perplexity {best['dev_ppl']:.3f} at step {best['step']} -> {args.out}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    import torch

    from asr.lm.model import load_lm
    from asr.lm.train import perplexity, read_sentences

    torch.set_num_threads(args.threads)
    model, _ = load_lm(args.lm)
    sentences = read_sentences(args.text)
    ppl = perplexity(model, sentences)
    print(f"{args.lm}: perplexity {ppl:.3f} per unit on {len(sentences)} sentences of {args.text}")
    return 0
