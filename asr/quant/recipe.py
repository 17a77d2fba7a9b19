"""Quantization recipes: YAML that maps model locations to quantizer configs and states execution precisions.

A recipe (``recipes/*.yaml``)::

    name: int4
    description: free text
    precision: {matmul: int4, matmul_wide: int8, nonlinear: fp16, elementwise: fp16, softmax: fp16}
    rules:                       # first matching rule wins; unmatched modules stay float
      - match: encoder.layers.0  # fnmatch glob(s) on the module path (dotted, as in named_modules())
        kind: lstm               # lstm | linear | embedding
        wide: [input]            # matmuls run as matmul_wide: true/false or a subset of [input, hidden]
        weight: {method: sawb, bits: 4, granularity: channel}
        input: {method: pact2, bits: 8}
        hidden: {method: fixed, bits: 4, clip: 1.0}

``precision`` maps every class of :data:`accelsim.trace.format.PRECISION_CLASSES` to an execution precision,
so traces and the simulator agree with training; the loader checks that no integer quantizer of a matmul is
wider than its class allows. All problems of a file are reported at once.
"""

from __future__ import annotations

import difflib
import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from accelsim.trace.format import PRECISION_CLASSES
from accelsim.yamlio import load_yaml
from asr.errors import ConfigError
from asr.quant.config import IntQuantConfig, QuantConfig, config_from_dict, config_to_dict

PRECISIONS = ("int2", "int4", "int8", "fp8", "fp16", "fp32")
KINDS = ("lstm", "linear", "embedding")
#: Operand names of each kind that take an activation quantizer; "input"/"hidden" also name the matmuls.
OPERANDS = {"lstm": ("input", "hidden"), "linear": ("input",), "embedding": ()}
TOP_KEYS = ("name", "description", "precision", "rules")
RULE_KEYS = ("match", "kind", "wide", "weight", "input", "hidden")


@dataclass(frozen=True)
class Rule:
    """Quantizers of the modules of one kind whose path matches one of ``match``."""

    match: tuple[str, ...]
    kind: str
    weight: QuantConfig | None = None
    input: QuantConfig | None = None
    hidden: QuantConfig | None = None
    wide: tuple[str, ...] = ()  # matmuls of the module that run as matmul_wide

    def matches(self, path: str, kind: str) -> bool:
        return kind == self.kind and any(fnmatch.fnmatchcase(path, pat) for pat in self.match)


@dataclass(frozen=True)
class Recipe:
    name: str
    precision: dict[str, str]
    rules: tuple[Rule, ...]
    description: str = ""
    source: str = field(default="", compare=False)

    def rule_for(self, path: str, kind: str) -> Rule | None:
        """The first rule matching module ``path`` of ``kind``; None when the module stays float."""
        return next((r for r in self.rules if r.matches(path, kind)), None)

    def matmul_pclass(self, path: str, kind: str, operand: str = "input") -> str:
        """Precision class (``matmul`` or ``matmul_wide``) of a module's matmul; ``operand``: input | hidden.

        Unmatched (float) modules are ``matmul_wide``: they are wider than the recipe's matmul precision.
        """
        rule = self.rule_for(path, kind)
        if rule is None or operand in rule.wide:
            return "matmul_wide"
        return "matmul"

    def to_dict(self) -> dict[str, Any]:
        rules = []
        for r in self.rules:
            d: dict[str, Any] = {"match": list(r.match), "kind": r.kind, "wide": list(r.wide)}
            for key in ("weight", *OPERANDS[r.kind]):
                d[key] = config_to_dict(getattr(r, key))
            rules.append(d)
        return {"name": self.name, "description": self.description, "precision": dict(self.precision),
                "rules": rules}


def _bits(precision: str) -> int | None:
    return int(precision[3:]) if precision.startswith("int") else None


def parse_recipe(data: Any, where: str) -> Recipe:
    """Validate a recipe mapping (see the module docstring); ``where`` names the file in messages."""
    problems: list[str] = []
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping with keys {', '.join(TOP_KEYS)}")
    for key in data:
        if key not in TOP_KEYS:
            close = difflib.get_close_matches(str(key), TOP_KEYS, n=1)
            problems.append(f"{where}: unknown key {key!r}" + (f"; did you mean {close[0]!r}?" if close else ""))
    name = data.get("name")
    if not isinstance(name, str) or not name:
        problems.append(f"{where}: name: required, a non-empty string")
    precision = data.get("precision")
    if not isinstance(precision, dict):
        problems.append(f"{where}: precision: required mapping of {', '.join(PRECISION_CLASSES)} to one of "
                        f"{', '.join(PRECISIONS)}")
        precision = {}
    for cls in PRECISION_CLASSES:
        if cls not in precision:
            problems.append(f"{where}: precision.{cls}: required (one of {', '.join(PRECISIONS)})")
        elif precision[cls] not in PRECISIONS:
            problems.append(f"{where}: precision.{cls} = {precision[cls]!r}: must be one of {', '.join(PRECISIONS)}")
    for cls in precision:
        if cls not in PRECISION_CLASSES:
            problems.append(f"{where}: precision.{cls}: unknown precision class (allowed: {', '.join(PRECISION_CLASSES)})")
    raw_rules = data.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        problems.append(f"{where}: rules: required, a non-empty list of rules")
        raw_rules = []
    rules = []
    for i, raw in enumerate(raw_rules):
        rw = f"{where}: rules[{i}]"
        try:
            rules.append(_parse_rule(raw, rw, precision, problems))
        except ConfigError as exc:
            problems.append(str(exc))
    if problems:
        raise ConfigError("; ".join(problems) if len(problems) == 1 else "\n".join(problems))
    return Recipe(name=name, precision=dict(precision), rules=tuple(rules),
                  description=str(data.get("description") or "").strip(), source=where)


def _parse_rule(raw: Any, rw: str, precision: dict, problems: list[str]) -> Rule:
    if not isinstance(raw, dict):
        raise ConfigError(f"{rw}: expected a mapping with keys {', '.join(RULE_KEYS)}")
    for key in raw:
        if key not in RULE_KEYS:
            close = difflib.get_close_matches(str(key), RULE_KEYS, n=1)
            raise ConfigError(f"{rw}: unknown key {key!r}" + (f"; did you mean {close[0]!r}?" if close else "")
                              + f" (allowed: {', '.join(RULE_KEYS)})")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise ConfigError(f"{rw}.kind = {kind!r}: must be one of {', '.join(KINDS)}")
    match = raw.get("match")
    match = [match] if isinstance(match, str) else match
    if not isinstance(match, list) or not match or not all(isinstance(m, str) and m for m in match):
        raise ConfigError(f"{rw}.match: required, a glob or list of globs on module paths (e.g. 'encoder.layers.*')")
    operands = OPERANDS[kind]
    for key in ("input", "hidden"):
        if key in raw and key not in operands:
            raise ConfigError(f"{rw}.{key}: a {kind} has no {key} activation (allowed: {', '.join(operands) or 'none'})")
    wide = raw.get("wide", False)
    matmuls = operands if kind != "embedding" else ()
    if wide is True:
        wide = list(matmuls)
    elif wide is False or wide is None:
        wide = []
    if not isinstance(wide, list) or any(w not in matmuls for w in wide):
        raise ConfigError(f"{rw}.wide = {raw.get('wide')!r}: true, false or a list of {list(matmuls)}")
    cfgs = {key: config_from_dict(raw.get(key), f"{rw}.{key}") for key in ("weight", *operands)}
    rule = Rule(match=tuple(match), kind=kind, wide=tuple(wide), **cfgs)
    if kind != "embedding":  # integer operands must fit the precision of the matmul class they run on
        for operand in operands:
            cls = "matmul_wide" if operand in rule.wide else "matmul"
            limit = _bits(precision.get(cls, ""))
            for key in ("weight", operand):
                cfg = cfgs.get(key)
                if limit is not None and isinstance(cfg, IntQuantConfig) and cfg.bits > limit:
                    problems.append(f"{rw}.{key}: int{cfg.bits} is wider than precision.{cls} = "
                                    f"{precision[cls]} of the {operand} matmul; mark it wide or lower the bits")
    return rule


def load_recipe(path: str | Path) -> Recipe:
    """Read and validate a recipe YAML (duplicate keys rejected); ConfigError lists every problem."""
    return parse_recipe(load_yaml(path, ConfigError), str(path))
