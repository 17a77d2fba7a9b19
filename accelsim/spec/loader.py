"""Load an architecture YAML: resolve ``base:`` inheritance, apply dotted-path overrides, validate.

``base: other.yaml`` (relative to the including file) is loaded first and deep-merged under the file's own
keys: mappings merge key by key, anything else (numbers, strings, lists) replaces. Chains are allowed,
cycles are an error. Duplicate keys are rejected by :func:`accelsim.yamlio.load_yaml`.
"""

from __future__ import annotations

import copy
import difflib
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from accelsim.errors import SpecError
from accelsim.spec.schema import ArchSpec
from accelsim.validation import abbreviate, cap_message, describe_validation_error
from accelsim.yamlio import load_yaml


def deep_merge(base: dict, top: dict) -> dict:
    """A new mapping: ``top`` over ``base``, merging nested mappings key by key."""
    out = copy.deepcopy(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_raw(path: str | Path, _chain: tuple[Path, ...] = (), _root: Path | None = None) -> dict[str, Any]:
    """The merged mapping of ``path`` and its ``base:`` chain (``base`` removed), not yet validated.

    ``base:`` is a relative path that must stay inside the folder of the file given on the command line (no
    absolute paths, no ``..`` out of it) and name a ``.yaml``/``.yml`` file.
    """
    p = Path(path)
    resolved = p.resolve()
    root = resolved.parent if _root is None else _root
    if resolved in _chain:
        cycle = " -> ".join(str(c) for c in (*_chain, resolved))
        raise SpecError(f"{p}: base: inheritance cycle ({cycle}); a file may not include itself")
    raw = load_yaml(p, SpecError)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise SpecError(f"{p}: expected a mapping of architecture fields at the top level, got {type(raw).__name__}")
    base = raw.pop("base", None)
    if base is None:
        return raw
    if not isinstance(base, str) or not base:
        raise SpecError(
            f"{p}: base = {abbreviate(base)}: expected the path of another architecture YAML (relative to {p.parent})"
        )
    base_path = p.parent / base
    if Path(base).is_absolute() or not base_path.resolve().is_relative_to(root):
        raise SpecError(
            f"{p}: base = {abbreviate(base)}: must be a relative path inside {root} (the folder of the file given "
            "on the command line); copy the base file there or pass it on the command line instead"
        )
    if base_path.suffix.lower() not in (".yaml", ".yml"):
        raise SpecError(f"{p}: base = {abbreviate(base)}: expected an architecture .yaml file")
    if not base_path.is_file():
        raise SpecError(f"{p}: base = {abbreviate(base)}: file {base_path} not found")
    return deep_merge(load_raw(base_path, (*_chain, resolved), root), raw)


def _unwrap(annotation: Any) -> Any:
    while typing.get_origin(annotation) in (typing.Annotated, typing.Union) or type(annotation).__name__ == "UnionType":
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = args[0]
    return annotation


def check_override_path(dotted: str) -> None:
    """Raise SpecError unless ``dotted`` names a field of :class:`ArchSpec` (or a key inside a dict field)."""
    current: Any = ArchSpec
    walked: list[str] = []
    for part in dotted.split("."):
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            fields = current.model_fields
            if part not in fields:
                close = difflib.get_close_matches(part, list(fields), n=1)
                hint = f"; did you mean {'.'.join([*walked, close[0]])!r}?" if close else ""
                where = ".".join(walked) or "the top level"
                raise SpecError(
                    f"override {dotted!r}: {part!r} is not a field of {where}{hint} (allowed: {', '.join(fields)})"
                )
            current = fields[part].annotation
        elif typing.get_origin(current) is dict:
            key_type = _unwrap(typing.get_args(current)[0])
            allowed = typing.get_args(key_type) if typing.get_origin(key_type) is typing.Literal else ()
            if allowed and part not in allowed:
                close = difflib.get_close_matches(part, list(allowed), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise SpecError(f"override {dotted!r}: key {part!r} not allowed in {'.'.join(walked)}{hint} "
                                f"(allowed: {', '.join(allowed)})")
            current = typing.get_args(current)[1]
        else:
            raise SpecError(f"override {dotted!r}: {'.'.join(walked)} is a value, it has no field {part!r}")
        walked.append(part)


def apply_overrides(raw: dict[str, Any], overrides: dict[str, object]) -> dict[str, Any]:
    """A copy of ``raw`` with each dotted path set to its value (intermediate mappings created as needed)."""
    out = copy.deepcopy(raw)
    for dotted, value in overrides.items():
        check_override_path(dotted)
        node = out
        parts = dotted.split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[parts[-1]] = copy.deepcopy(value)
    return out


def _describe(where: str, exc: ValidationError) -> str:
    whole = [e for e in exc.errors() if not e["loc"]]
    lines = [f"{where}: {e['msg'].removeprefix('Value error, ')}" for e in whole]
    if len(whole) < len(exc.errors()):
        lines.append(describe_validation_error(where, exc, ArchSpec))
        lines = [ln for ln in "\n".join(lines).splitlines() if not ln.startswith(f"{where}: (top level)")]
    return cap_message("\n".join(lines))


def validate_raw(raw: dict[str, Any], where: str, source: str = "") -> ArchSpec:
    """Validate a merged mapping into an :class:`ArchSpec`; errors name ``where`` and every bad field."""
    data = dict(raw)
    data["source"] = source
    if "name" not in data and source:
        data["name"] = Path(source).stem
    try:
        return ArchSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(_describe(where, exc)) from None


def load_arch(path: str | Path, overrides: dict[str, object] | None = None) -> ArchSpec:
    """Load, merge (``base:``), override (dotted paths, e.g. ``{"offchip.bandwidth": "400 GB/s"}``), validate."""
    raw = load_raw(path)
    where = str(path)
    if overrides:
        raw = apply_overrides(raw, overrides)
        where = f"{path} (with overrides {', '.join(overrides)})"
    return validate_raw(raw, where, source=str(path))


def dump_arch(spec: ArchSpec) -> str:
    """YAML text of ``spec`` in base units, loadable again by :func:`load_arch` (``source`` left out)."""
    data = spec.model_dump(mode="json", exclude={"source"})
    return yaml.safe_dump(data, sort_keys=False)
