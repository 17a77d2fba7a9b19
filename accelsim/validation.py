"""Turn a pydantic ``ValidationError`` into one readable paragraph: file, dotted key, value, what is allowed."""

from __future__ import annotations

import difflib
import typing
from pathlib import Path

from pydantic import BaseModel, ValidationError


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


def describe_validation_error(path: str | Path, exc: ValidationError, model: type[BaseModel]) -> str:
    """One line per problem: ``path: a.b.c = value: message`` with a did-you-mean for unknown keys."""
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        key = ".".join(str(p) for p in loc) or "(top level)"
        if err["type"] == "extra_forbidden":
            parent = _model_at(model, loc[:-1])
            allowed = sorted(parent.model_fields) if parent else []
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            lines.append(f"{path}: {key}: unknown key{hint} (allowed: {', '.join(allowed)})")
        elif err["type"] == "missing":
            lines.append(f"{path}: {key}: required key is missing")
        else:
            lines.append(f"{path}: {key} = {err.get('input')!r}: {err['msg']}")
    return "\n".join(lines)
