"""The training loop: Adam with warm-up + cosine decay, periodic dev WER, checkpoints, exact resume.

Determinism: batches of epoch e are a function of (seed, e); dropout and SpecAugment draw from the torch
generator whose state is checkpointed; so a run killed and resumed from its last checkpoint continues
bit-for-bit like the uninterrupted run (same thread count). A batch whose loss is not finite is skipped
and counted rather than allowed to poison the weights.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

from accelsim.atomic import atomic_write_text
from asr.data.dataset import SpeechDataset
from asr.data.vocab import decode
from asr.model.config import ModelConfig
from asr.model.io import WEIGHTS, load_state, load_weights, save_model
from asr.model.transducer import Transducer
from asr.train.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from asr.train.config import TrainConfig
from asr.train.decode import greedy_decode
from asr.train.loss import rnnt_loss
from asr.train.metrics import cer, wer


def lr_at(step: int, cfg: TrainConfig, total_steps: int) -> float:
    """Linear warm-up to ``cfg.lr``, then cosine decay to ``cfg.lr * cfg.final_lr_ratio`` at ``total_steps``."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    frac = min(1.0, (step - cfg.warmup_steps) / max(1, total_steps - cfg.warmup_steps))
    return cfg.lr * (cfg.final_lr_ratio + (1 - cfg.final_lr_ratio) * 0.5 * (1 + math.cos(math.pi * frac)))


def spec_augment(feats: torch.Tensor, lens: torch.Tensor, cfg: TrainConfig) -> torch.Tensor:
    """Zero random time and frequency bands in place of a copy: feats (B, T, F) -> (B, T, F)."""
    if not (cfg.time_masks or cfg.freq_masks):
        return feats
    out = feats.clone()
    b, _, f = out.shape
    for i in range(b):
        for _ in range(cfg.freq_masks):
            w = int(torch.randint(0, cfg.freq_mask_bins + 1, ()))
            s = int(torch.randint(0, max(1, f - w), ()))
            out[i, :, s : s + w] = 0
        for _ in range(cfg.time_masks):
            w = min(int(torch.randint(0, cfg.time_mask_frames + 1, ())), int(lens[i]) // 5)
            s = int(torch.randint(0, max(1, int(lens[i]) - w), ()))
            out[i, s : s + w] = 0
    return out


def evaluate(model: Transducer, data: SpeechDataset, batch_frames: int, limit: int | None = None) -> dict:
    """Greedy-decode (up to ``limit``) utterances: {"wer", "cer", "utts", "refs", "hyps"} (fractions)."""
    idx = list(range(len(data) if limit is None else min(limit, len(data))))
    sub = sorted(idx, key=lambda i: data.feats[i].shape[0])
    refs, hyps = [], []
    batch: list[int] = []
    for pos, i in enumerate(sub):
        batch.append(i)
        if pos == len(sub) - 1 or data.feats[sub[pos + 1]].shape[0] * (len(batch) + 1) > batch_frames:
            feats, lens, _, _ = data.collate(batch)
            for j, ids in zip(batch, greedy_decode(model, feats, lens)):
                refs.append(data.texts[j])
                hyps.append(decode(ids))
            batch = []
    return {"wer": wer(refs, hyps), "cer": cer(refs, hyps), "utts": len(refs), "refs": refs, "hyps": hyps}


class Trainer:
    """Trains ``model_cfg`` on ``train`` with dev evaluation on ``dev``, writing under ``out``."""

    def __init__(
        self, model_cfg: ModelConfig, train_cfg: TrainConfig, train: SpeechDataset, dev: SpeechDataset | None, out: Path, log=print, on_step=None
    ) -> None:
        """``log(str)`` receives progress lines; ``on_step(step, total_steps, loss_per_unit)`` drives a progress bar."""
        self.mcfg, self.cfg, self.train, self.dev, self.out, self.log = model_cfg, train_cfg, train, dev, Path(out), log
        self.on_step = on_step
        torch.manual_seed(train_cfg.seed)
        self.model = Transducer(model_cfg)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=train_cfg.lr, weight_decay=train_cfg.weight_decay)
        self.state = {"step": 0, "epoch": 0, "batch": 0, "best_wer": None, "skipped_batches": 0, "evals": []}
        self.steps_per_epoch = len(train.batches(train_cfg.batch_frames, train_cfg.seed, 0))
        self.total_steps = self.steps_per_epoch * train_cfg.max_epochs

    def resume(self) -> bool:
        """Load the newest checkpoint under ``out/ckpt`` if any; True when resumed."""
        ckpt = latest_checkpoint(self.out / "ckpt")
        if ckpt is None:
            return False
        self.state = load_checkpoint(ckpt, self.model, self.opt)
        self.log(f"resumed from {ckpt} (step {self.state['step']}, epoch {self.state['epoch']}, batch {self.state['batch']})")
        return True

    def init_from(self, model_dir: str | Path) -> None:
        """Start from the weights of a saved model (warm start: fresh optimizer, schedule and step count).

        The saved model must have this run's architecture; CheckpointError names the mismatch otherwise.
        """
        src = Path(model_dir)
        load_weights(self.model, load_state(src / WEIGHTS), str(src / WEIGHTS))  # float16 files widen on copy
        self.state["init_from"] = str(src)
        self.log(f"initialized from {src / WEIGHTS} (warm start: new optimizer and learning-rate schedule)")

    def checkpoint(self) -> Path:
        path = save_checkpoint(self.out / "ckpt", self.model, self.mcfg, self.opt, self.state, self.cfg.keep_ckpts)
        self.log(f"checkpoint {path}")
        return path

    def run_eval(self) -> None:
        if self.dev is None or len(self.dev) == 0:
            return
        t0 = time.time()
        res = evaluate(self.model, self.dev, self.cfg.batch_frames, self.cfg.dev_utts)
        rec = {"step": self.state["step"], "epoch": self.state["epoch"], "dev_wer": res["wer"], "dev_cer": res["cer"]}
        self.state["evals"].append(rec)
        best = self.state["best_wer"]
        self.log(f"dev step {rec['step']}: WER {100 * res['wer']:.2f} % CER {100 * res['cer']:.2f} % on {res['utts']} utts ({time.time() - t0:.0f} s)  e.g. ref {res['refs'][-1]!r} hyp {res['hyps'][-1]!r}")
        if best is None or res["wer"] <= best:
            self.state["best_wer"] = res["wer"]
            save_model(self.model, self.mcfg, self.out / "best", extra={"train": asdict(self.cfg)})
            atomic_write_text(self.out / "best" / "dev.json", json.dumps(rec) + "\n")
            atomic_write_text(self.out / "LATEST", str((self.out / "best").resolve()) + "\n")
            self.log(f"new best dev WER {100 * res['wer']:.2f} % -> {self.out / 'best'}")

    def fit(self, max_steps: int | None = None) -> dict:
        """Train until ``max_epochs`` (or ``max_steps`` total steps); returns the trainer state."""
        torch.set_num_threads(self.cfg.threads)
        cfg, st = self.cfg, self.state
        if self.train.skipped:
            self.log(f"skipped {len(self.train.skipped)} bad training utterances:")
            for msg in self.train.skipped[:20]:
                self.log(f"  {msg}")
        self.log(f"model {self.model.num_params():,} parameters; {len(self.train)} train utterances, {self.steps_per_epoch} steps/epoch")
        last_ckpt, t_log, loss_acc, tok_acc = time.time(), time.time(), 0.0, 0
        self.model.train()
        while st["epoch"] < cfg.max_epochs:
            batches = self.train.batches(cfg.batch_frames, cfg.seed, st["epoch"])
            while st["batch"] < len(batches):
                if max_steps is not None and st["step"] >= max_steps:
                    return st
                feats, lens, tokens, tlens = self.train.collate(batches[st["batch"]])
                for g in self.opt.param_groups:
                    g["lr"] = lr_at(st["step"], cfg, self.total_steps)
                logits, enc_lens = self.model(spec_augment(feats, lens, cfg), lens, tokens)  # (B, T', U+1, V)
                nll = rnnt_loss(logits, tokens, enc_lens, tlens)  # (B,)
                loss = nll.sum() / tlens.sum()
                self.opt.zero_grad(set_to_none=True)
                if torch.isfinite(loss):
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
                    self.opt.step()
                    loss_acc, tok_acc = loss_acc + float(nll.detach().sum()), tok_acc + int(tlens.sum())
                else:
                    st["skipped_batches"] += 1
                    self.log(f"step {st['step']}: non-finite loss, batch skipped ({st['skipped_batches']} so far)")
                st["step"] += 1
                st["batch"] += 1
                if self.on_step is not None:
                    self.on_step(st["step"], self.total_steps, float(loss.detach()))
                if st["step"] % cfg.log_every == 0:
                    dt = (time.time() - t_log) / cfg.log_every
                    left = (self.total_steps - st["step"]) * dt / 3600
                    self.log(f"step {st['step']}/{self.total_steps} epoch {st['epoch']} loss/unit {loss_acc / max(1, tok_acc):.3f} lr {self.opt.param_groups[0]['lr']:.2e} {dt:.2f} s/step (~{left:.1f} h left)")
                    t_log, loss_acc, tok_acc = time.time(), 0.0, 0
                if st["step"] % cfg.eval_every == 0:
                    self.run_eval()
                if time.time() - last_ckpt > cfg.ckpt_every_s:
                    self.checkpoint()
                    last_ckpt = time.time()
            st["epoch"] += 1
            st["batch"] = 0
        return st

    def finish(self) -> Path:
        """Evaluate the final weights (unless just done) and write a last checkpoint."""
        evals = self.state["evals"]
        if not evals or evals[-1]["step"] != self.state["step"]:
            self.run_eval()
        return self.checkpoint()


def stdout_log(path: Path | None):
    """A logger printing time-stamped lines to stdout and appending them to ``path``."""

    def log(msg: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {msg}"
        print(line, flush=True, file=sys.stdout)
        if path is not None:
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(line + "\n")

    return log
