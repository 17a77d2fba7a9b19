"""Model configuration: a frozen dataclass read from the ``features:`` and ``model:`` sections of a YAML file.

A recipe YAML (configs/*.yaml) has three top-level sections: ``features`` (asr.features.FeatureConfig),
``model`` (ModelConfig below) and ``train`` (asr.train.config.TrainConfig). Unknown keys are errors that
name the file and list the valid keys; every problem of a section is reported at once.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from accelsim.yamlio import load_yaml
from asr.data.vocab import VOCAB_SIZE
from asr.errors import ConfigError
from asr.features import FeatureConfig

SECTIONS = ("features", "model", "train")
COMBINES = ("additive", "multiplicative")


def build_dataclass(cls, data: Any, where: str):
    """Instantiate dataclass ``cls`` from a mapping, rejecting unknown keys ("did you mean") and bad types."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of {cls.__name__} fields, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    problems = []
    for key in data:
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"unknown key {key!r}{hint}")
    kwargs = {}
    for key, value in data.items():
        if key not in fields:
            continue
        default = getattr(cls, key, None) if not isinstance(fields[key].default, type(dataclasses.MISSING)) else None
        if isinstance(default, bool) and not isinstance(value, bool):
            problems.append(f"{key} = {value!r}: expected true or false")
        elif isinstance(default, int) and not isinstance(default, bool) and (isinstance(value, bool) or not isinstance(value, int)):
            problems.append(f"{key} = {value!r}: expected an integer")
        elif isinstance(default, float) and (isinstance(value, bool) or not isinstance(value, (int, float))):
            problems.append(f"{key} = {value!r}: expected a number")
        elif isinstance(default, str) and not isinstance(value, str):
            problems.append(f"{key} = {value!r}: expected a string")
        else:
            kwargs[key] = float(value) if isinstance(default, float) else value
    if problems:
        raise ConfigError(f"{where}: " + "; ".join(problems) + f". Valid keys: {', '.join(fields)}")
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def read_sections(path: str | Path) -> dict[str, Any]:
    """The top-level mapping of a recipe YAML, with unknown sections rejected."""
    data = load_yaml(path, ConfigError) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with sections {', '.join(SECTIONS)}")
    unknown = [k for k in data if k not in SECTIONS]
    if unknown:
        raise ConfigError(f"{path}: unknown section(s) {', '.join(map(str, unknown))}; valid: {', '.join(SECTIONS)}")
    return data


@dataclass(frozen=True)
class ModelConfig:
    """RNN-T shape. ``enc_units`` is per direction, so the encoder output is ``2 * enc_units`` wide."""

    features: FeatureConfig = field(default_factory=FeatureConfig)
    stack: int = 4  # input frames concatenated per encoder step (4 x 10 ms = 40 ms)
    enc_layers: int = 3
    enc_units: int = 256
    enc_dropout: float = 0.1
    vocab_size: int = VOCAB_SIZE
    pred_embed: int = 128
    pred_units: int = 256
    pred_dropout: float = 0.1
    joint_dim: int = 256
    combine: str = "additive"

    def __post_init__(self) -> None:
        problems = []
        for name in ("stack", "enc_layers", "enc_units", "vocab_size", "pred_embed", "pred_units", "joint_dim"):
            if getattr(self, name) <= 0:
                problems.append(f"{name} = {getattr(self, name)}: must be > 0")
        for name in ("enc_dropout", "pred_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                problems.append(f"{name} = {getattr(self, name)}: must be in [0, 1)")
        if self.combine not in COMBINES:
            problems.append(f"combine = {self.combine!r}: must be one of {', '.join(COMBINES)}")
        if self.vocab_size < 2:
            problems.append(f"vocab_size = {self.vocab_size}: needs the blank and at least one unit")
        if problems:
            raise ConfigError("model: " + "; ".join(problems))

    @property
    def input_dim(self) -> int:
        """Encoder input width after frame stacking."""
        return self.features.dim * self.stack

    @property
    def enc_dim(self) -> int:
        return 2 * self.enc_units

    @classmethod
    def from_dict(cls, data: dict, where: str = "config") -> ModelConfig:
        """From ``{"features": {...}, "model": {...}}`` (other sections ignored)."""
        feats = build_dataclass(FeatureConfig, data.get("features"), f"{where}: features")
        model = dict(data.get("model") or {}) if isinstance(data.get("model") or {}, dict) else data.get("model")
        if isinstance(model, dict):
            model.pop("features", None)
        cfg = build_dataclass(_ModelFields, model, f"{where}: model")
        try:
            return cls(features=feats, **dataclasses.asdict(cfg))
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None

    @classmethod
    def from_yaml(cls, path: str | Path) -> ModelConfig:
        """Read the ``features`` and ``model`` sections of a recipe YAML."""
        return cls.from_dict(read_sections(path), str(path))

    def to_dict(self) -> dict:
        """``{"features": {...}, "model": {...}}``, the YAML layout."""
        d = dataclasses.asdict(self)
        return {"features": d.pop("features"), "model": d}


_ModelFields = dataclasses.make_dataclass(
    "ModelConfig",
    [(f.name, f.type, field(default=f.default)) for f in dataclasses.fields(ModelConfig) if f.name != "features"],
    frozen=True,
)
