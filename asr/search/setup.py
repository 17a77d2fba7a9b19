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
from asr.validate import check_finite_parameters

#: The project folder (holding models/): default LMs are looked up here, not in the current directory.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_LM_TARGET = "models/lm_target"
DEFAULT_LM_SOURCE = "models/lm_source"


def default_lm_dir(role: str, acoustic_dir: str | Path | None = None, recipe=None) -> Path:
    """The LM folder used when ``--lm-target`` / ``--lm-source`` is not given (``role``: target or source).

    Looked up beside the acoustic model (``models/small`` -> ``models/lm_target``), then in the project's
    ``models/`` folder, never relative to the current directory. For a quantized acoustic model (``recipe``)
    the LM's QAT copy named after the recipe (``models/lm_target/int4``) is taken. ConfigError when none exists.
    """
    from asr.lm.model import CONFIG_FILE

    name = f"lm_{role}"
    bases = ([Path(acoustic_dir).parent / name] if acoustic_dir is not None else []) + [PROJECT_ROOT / "models" / name]
    for base in bases:
        cand = base / recipe.name if recipe is not None else base
        if (cand / CONFIG_FILE).is_file():
            return cand
    looked = ", ".join(str(b / recipe.name if recipe is not None else b) for b in bases)
    raise ConfigError(f"no {role}-domain LM given and none found at {looked}: pass --lm-{role} LM_FOLDER "
                      f"(written by `asr lm train`)")


def is_integer_model(model: torch.nn.Module) -> bool:
    """True when ``model`` holds integer inference modules (a packed export loaded by ``load_packed``)."""
    from asr.quant.integer import INT_MODULES

    return any(isinstance(m, INT_MODULES) for m in model.modules())


def _follow(p: Path) -> Path:
    """A path written in a LATEST-style file, relative ones taken from the file's folder."""
    target = Path(p.read_text(encoding="utf-8").strip())
    return target if target.is_absolute() else p.parent / target


def resolve_ckpt(path: str | Path) -> Path:
    """A model folder (float: model.safetensors, or QAT: qat.safetensors); a file (or a folder holding
    ``LATEST``) whose text names one is followed."""
    p = Path(path)
    is_model = lambda d: any((d / f).is_file() for f in ("model.safetensors", "qat.safetensors",  # noqa: E731
                                                         "model.packed.safetensors"))
    if p.is_file():
        p = _follow(p)
    elif (p / "LATEST").is_file() and not is_model(p):
        p = _follow(p / "LATEST")
    if not is_model(p):
        raise CheckpointError(f"{path}: no model folder there (expected model.safetensors, qat.safetensors or "
                              "model.packed.safetensors with config.yaml; pass models/small, models/small_int4, a "
                              "checkpoint folder, or a QAT folder OUT/model)")
    return p


def load_acoustic(ckpt: str | Path, recipe: str | None = None):
    """(model in eval mode, its folder, its quantization Recipe or None).

    A packed export (``asr export``'s folder, e.g. ``models/small_int4``) loads as the integer model
    (:func:`asr.quant.pack.load_packed`: int codes, int32-exact accumulation); a QAT folder (``asr qat``'s
    OUT/model) loads fake-quantized with the recipe stored beside it. ``recipe``, if given, must name the same
    recipe. A float folder with ``recipe`` is refused (uncalibrated quantizers).
    """
    from asr.model import load_model
    from asr.quant.io import is_qat_dir, load_qat
    from asr.quant.pack import is_packed_dir, load_packed

    path = resolve_ckpt(ckpt)
    if is_packed_dir(path) or is_qat_dir(path):
        model, _, rec = load_packed(path) if is_packed_dir(path) else load_qat(path)
        check_finite_parameters(model, str(path))
        if recipe:
            from asr.quant.recipe import load_recipe

            asked = load_recipe(recipe)
            if asked.name != rec.name:
                raise ConfigError(f"--recipe {recipe} (name {asked.name!r}) differs from the recipe {rec.name!r} "
                                  f"the QAT model {path} was trained with")
        return model.eval(), path, rec
    if recipe:
        raise CheckpointError(f"{path}: float model, but --recipe {recipe} asks for a quantized one: pass the QAT "
                              f"model folder written by `asr qat --from {path} --recipe {recipe}` (OUT/model)")
    model, _ = load_model(path)
    check_finite_parameters(model, str(path))  # all-NaN weights decode "without a word" otherwise
    return model.eval(), path, None


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


def load_lms(kind: str, lm_target: str | None, lm_source: str | None, recipe=None,
             acoustic_dir: str | Path | None = None, integer: bool = False):
    """(target LM or None, source LM or None, description) for fusion ``kind`` (none / shallow / dr).

    LMs not given are found by :func:`default_lm_dir` (beside ``acoustic_dir``, then the project's models/).
    ``integer``: convert the (QAT) LMs to integer inference modules, as the packed acoustic model runs.
    """
    info: dict = {}
    target = source = None
    if kind in ("shallow", "dr"):
        path = lm_target or default_lm_dir("target", acoustic_dir, recipe)
        target = _load_checked(path, recipe, "--lm-target", info, "lm_target", integer)
    if kind == "dr":
        path = lm_source or default_lm_dir("source", acoustic_dir, recipe)
        source = _load_checked(path, recipe, "--lm-source", info, "lm_source", integer)
    return target, source, info


def load_fusion(weights: FusionWeights, lm_target: str | None, lm_source: str | None,
                recipe=None, acoustic_dir: str | Path | None = None, integer: bool = False) -> tuple[Fusion, dict]:
    """The fusion terms and a description of the LMs used (paths, sizes) for result files and traces."""
    target, source, info = load_lms(weights.kind, lm_target, lm_source, recipe, acoustic_dir, integer)
    return build_fusion(weights, target, source), info


def _load_checked(path: str | Path, recipe, flag: str, info: dict, key: str, integer: bool = False):
    """Load an LM and check it is quantized exactly when the acoustic model is (``recipe``: its Recipe)."""
    from asr.lm.model import load_lm

    lm, meta = load_lm(path)
    check_finite_parameters(lm, f"{flag} {path}")  # an all-NaN LM would fuse NaN scores silently
    quantized = bool(meta.get("recipe"))
    if recipe and not quantized:
        raise ConfigError(f"{flag} {path}: float LM, but the acoustic model is quantized with recipe {recipe.name!r};"
                          f" pass an LM trained with `asr lm train --init {path} --recipe {recipe.source or 'RECIPE'}`"
                          f" (e.g. {path}/int4)")
    if quantized and not recipe:
        raise ConfigError(f"{flag} {path}: LM quantized with recipe {meta['recipe'].get('name')!r}, but the acoustic "
                          "model is float; pass a float LM or a QAT acoustic model")
    if quantized and meta["recipe"].get("name") != recipe.name:
        raise ConfigError(f"{flag} {path}: LM quantized with recipe {meta['recipe'].get('name')!r}, the acoustic "
                          f"model with {recipe.name!r}; use LMs and model of the same recipe")
    if integer and quantized:
        from asr.quant.prepare import convert

        lm = convert(lm, "int", inplace=True).eval()
    info[key] = {"path": str(path), **_lm_info(lm, meta), "integer": bool(integer and quantized)}
    return lm


def _lm_info(lm, meta: dict) -> dict:
    c = lm.cfg
    return {"embed": c.embed, "hidden": c.hidden, "layers": c.layers, "dev_ppl": meta.get("dev_ppl"),
            "recipe": (meta.get("recipe") or {}).get("name")}


def set_threads(n: int) -> None:
    if n <= 0:
        raise ConfigError(f"--threads = {n}: must be >= 1")
    torch.set_num_threads(n)
