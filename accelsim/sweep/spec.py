"""Schema of a sweep file (``sweeps/*.yaml``) and its loader.

A sweep names a base point and a grid. Every key, in ``base`` and in the grid, is one of:

- ``arch``: an architecture YAML file (a precision policy lives in its arch file: arch/fp16.yaml, arch/int4.yaml);
- ``workload``: a workload directory (beam width and fusion are properties of the workload);
- ``arch.<dotted.path>``: an override of one architecture field, e.g. ``arch.offchip.bandwidth: 400 GB/s``.

The grid is a list of blocks, each ``{product: {key: [values]}}`` (every combination) or ``{zip: {key: [values]}}``
(values taken side by side, equal lengths). The sweep is the product of its blocks, in file order; the last key
varies fastest. ``timeline`` lists selectors (partial points); a point matching one stores its timeline for the
report's Gantt view. Relative paths are resolved against ``root``, itself relative to the sweep file's folder.
"""

from __future__ import annotations

import difflib
import hashlib
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator, model_validator

from accelsim.errors import SweepError
from accelsim.validation import StrictModel, describe_validation_error
from accelsim.yamlio import load_yaml

PATH_KEYS = ("arch", "workload")
OVERRIDE_PREFIX = "arch."

Scalar = str | int | float | bool


def check_key(key: str) -> str:
    """Validate one point key (``arch``, ``workload`` or ``arch.<path>``); returns it or raises ValueError."""
    if key in PATH_KEYS:
        return key
    if key.startswith(OVERRIDE_PREFIX) and all(part.strip() for part in key[len(OVERRIDE_PREFIX):].split(".")):
        return key
    close = difflib.get_close_matches(key, PATH_KEYS, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ValueError(
        f"unknown sweep key {key!r}{hint} (allowed: arch, workload, or arch.<field path> such as "
        "arch.offchip.bandwidth)"
    )


class _Strict(StrictModel):
    """Strict base (accelsim.validation.StrictModel): no unknown keys, no bool/float-as-int, finite floats."""


class GridBlock(_Strict):
    """One block of the grid: exactly one of ``product`` or ``zip``, mapping keys to non-empty value lists."""

    product: dict[str, list[Scalar]] | None = None
    zip: dict[str, list[Scalar]] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> GridBlock:
        if (self.product is None) == (self.zip is None):
            raise ValueError("a grid block holds exactly one of 'product' or 'zip'")
        axes = self.axes
        if not axes:
            raise ValueError(f"empty {self.kind} block: list at least one key with at least one value")
        for key, values in axes.items():
            check_key(key)
            if not values:
                raise ValueError(f"{self.kind}.{key}: empty value list makes the grid empty; give at least one value")
        if self.zip is not None:
            lengths = {k: len(v) for k, v in self.zip.items()}
            if len(set(lengths.values())) > 1:
                raise ValueError(f"zip block needs value lists of equal length, got {lengths}")
        return self

    @property
    def kind(self) -> str:
        return "product" if self.product is not None else "zip"

    @property
    def axes(self) -> dict[str, list[Scalar]]:
        return dict(self.product if self.product is not None else self.zip or {})

    @property
    def size(self) -> int:
        lengths = [len(v) for v in self.axes.values()]
        if self.kind == "zip":
            return lengths[0]
        out = 1
        for n in lengths:
            out *= n
        return out


class SweepSpec(_Strict):
    """Schema of a sweep YAML file."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    root: str = Field(default=".", description="folder that relative paths start from, relative to this file")
    base: dict[str, Scalar] = Field(default_factory=dict, description="values shared by every point")
    grid: list[GridBlock] = Field(description="blocks multiplied together; each a product or a zip")
    timeline: list[dict[str, Scalar]] = Field(
        default_factory=list, description="selectors: points matching one of them store their timeline"
    )

    @field_validator("base")
    @classmethod
    def _base_keys(cls, value: dict[str, Scalar]) -> dict[str, Scalar]:
        for key in value:
            check_key(key)
        return value

    @field_validator("timeline")
    @classmethod
    def _timeline_keys(cls, value: list[dict[str, Scalar]]) -> list[dict[str, Scalar]]:
        for selector in value:
            if not selector:
                raise ValueError("an empty timeline selector would match every point; name at least one key")
            for key in selector:
                check_key(key)
        return value

    @model_validator(mode="after")
    def _grid_keys(self) -> SweepSpec:
        if not self.grid:
            raise ValueError("the grid is empty: list at least one product or zip block")
        seen: dict[str, int] = {}
        for i, block in enumerate(self.grid):
            for key in block.axes:
                if key in seen:
                    raise ValueError(f"key {key!r} appears in grid blocks {seen[key]} and {i}; name each key once")
                seen[key] = i
        missing = [k for k in PATH_KEYS if k not in seen and k not in self.base]
        if missing:
            raise ValueError(f"every point needs {' and '.join(missing)}: set it in base or in a grid block")
        return self

    @property
    def size(self) -> int:
        out = 1
        for block in self.grid:
            out *= block.size
        return out


def load_sweep(path: str | Path) -> tuple[SweepSpec, Path, str]:
    """Load and validate a sweep file; returns (spec, resolved root folder, sha256 of the file's bytes)."""
    p = Path(path)
    raw = load_yaml(p, SweepError)
    if not isinstance(raw, dict):
        raise SweepError(f"{p}: expected a mapping at the top level (name, grid, ...), got {type(raw).__name__}")
    try:
        spec = SweepSpec.model_validate(raw)
    except ValidationError as exc:
        raise SweepError(describe_validation_error(p, exc, SweepSpec)) from None
    root = (p.parent / spec.root).resolve()
    if not root.is_dir():
        raise SweepError(f"{p}: root = {spec.root!r}: folder {root} not found")
    return spec, root, hashlib.sha256(p.read_bytes()).hexdigest()


def spec_from_dict(raw: dict[str, Any], where: str = "<sweep>") -> SweepSpec:
    """Validate an in-memory sweep mapping (tests, notebooks); problems raise SweepError."""
    try:
        return SweepSpec.model_validate(raw)
    except ValidationError as exc:
        raise SweepError(describe_validation_error(where, exc, SweepSpec)) from None
