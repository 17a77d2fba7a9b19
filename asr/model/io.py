"""Saving and loading models: ``model.safetensors`` (weights) + ``config.yaml`` (features and model sections).

No pickle anywhere: safetensors holds only tensors and the YAML is parsed safely, so a model folder from
an untrusted source cannot run code. Missing files, corrupt weights and shape mismatches raise
CheckpointError naming the file.
"""

from __future__ import annotations

from pathlib import Path

import torch
import yaml
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from accelsim.atomic import atomic_write, atomic_write_text
from asr.errors import CheckpointError, ConfigError
from asr.model.config import ModelConfig, read_sections
from asr.model.transducer import Transducer

WEIGHTS = "model.safetensors"
CONFIG = "config.yaml"


def save_model(
    model: Transducer, cfg: ModelConfig, path_dir: str | Path, extra: dict | None = None, half: bool = False
) -> None:
    """Write weights and config into ``path_dir`` (created); ``extra`` YAML sections (e.g. train) are kept.

    ``half`` stores floating-point weights as float16 (half the file; loading casts back to float32).
    """
    d = Path(path_dir)
    d.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    atomic_write(d / WEIGHTS, lambda p: save_file(state, str(p)))
    atomic_write_text(d / CONFIG, yaml.safe_dump({**cfg.to_dict(), **(extra or {})}, sort_keys=False))


def load_state(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of a safetensors file; CheckpointError when missing or corrupt."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"{p}: weights file not found")
    try:
        return load_file(str(p))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{p}: corrupt or not a safetensors file ({exc})") from None


def load_weights(model: torch.nn.Module, state: dict[str, torch.Tensor], where: str) -> None:
    """Copy ``state`` into ``model``; missing, unexpected or mis-shaped tensors raise CheckpointError."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [f"{k}: file {tuple(state[k].shape)} vs config {tuple(v.shape)}" for k, v in own.items() if k in state and state[k].shape != v.shape]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing tensors {missing[:5]}")
        if unexpected:
            parts.append(f"unexpected tensors {unexpected[:5]}")
        if shapes:
            parts.append("shape mismatch " + "; ".join(shapes[:5]))
        raise CheckpointError(f"{where}: weights do not match the config: " + ", ".join(parts))
    model.load_state_dict(state)


def load_model(path_dir: str | Path) -> tuple[Transducer, ModelConfig]:
    """(model in eval mode, its config) from a folder written by :func:`save_model`."""
    d = Path(path_dir)
    if not d.is_dir():
        raise CheckpointError(f"{d}: model folder not found (expected {WEIGHTS} and {CONFIG} inside)")
    try:
        cfg = ModelConfig.from_dict(read_sections(d / CONFIG), str(d / CONFIG))
    except ConfigError as exc:
        raise CheckpointError(str(exc)) from None
    model = Transducer(cfg)
    load_weights(model, load_state(d / WEIGHTS), str(d / WEIGHTS))
    return model.eval(), cfg
