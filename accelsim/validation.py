"""Shared input boundary: the strict pydantic base model, readable capped error messages, result checks.

Every schema model of accelsim (architecture, sweep, workload metadata) derives from :class:`StrictModel`, so
each field of every model, including ones added later, gets the same rules without repeating them per field:

- no unknown keys (``extra="forbid"``), frozen;
- strict types: a boolean is never an int or a float, a float is never silently an int (``2.5`` and ``2.0`` are
  refused where a count is meant), a string is never a number (quantities with units parse their own strings
  through ``BeforeValidator`` first);
- finite floats only (NaN and infinities refused everywhere, also inside dicts and lists);
- bounded integers: ``|value| <= MAX_INT`` (2**53, the largest integer a float64 holds exactly), so no count
  overflows NumPy's int64 arithmetic or a float conversion downstream.

Messages are capped: a value is shown abbreviated (:func:`abbreviate`), a message holds at most
:data:`MAX_PROBLEMS` lines, so a hostile file can never make an error message itself huge.
"""

from __future__ import annotations

import difflib
import math
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

#: Largest integer magnitude any schema field accepts (float64 represents every integer up to here exactly).
MAX_INT = 2**53
#: Most problems listed in one error message; the rest are counted.
MAX_PROBLEMS = 20
#: Longest rendering of one offending value inside a message, characters.
MAX_VALUE_CHARS = 80
#: Longest whole error message, characters (a final safety net after the per-line caps).
MAX_MESSAGE_CHARS = 8000


def abbreviate(value: Any, limit: int = MAX_VALUE_CHARS) -> str:
    """``repr(value)`` cut to ``limit`` characters (with the full length noted), without formatting huge values.

    Containers are summarised by type and size before any ``repr``: a billion-laughs structure is never expanded.
    """
    if isinstance(value, (dict, list, tuple, set, frozenset)):
        size = len(value)
        kind = type(value).__name__
        if size > 8 or _deep(value, 3):
            return f"<{kind} of {size} item{'s' if size != 1 else ''}>"
    if isinstance(value, (str, bytes)) and len(value) > 10 * limit:
        value = value[: 2 * limit]
        text = repr(value)
        return text[: limit - 3] + "..."
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a value whose repr fails is shown by its type
        return f"<{type(value).__name__}>"
    if len(text) > limit:
        return f"{text[: limit - 3]}... ({len(text)} chars)"
    return text


def _deep(value: Any, depth: int) -> bool:
    """True when ``value`` nests containers deeper than ``depth`` levels (checked without a full walk)."""
    if depth <= 0:
        return isinstance(value, (dict, list, tuple, set, frozenset))
    if isinstance(value, Mapping):
        return any(_deep(v, depth - 1) for v in list(value.values())[:8])
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(_deep(v, depth - 1) for v in list(value)[:8])
    return False


def cap_message(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n  ... (message cut: {len(text) - limit} more characters)"


def _check_int_bounds(value: Any, where: str = "", depth: int = 0) -> None:
    if isinstance(value, bool) or depth > 4:
        return
    if isinstance(value, int):
        if abs(value) > MAX_INT:
            inside = f"{where.lstrip('.')} = {abbreviate(value, 30)}: " if where else ""
            raise ValueError(f"{inside}integer too large (at most 2**53 = {MAX_INT:,} in magnitude)")
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_int_bounds(v, f"{where}.{k}", depth + 1)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_int_bounds(v, f"{where}[{i}]", depth + 1)


class StrictModel(BaseModel):
    """Base of every input schema: forbid unknown keys, strict types, finite floats, bounded integers."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    @field_validator("*", mode="after")
    @classmethod
    def _bounded_ints(cls, value: Any) -> Any:
        if not isinstance(value, BaseModel):
            _check_int_bounds(value)
        return value


def _model_at(model: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The pydantic model class found by walking ``loc`` (field names / dict keys) down from ``model``."""
    current: object = model
    for part in loc:
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return None
            current = field.annotation
        else:  # dict[str, Model] / list[Model] / Optional[Model]: step into the value type
            args = [a for a in typing.get_args(current) if a is not type(None)]
            current = args[-1] if args else None
        while typing.get_origin(current) is typing.Union or type(current).__name__ == "UnionType":
            args = [a for a in typing.get_args(current) if a is not type(None)]
            current = args[0] if args else None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _short_msg(msg: str, limit: int = 400) -> str:
    msg = msg.removeprefix("Value error, ")
    return msg if len(msg) <= limit else msg[:limit] + f"... ({len(msg)} chars)"


def describe_validation_error(path: str | Path, exc: ValidationError, model: type[BaseModel]) -> str:
    """One line per problem: ``path: a.b.c = value: message`` with a did-you-mean for unknown keys.

    At most :data:`MAX_PROBLEMS` lines; values are abbreviated (never the whole expanded input)."""
    lines = []
    errors = exc.errors(include_url=False)
    seen: set[str] = set()
    for err in errors:
        loc = tuple(err["loc"])
        key = ".".join(abbreviate(p, 40) if not isinstance(p, str) else p[:60] for p in loc) or "(top level)"
        if err["type"] == "extra_forbidden":
            parent = _model_at(model, loc[:-1])
            allowed = sorted(parent.model_fields) if parent else []
            close = difflib.get_close_matches(str(loc[-1])[:60], allowed, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            line = f"{path}: {key}: unknown key{hint} (allowed: {', '.join(allowed)})"
        elif err["type"] == "missing":
            line = f"{path}: {key}: required key is missing"
        else:
            line = f"{path}: {key} = {abbreviate(err.get('input'))}: {_short_msg(err['msg'])}"
        if line not in seen:
            seen.add(line)
            lines.append(line)
    more = len(lines) - MAX_PROBLEMS
    lines = lines[:MAX_PROBLEMS]
    if more > 0:
        lines.append(f"{path}: ... and {more} more problem(s)")
    return cap_message("\n".join(lines))


def check_finite_result(values: Mapping[str, Any], where: str, keys: typing.Iterable[str] | None = None) -> None:
    """Raise :class:`~accelsim.errors.ResultError` unless every numeric value (of ``keys``) is finite and >= 0.

    ``where`` names the inputs that produced the values (arch file, overrides, workload), so the message says
    what to change. Booleans and strings are skipped.
    """
    from accelsim.errors import ResultError

    bad = []
    for key in keys if keys is not None else values:
        if key not in values:
            continue
        value = values[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "dtype"):
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if not math.isfinite(number) or number < 0:
            bad.append(f"{key} = {number!r}")
    if bad:
        raise ResultError(
            f"{where}: the simulation produced impossible results ({', '.join(bad[:8])}"
            f"{', ...' if len(bad) > 8 else ''}); a time, RTF or rate must be finite and >= 0: check the "
            "inputs for extreme values (e.g. a bandwidth or clock near zero, a rate or size near overflow)"
        )


def check_summary(summary: Mapping[str, Any], *, arch: Any, workload: Any, overrides: Mapping[str, Any] | None = None,
                  allow_nan: typing.Iterable[str] = ()) -> Mapping[str, Any]:
    """Check a run's summary (every numeric value finite and >= 0); the error names arch, overrides and workload.

    ``allow_nan`` names keys where NaN means "not measured" (e.g. ``wer_percent`` of a workload without accuracy).
    Returns ``summary`` unchanged when it is sound."""
    shown = ", ".join(f"{k}={abbreviate(v, 40)}" for k, v in (overrides or {}).items())
    where = f"arch {arch}{f' (with {shown})' if shown else ''} on workload {workload}"
    skip = set(allow_nan)
    keys = [k for k in summary if not (k in skip and isinstance(summary[k], float) and math.isnan(summary[k]))]
    check_finite_result(summary, where, keys)
    return summary
