"""Train a character LM on a text file (one sentence per line) and measure its perplexity.

Sentences are normalized with ``asr.data.vocab.normalize_text``; each is scored from start-of-sequence (id 0)
through end-of-sequence (id 0), so perplexity is per predicted unit, end of sentence included.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from asr.data.vocab import encode, normalize_text
from asr.errors import DataError
from asr.lm.model import CharLSTMLM, LMConfig, save_lm

IGNORE = -100


def read_sentences(path: str | Path, max_chars: int = 400) -> list[list[int]]:
    """Unit ids of every non-empty line of ``path`` (normalized, cut to ``max_chars`` units)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: text file not found (expected one sentence per line)")
    out = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        text = normalize_text(line)
        if text:
            out.append(encode(text)[:max_chars])
    if not out:
        raise DataError(f"{path}: holds no sentence with characters of the vocabulary")
    return out


def make_batch(sentences: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs (B, U+1) = [0, y] zero-padded and targets (B, U+1) = [y, 0] padded with IGNORE."""
    width = max(len(s) for s in sentences) + 1
    x = torch.zeros(len(sentences), width, dtype=torch.long)
    y = torch.full((len(sentences), width), IGNORE, dtype=torch.long)
    for i, s in enumerate(sentences):
        x[i, 1 : len(s) + 1] = torch.tensor(s)
        y[i, : len(s) + 1] = torch.tensor([*s, 0])
    return x, y


def perplexity(model: CharLSTMLM, sentences: list[list[int]], batch_size: int = 64) -> float:
    """Per-unit perplexity of ``sentences`` (end-of-sequence counted)."""
    model.eval()
    nll, count = 0.0, 0
    order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))
    with torch.no_grad():
        for b in range(0, len(order), batch_size):
            x, y = make_batch([sentences[i] for i in order[b : b + batch_size]])
            logits, _ = model(x)  # (B, U+1, V)
            nll += float(nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten(), ignore_index=IGNORE,
                                                     reduction="sum"))
            count += int((y != IGNORE).sum())
    return math.exp(nll / max(count, 1))


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings; ``max_minutes`` caps wall time (s budget = 60 x minutes)."""

    steps: int = 3000
    batch_size: int = 32
    lr: float = 2e-3
    clip: float = 1.0
    eval_every: int = 250
    dev_fraction: float = 0.02
    max_minutes: float = 15.0
    seed: int = 0


def quantize_for_qat(model: CharLSTMLM, recipe: str | Path, sentences: list[list[int]], batch_size: int = 32):
    """``asr.quant.prepare`` the LM with ``recipe`` and calibrate activation ranges on a few batches.

    Returns (prepared model, the recipe as a mapping for the checkpoint's metadata).
    """
    from asr.errors import ConfigError
    from asr.quant.prepare import calibration, prepare, quant_modules
    from asr.quant.recipe import load_recipe

    rec = load_recipe(recipe)
    qmodel = prepare(model, rec)
    if not list(quant_modules(qmodel)):
        raise ConfigError(f"{recipe}: no rule matches the LM's modules (embedding, lstm, output); add rules for them")
    qmodel.eval()
    with torch.no_grad(), calibration(qmodel):
        for b in range(0, min(len(sentences), 8 * batch_size), batch_size):
            qmodel(make_batch(sentences[b : b + batch_size])[0])
    return qmodel, rec.to_dict()


def train_lm(
    text: str | Path,
    out: str | Path,
    cfg: LMConfig,
    tcfg: TrainConfig,
    log: Callable[[str], None] = print,
    init: CharLSTMLM | None = None,
    recipe: str | Path | None = None,
    on_step: Callable[[int, float], None] | None = None,
) -> dict:
    """Train on ``text``, keep the checkpoint with the best dev perplexity in ``out``; returns its summary.

    ``init`` starts from a trained LM (its config wins over ``cfg``); ``recipe`` makes it quantization-aware
    training: the LM is fake-quantized by ``asr.quant.prepare``, calibrated, then fine-tuned.
    ``on_step(step, train_loss_nats)`` is called after every step (a progress bar); it does not change the run.
    """
    torch.manual_seed(tcfg.seed)
    rng = random.Random(tcfg.seed)
    sentences = read_sentences(text)
    rng.shuffle(sentences)
    n_dev = max(1, int(len(sentences) * tcfg.dev_fraction))
    dev, train = sentences[:n_dev], sentences[n_dev:] or sentences
    log(f"lm train: {len(train)} train / {len(dev)} dev sentences, {sum(map(len, train))} train units from {text}")
    model = init if init is not None else CharLSTMLM(cfg)
    extra: dict = {}
    if recipe is not None:
        log(f"lm train: dev perplexity before quantization {perplexity(model, dev):.3f}")
        model, extra["recipe"] = quantize_for_qat(model, recipe, train)
        log(f"lm train: dev perplexity after {recipe} (calibrated, before QAT) {perplexity(model, dev):.3f}")
    opt = torch.optim.Adam(model.parameters(), lr=tcfg.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=tcfg.steps, eta_min=tcfg.lr * 0.05)
    best = {"dev_ppl": float("inf"), "step": 0}
    start, pool = time.monotonic(), []
    for step in range(1, tcfg.steps + 1):
        if not pool:  # length-bucketed batches: sort 50 batches' worth by length, then shuffle the batches
            chunk = [rng.choice(train) for _ in range(tcfg.batch_size * 50)]
            chunk.sort(key=len)
            pool = [chunk[i : i + tcfg.batch_size] for i in range(0, len(chunk), tcfg.batch_size)]
            rng.shuffle(pool)
        model.train()
        x, y = make_batch(pool.pop())
        logits, _ = model(x)  # (B, U+1, V)
        loss = nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten(), ignore_index=IGNORE)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), tcfg.clip)
        opt.step()
        sched.step()
        if on_step is not None:
            on_step(step, float(loss.detach()))
        out_of_time = time.monotonic() - start > tcfg.max_minutes * 60
        if step % tcfg.eval_every == 0 or step == tcfg.steps or out_of_time:
            ppl = perplexity(model, dev)
            log(f"step {step}: train loss {loss.item():.3f} dev ppl {ppl:.3f} ({time.monotonic() - start:.0f} s)")
            if ppl < best["dev_ppl"]:
                best = {"dev_ppl": ppl, "step": step}
                save_lm(model, out, meta={"text": str(text), "dev_ppl": ppl, "step": step, "seed": tcfg.seed,
                                          "train_sentences": len(train), **extra})
        if out_of_time:
            log(f"lm train: stopping at step {step}: {tcfg.max_minutes} min budget spent")
            break
    return best
