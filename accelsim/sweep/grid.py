"""Grid expansion: a :class:`SweepSpec` -> the ordered list of points, each with a stable id.

:func:`expand` is pure (no I/O): base values overlaid by one value per grid key. :func:`resolve_points` then checks
every point against the files it names *before anything runs* (an arch field that does not exist, a bad value, a
missing workload: one SweepError listing every problem) and gives each point its id: a hash of the resolved
point (the validated architecture with its overrides applied, the workload's ``workload.yaml`` bytes and the
timeline flag), so an id changes exactly when what would be simulated changes.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import itertools
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from accelsim.errors import AccelsimError, SweepError
from accelsim.sweep.spec import OVERRIDE_PREFIX, Scalar, SweepSpec

#: (arch file, {dotted path: value}) -> fingerprint of the resolved architecture; raises AccelsimError if invalid.
ArchChecker = Callable[[Path, dict[str, Scalar]], str]


@dataclass(frozen=True)
class PointTask:
    """One point, ready to evaluate anywhere (picklable; paths absolute)."""

    index: int
    point_id: str
    arch_file: str  # as written in the sweep (root-relative)
    workload_dir: str  # as written in the sweep (root-relative)
    overrides: tuple[tuple[str, Scalar], ...]  # (dotted arch path, value), sorted by path
    arch_path: str
    workload_path: str
    timeline: bool
    timeline_path: str = ""  # where the evaluator stores the timeline (set by the runner when timeline is true)

    @property
    def override_dict(self) -> dict[str, Scalar]:
        return dict(self.overrides)

    def columns(self) -> dict[str, object]:
        """The point's own columns of the results table (what was asked, before any result)."""
        cols: dict[str, object] = {
            "point_index": self.index,
            "point_id": self.point_id,
            "arch_file": self.arch_file,
            "workload_dir": self.workload_dir,
        }
        for path, value in self.overrides:
            cols[OVERRIDE_PREFIX + path] = value
        return cols


#: Largest grid a sweep runs unless told otherwise (``--max-points`` or ``$ACCELSIM_MAX_SWEEP_POINTS``).
DEFAULT_MAX_POINTS = 10_000
MAX_POINTS_ENV = "ACCELSIM_MAX_SWEEP_POINTS"


def max_points_limit(explicit: int | None = None) -> int:
    """The grid size limit: ``explicit``, else ``$ACCELSIM_MAX_SWEEP_POINTS``, else :data:`DEFAULT_MAX_POINTS`."""
    if explicit is not None:
        if isinstance(explicit, bool) or not isinstance(explicit, int) or explicit < 1:
            raise SweepError(f"--max-points = {explicit!r}: expected a whole number >= 1")
        return explicit
    env = os.environ.get(MAX_POINTS_ENV, "").strip()
    if not env:
        return DEFAULT_MAX_POINTS
    if not env.isdigit() or int(env) < 1:
        raise SweepError(f"${MAX_POINTS_ENV} = {env[:40]!r}: expected a whole number >= 1")
    return int(env)


def check_grid_size(spec: SweepSpec, where: str = "sweep", max_points: int | None = None) -> int:
    """The number of points, computed from the axis lengths (nothing expanded); above the limit a SweepError."""
    limit = max_points_limit(max_points)
    sizes = [block.size for block in spec.grid]
    total = spec.size
    if total > limit:
        shape = " x ".join(f"{n:,}" for n in sizes)
        raise SweepError(
            f"{where}: the grid has {total:,} points ({shape} over its {len(sizes)} block(s)), more than the limit "
            f"of {limit:,}; shrink the grid, or raise the limit with --max-points {total} "
            f"(or ${MAX_POINTS_ENV}={total})"
        )
    return total


def iter_points(spec: SweepSpec) -> Iterator[dict[str, Scalar]]:
    """Every point of the grid as a mapping key -> value, in grid order, generated lazily (nothing is held)."""
    def block_combos(block) -> Iterator[dict[str, Scalar]]:
        axes = block.axes
        keys = list(axes)
        source = zip(*(axes[k] for k in keys)) if block.kind == "zip" else itertools.product(*(axes[k] for k in keys))
        for values in source:
            yield dict(zip(keys, values))

    def rec(i: int, acc: dict[str, Scalar]) -> Iterator[dict[str, Scalar]]:
        if i == len(spec.grid):
            yield dict(acc)
            return
        for part in block_combos(spec.grid[i]):
            yield from rec(i + 1, {**acc, **part})

    yield from rec(0, dict(spec.base))


def expand(spec: SweepSpec) -> list[dict[str, Scalar]]:
    """Every point of the grid as a mapping key -> value, in grid order (last key of the last block fastest)."""
    return list(iter_points(spec))


def _matches(point: dict[str, Scalar], selector: dict[str, Scalar]) -> bool:
    return all(k in point and point[k] == v for k, v in selector.items())


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@functools.lru_cache(maxsize=64)
def _raw_arch(path: str, mtime_ns: int) -> dict:
    from accelsim.spec import load_raw

    return load_raw(path)


def default_arch_checker(path: Path, overrides: dict[str, Scalar]) -> str:
    """Validate ``path`` with ``overrides`` as :func:`accelsim.spec.load_arch` does; fingerprint the result.

    The file (and its ``base:`` chain) is parsed once per sweep, not once per point.
    """
    from accelsim.spec import apply_overrides, validate_raw

    raw = copy.deepcopy(_raw_arch(str(path), path.stat().st_mtime_ns))
    where = str(path)
    if overrides:
        raw = apply_overrides(raw, overrides)
        where = f"{path} (with overrides {', '.join(overrides)})"
    arch = validate_raw(raw, where, source=str(path))
    # where the file lies is not part of what is simulated: ids stay the same in another checkout
    dump = arch.model_dump(mode="json", exclude={"source"})
    return _sha256(json.dumps(dump, sort_keys=True, default=str).encode())


def _workload_fingerprint(path: Path) -> str:
    meta = path / "workload.yaml"
    if not meta.is_file():
        raise SweepError(f"workload {path}: no workload.yaml there (expected a workload directory)")
    return _sha256(meta.read_bytes())


def resolve_points(
    spec: SweepSpec, root: Path, *, check_arch: ArchChecker = default_arch_checker, where: str = "sweep",
    max_points: int | None = None,
) -> list[PointTask]:
    """Expand, validate against the files and give each point its id; raise one SweepError listing all problems."""
    check_grid_size(spec, where, max_points)
    problems: list[str] = []
    matched = [False] * len(spec.timeline)
    arch_cache: dict[tuple, str | None] = {}
    wl_cache: dict[str, str | None] = {}
    tasks: list[PointTask] = []
    first_index: dict[str, int] = {}
    for index, point in enumerate(iter_points(spec)):
        for i, sel in enumerate(spec.timeline):
            matched[i] = matched[i] or _matches(point, sel)
        arch_file, workload_dir = str(point["arch"]), str(point["workload"])
        overrides = tuple(sorted(
            (k[len(OVERRIDE_PREFIX):], v) for k, v in point.items() if k.startswith(OVERRIDE_PREFIX)
        ))
        arch_path, workload_path = (root / arch_file).resolve(), (root / workload_dir).resolve()
        akey = (str(arch_path), json.dumps(overrides, default=str))
        if akey not in arch_cache:
            try:
                if not arch_path.is_file():
                    raise SweepError(f"arch {arch_file}: file {arch_path} not found")
                arch_cache[akey] = check_arch(arch_path, dict(overrides))
            except AccelsimError as exc:
                arch_cache[akey] = None
                shown = ", ".join(f"{k}={v!r}" for k, v in overrides) or "no overrides"
                problems.append(f"point {index} (arch {arch_file}, {shown}): {exc}")
        if str(workload_path) not in wl_cache:
            try:
                wl_cache[str(workload_path)] = _workload_fingerprint(workload_path)
            except AccelsimError as exc:
                wl_cache[str(workload_path)] = None
                problems.append(f"point {index}: {exc}")
        arch_fp, wl_fp = arch_cache[akey], wl_cache[str(workload_path)]
        if arch_fp is None or wl_fp is None:
            continue
        timeline = any(_matches(point, sel) for sel in spec.timeline)
        ident = {"arch": arch_fp, "workload": wl_fp, "timeline": timeline}
        point_id = _sha256(json.dumps(ident, sort_keys=True).encode())[:16]
        if point_id in first_index:
            problems.append(
                f"points {first_index[point_id]} and {index} resolve to the same simulation ({point}); "
                "remove the duplicate value from the grid"
            )
            continue
        first_index[point_id] = index
        tasks.append(
            PointTask(index, point_id, arch_file, workload_dir, overrides, str(arch_path), str(workload_path), timeline)
        )
    for sel, hit in zip(spec.timeline, matched):
        if not hit:
            problems.append(f"timeline selector {sel} matches no point of the grid (values must match exactly)")
    if problems:
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        listed = "\n  ".join(problems[:20])
        raise SweepError(f"{where}: {len(problems)} problem(s) found before running:\n  {listed}{more}")
    return tasks
