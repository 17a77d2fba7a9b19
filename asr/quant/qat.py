"""The QAT fine-tuning loop: prepare -> calibrate -> fine-tune from the FP32 weights -> evaluate.

Adam with linear warm-up and cosine decay (``asr.train.trainer.lr_at``); learnable clips (PACT, PACT2) get
``clip_lr_mult`` times the weight learning rate, since they live on a scale of ~1 rather than ~0.05.
Deterministic given ``seed`` and the thread count.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from asr.errors import ConfigError
from asr.quant.prepare import calibration, prepare
from asr.quant.recipe import Recipe


@dataclass(frozen=True)
class QATConfig:
    """Fine-tuning settings; sizes in 10 ms input frames, rates per step."""

    steps: int = 300
    lr: float = 2e-4
    warmup_steps: int = 30
    final_lr_ratio: float = 0.1
    batch_frames: int = 12000
    calib_batches: int = 8
    clip_lr_mult: float = 10.0
    grad_clip: float = 5.0
    seed: int = 0
    threads: int = 1
    log_every: int = 10

    def __post_init__(self) -> None:
        problems = [f"{k} = {getattr(self, k)}: must be > 0" for k in
                    ("steps", "lr", "batch_frames", "calib_batches", "clip_lr_mult", "grad_clip", "threads", "log_every")
                    if not getattr(self, k) > 0]
        if self.warmup_steps < 0:
            problems.append(f"warmup_steps = {self.warmup_steps}: must be >= 0")
        if not 0 <= self.final_lr_ratio <= 1:
            problems.append(f"final_lr_ratio = {self.final_lr_ratio}: must be in [0, 1]")
        if problems:
            raise ConfigError("qat: " + "; ".join(problems))


def calibrate(model: torch.nn.Module, train, cfg: QATConfig) -> None:
    """Initialise activation ranges from ``cfg.calib_batches`` training batches (eval mode, no grad)."""
    batches = train.batches(cfg.batch_frames, seed=cfg.seed, epoch=10_000)[: cfg.calib_batches]
    was = model.training
    model.eval()
    with torch.no_grad(), calibration(model):
        for idx in batches:
            feats, lens, tokens, _ = train.collate(idx)
            model(feats, lens, tokens)
    model.train(was)


def prepare_calibrated(fp32_model: torch.nn.Module, recipe: Recipe, train, cfg: QATConfig) -> torch.nn.Module:
    """Fake-quantized copy of ``fp32_model`` with activation ranges calibrated (post-training quantization)."""
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    model = prepare(fp32_model, recipe)
    calibrate(model, train, cfg)
    return model.eval()


def finetune(model: torch.nn.Module, train, cfg: QATConfig, log=print, on_step=None) -> torch.nn.Module:
    """Fine-tune a prepared (and calibrated) model in place for ``cfg.steps`` steps on ``train``.

    ``on_step(step, loss_per_unit)`` is called after every step (a progress bar); it does not change the run.
    """
    from asr.train.config import TrainConfig
    from asr.train.loss import rnnt_loss
    from asr.train.trainer import lr_at

    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    clips = [p for n, p in model.named_parameters() if n.endswith((".hi", ".lo"))]
    weights = [p for n, p in model.named_parameters() if not n.endswith((".hi", ".lo"))]
    groups = [{"params": weights, "mult": 1.0}] + ([{"params": clips, "mult": cfg.clip_lr_mult}] if clips else [])
    opt = torch.optim.Adam(groups, lr=cfg.lr)
    sched = TrainConfig(lr=cfg.lr, warmup_steps=max(1, cfg.warmup_steps), final_lr_ratio=cfg.final_lr_ratio)
    model.train()
    step, epoch, t0, loss_acc, tok_acc = 0, 0, time.time(), 0.0, 0
    while step < cfg.steps:
        for idx in train.batches(cfg.batch_frames, cfg.seed, epoch):
            if step >= cfg.steps:
                break
            feats, lens, tokens, tlens = train.collate(idx)
            for g in opt.param_groups:
                g["lr"] = lr_at(step, sched, cfg.steps) * g["mult"]
            logits, enc_lens = model(feats, lens, tokens)  # (B, T', U+1, V)
            nll = rnnt_loss(logits, tokens, enc_lens, tlens)  # (B,) nats
            loss = nll.sum() / tlens.sum()
            opt.zero_grad(set_to_none=True)
            if torch.isfinite(loss):
                loss.backward()
                torch.nn.utils.clip_grad_norm_(weights, cfg.grad_clip)
                opt.step()
                loss_acc, tok_acc = loss_acc + float(nll.detach().sum()), tok_acc + int(tlens.sum())
            else:
                log(f"step {step}: non-finite loss, batch skipped")
            step += 1
            if on_step is not None:
                on_step(step, float(nll.detach().sum()) / max(1, int(tlens.sum())))
            if step % cfg.log_every == 0:
                dt = (time.time() - t0) / step
                log(f"qat step {step}/{cfg.steps} loss/unit {loss_acc / max(1, tok_acc):.3f} "
                    f"lr {opt.param_groups[0]['lr']:.2e} {dt:.2f} s/step")
                loss_acc, tok_acc = 0.0, 0
        epoch += 1
    return model.eval()
