"""Training checkpoints without pickle: ``<out>/ckpt/step_XXXXXXX/`` holds

    model.safetensors + config.yaml   (a model folder: asr.model.load_model reads it)
    optim.safetensors                 Adam moments and step counts, torch RNG state
    trainer.json                      step, epoch, batch position, best dev WER, optimizer hyper-parameters

A checkpoint is written into a temporary folder and renamed into place, so a kill leaves either the
complete new checkpoint or none; :func:`latest_checkpoint` only sees complete ones.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import torch
from safetensors.torch import save_file

from accelsim.atomic import atomic_write, atomic_write_text
from asr.errors import CheckpointError
from asr.model.config import ModelConfig
from asr.model.io import load_state, load_weights, save_model

TRAINER = "trainer.json"


def save_checkpoint(ckpt_root: Path, model, cfg: ModelConfig, optimizer, trainer: dict, keep: int) -> Path:
    """Write checkpoint ``step_<trainer['step']>`` under ``ckpt_root``; keep the newest ``keep``."""
    final = ckpt_root / f"step_{trainer['step']:07d}"
    tmp = ckpt_root / f".tmp_{final.name}"
    shutil.rmtree(tmp, ignore_errors=True)
    save_model(model, cfg, tmp)
    opt = optimizer.state_dict()
    tensors = {"rng.torch": torch.get_rng_state()}
    for idx, st in opt["state"].items():
        for name, value in st.items():
            tensors[f"opt.{idx}.{name}"] = torch.as_tensor(value).detach().clone().contiguous()
    atomic_write(tmp / "optim.safetensors", lambda p: save_file(tensors, str(p)))
    atomic_write_text(tmp / TRAINER, json.dumps({**trainer, "param_groups": opt["param_groups"]}, indent=1))
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    for old in sorted(ckpt_root.glob("step_*"))[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(ckpt_root: Path) -> Path | None:
    """Newest complete checkpoint folder, or None."""
    done = [p for p in sorted(ckpt_root.glob("step_*")) if (p / TRAINER).is_file()]
    return done[-1] if done else None


def load_checkpoint(path: Path, model, optimizer) -> dict:
    """Restore model, optimizer and torch RNG from ``path``; returns the trainer dict."""
    try:
        trainer = json.loads((path / TRAINER).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path / TRAINER}: unreadable trainer state ({exc})") from None
    load_weights(model, load_state(path / "model.safetensors"), str(path / "model.safetensors"))
    tensors = load_state(path / "optim.safetensors")
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith("opt."):
            _, idx, name = key.split(".", 2)
            state.setdefault(int(idx), {})[name] = value
    try:
        optimizer.load_state_dict({"state": state, "param_groups": trainer.pop("param_groups")})
    except (KeyError, ValueError) as exc:
        raise CheckpointError(f"{path}: optimizer state does not match the model ({exc})") from None
    torch.set_rng_state(tensors["rng.torch"])
    return trainer
