"""Saving and loading QAT models: a folder with ``config.yaml`` (model), ``recipe.yaml`` (resolved recipe)
and ``qat.safetensors`` (the prepared model's state: float weights + quantizer clips and ranges). No pickle.
"""

from __future__ import annotations

from pathlib import Path

import torch
import yaml
from safetensors.torch import save_file

from accelsim.atomic import atomic_write, atomic_write_text
from asr.errors import CheckpointError, ConfigError
from asr.quant.prepare import prepare
from asr.quant.recipe import Recipe, load_recipe

QAT_WEIGHTS = "qat.safetensors"
RECIPE = "recipe.yaml"


def save_qat(model: torch.nn.Module, cfg, recipe: Recipe, out_dir: str | Path, extra: dict | None = None) -> Path:
    """Write a prepared RNN-T (``cfg``: its ModelConfig) into ``out_dir``; returns the folder."""
    from asr.model.io import CONFIG

    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    atomic_write(d / QAT_WEIGHTS, lambda p: save_file(state, str(p)))
    atomic_write_text(d / RECIPE, yaml.safe_dump(recipe.to_dict(), sort_keys=False))
    atomic_write_text(d / CONFIG, yaml.safe_dump({**cfg.to_dict(), **(extra or {})}, sort_keys=False))
    return d


def is_qat_dir(path: str | Path) -> bool:
    return (Path(path) / QAT_WEIGHTS).is_file()


def read_config_and_recipe(d: Path):
    """(ModelConfig, Recipe) of a quantized model folder (QAT or packed); a bad file is a CheckpointError."""
    from asr.model.config import ModelConfig, read_sections
    from asr.model.io import CONFIG

    try:
        return ModelConfig.from_dict(read_sections(d / CONFIG), str(d / CONFIG)), load_recipe(d / RECIPE)
    except ConfigError as exc:
        raise CheckpointError(str(exc)) from None


def load_qat(path_dir: str | Path):
    """(prepared model in eval mode, ModelConfig, Recipe) from a folder written by :func:`save_qat`."""
    from asr.model.io import CONFIG, load_state, load_weights
    from asr.model.transducer import Transducer

    d = Path(path_dir)
    if not is_qat_dir(d):
        raise CheckpointError(f"{d}: not a QAT model folder (expected {QAT_WEIGHTS}, {RECIPE}, {CONFIG}; "
                              "write one with `asr qat`)")
    cfg, recipe = read_config_and_recipe(d)
    model = prepare(Transducer(cfg), recipe, inplace=True)
    load_weights(model, load_state(d / QAT_WEIGHTS), str(d / QAT_WEIGHTS))
    return model.eval(), cfg, recipe
