"""Load what a decode needs from the command line's paths: acoustic model, LMs, fusion weights, recipe.

Shared by ``asr decode``, ``asr tune-fusion``, ``asr trace``, the benchmark and the results script, so each
resolves checkpoints, recipes and fusion settings the same way and fails with the same messages.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from asr.errors import CheckpointError, ConfigError
from asr.search.scorer import Fusion, FusionWeights, build_fusion

DEFAULT_LM_TARGET = "models/lm_target"
DEFAULT_LM_SOURCE = "models/lm_source"


def resolve_ckpt(path: str | Path) -> Path:
    """A model folder; a file (or a folder holding ``LATEST``) whose text names one is followed."""
    p = Path(path)
    if p.is_file():
        p = Path(p.read_text(encoding="utf-8").strip())
    elif (p / "LATEST").is_file() and not (p / "model.safetensors").is_file():
        p = Path((p / "LATEST").read_text(encoding="utf-8").strip())
    if not (p / "model.safetensors").is_file():
        raise CheckpointError(f"{path}: no model folder there (expected model.safetensors and config.yaml; "
                              "pass models/small or a checkpoint folder runs/<name>/ckpt/step_*)")
    return p


def load_acoustic(ckpt: str | Path, recipe: str | None = None):
    """(model in eval mode, its path). With ``recipe``, the model is fake-quantized by ``asr.quant.prepare``;
    the folder must then hold QAT weights (quantizer clips included) or float weights that get calibrated."""
    from asr.model import load_model

    path = resolve_ckpt(ckpt)
    if recipe:
        from asr.search.quantized import quantize_acoustic

        return quantize_acoustic(path, recipe), path
    model, _ = load_model(path)
    return model.eval(), path


def load_weights_file(path: str | Path) -> dict[str, float]:
    """Fusion weights written by ``asr tune-fusion`` (JSON: lambda, mu, rho)."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
        return {k: float(doc["best"][k]) for k in ("lambda", "mu", "rho")}
    except FileNotFoundError:
        raise ConfigError(f"{p}: fusion weights file not found (write one with `asr tune-fusion`)") from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{p}: not a fusion weights file ({exc!r}); expected {{best: {{lambda, mu, rho}}}}") from None


def fusion_weights(kind: str, lam: float | None, mu: float | None, rho: float | None,
                   weights_file: str | None) -> FusionWeights:
    """Fusion weights from a tuned file, overridden by explicit values; ``none`` ignores LM weights."""
    base = load_weights_file(weights_file) if weights_file else {"lambda": 0.5, "mu": 0.3, "rho": 0.5}
    lam = base["lambda"] if lam is None else lam
    mu = base["mu"] if mu is None else mu
    rho = base["rho"] if rho is None else rho
    try:
        if kind == "none":
            return FusionWeights("none")
        if kind == "shallow":
            return FusionWeights("shallow", lam, 0.0, rho)
        return FusionWeights("dr", lam, mu, rho)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def load_lms(kind: str, lm_target: str | None, lm_source: str | None, recipe: str | None = None):
    """(target LM or None, source LM or None, description) for fusion ``kind`` (none / shallow / dr)."""
    info: dict = {}
    target = source = None
    if kind in ("shallow", "dr"):
        target = _load_checked(lm_target or DEFAULT_LM_TARGET, recipe, "--lm-target", info, "lm_target")
    if kind == "dr":
        source = _load_checked(lm_source or DEFAULT_LM_SOURCE, recipe, "--lm-source", info, "lm_source")
    return target, source, info


def load_fusion(weights: FusionWeights, lm_target: str | None, lm_source: str | None,
                recipe: str | None = None) -> tuple[Fusion, dict]:
    """The fusion terms and a description of the LMs used (paths, sizes) for result files and traces."""
    target, source, info = load_lms(weights.kind, lm_target, lm_source, recipe)
    return build_fusion(weights, target, source), info


def _load_checked(path: str, recipe: str | None, flag: str, info: dict, key: str):
    """Load an LM and check it is quantized exactly when the acoustic model is (``recipe``)."""
    from asr.lm.model import load_lm

    lm, meta = load_lm(path)
    quantized = bool(meta.get("recipe"))
    if recipe and not quantized:
        raise ConfigError(f"{flag} {path}: float LM, but --recipe {recipe} asks for a quantized system; pass an LM "
                          f"trained with `asr lm train --init {path} --recipe {recipe}`")
    if quantized and not recipe:
        raise ConfigError(f"{flag} {path}: LM quantized with recipe {meta['recipe'].get('name')!r}, but no "
                          "--recipe was given for the acoustic model; pass a float LM or the same --recipe")
    info[key] = {"path": str(path), **_lm_info(lm, meta)}
    return lm


def _lm_info(lm, meta: dict) -> dict:
    c = lm.cfg
    return {"embed": c.embed, "hidden": c.hidden, "layers": c.layers, "dev_ppl": meta.get("dev_ppl"),
            "recipe": (meta.get("recipe") or {}).get("name")}


def set_threads(n: int) -> None:
    if n <= 0:
        raise ConfigError(f"--threads = {n}: must be >= 1")
    torch.set_num_threads(n)
