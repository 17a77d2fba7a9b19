"""Read and write workload directories (``workload.yaml`` + ``ops.parquet``), validating everything on read."""

from __future__ import annotations

import hashlib
import io
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from pydantic import ValidationError

from accelsim.atomic import atomic_write, atomic_write_text
from accelsim.errors import TraceError
from accelsim.trace.format import (
    FORMAT_VERSION,
    OP_COLUMNS,
    OP_KINDS,
    PHASES,
    PRECISION_CLASSES,
    OpsFileMeta,
    WeightMeta,
    WorkloadMeta,
)
from accelsim.validation import describe_validation_error
from accelsim.yamlio import load_yaml

OPS_FILE = "ops.parquet"
META_FILE = "workload.yaml"


@dataclass(frozen=True)
class Workload:
    """A loaded, validated workload: its metadata and its ops table (dtypes as in ``OP_COLUMNS``)."""

    path: Path
    meta: WorkloadMeta
    ops: pd.DataFrame

    @property
    def name(self) -> str:
        return self.meta.name

    @property
    def audio_seconds(self) -> float:
        return self.meta.audio.seconds

    def deps_csr(self) -> tuple[np.ndarray, np.ndarray]:
        """Dependencies as CSR (int64): the parents of op ``i`` are ``src[ptr[i]:ptr[i + 1]]``."""
        return deps_csr(self.ops["deps"])


DEPS_ARROW_TYPE = pa.list_(pa.int64())


def deps_series(column: pa.ChunkedArray | pa.Array) -> pd.Series:
    """A ``deps`` column backed by Arrow (offsets + values, no per-op Python lists); reads as lists of ints."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if column.type != DEPS_ARROW_TYPE:
        column = column.cast(DEPS_ARROW_TYPE)
    return pd.Series(pd.arrays.ArrowExtensionArray(column), dtype=pd.ArrowDtype(DEPS_ARROW_TYPE))


def deps_csr(deps: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """CSR pointer and parent ids (int64) of a ``deps`` column (Arrow-backed: zero-copy; else lists of ints)."""
    if isinstance(deps.dtype, pd.ArrowDtype):
        chunked = deps.array.__arrow_array__()
        arr = chunked.combine_chunks() if chunked.num_chunks != 1 else chunked.chunk(0)
        if arr.type != DEPS_ARROW_TYPE:
            arr = arr.cast(DEPS_ARROW_TYPE)
        if arr.null_count or arr.values.null_count:
            raise ValueError("deps holds nulls; expected a list of op ids (maybe empty) per op")
        offsets = arr.offsets.to_numpy()
        lo, hi = int(offsets[0]), int(offsets[-1])
        ptr = offsets - lo if lo else offsets
        src = arr.values.to_numpy()[lo:hi]
        return ptr.astype(np.int64, copy=False), src.astype(np.int64, copy=False)
    n = len(deps)
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, deps), dtype=np.int64, count=n), out=ptr[1:])
    src = np.fromiter(itertools.chain.from_iterable(deps), dtype=np.int64, count=int(ptr[-1]))
    return ptr, src


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _ops_to_arrow(ops: pd.DataFrame) -> pa.Table:
    arrays = []
    for name, dtype in OP_COLUMNS.items():
        col = ops[name]
        if dtype == "list<int64>":
            ptr, src = deps_csr(col)
            arrays.append(pa.ListArray.from_arrays(pa.array(ptr), pa.array(src)))
        elif dtype == "category":
            arrays.append(pa.array(col.astype(str).to_numpy(), type=pa.string()).dictionary_encode())
        else:
            arrays.append(pa.array(col.to_numpy(dtype=dtype)))
    return pa.Table.from_arrays(arrays, names=list(OP_COLUMNS))


def write_workload(
    directory: str | Path,
    *,
    ops: pd.DataFrame,
    weights: dict[str, WeightMeta],
    **meta_fields: Any,
) -> Workload:
    """Write ``directory/ops.parquet`` then ``directory/workload.yaml``, each atomically.

    ``meta_fields`` are the remaining :class:`WorkloadMeta` fields (name, synthetic, provenance, model, search,
    audio, ...); ``format_version`` and ``ops`` (file, count, checksum) are filled in here. The ops file is written
    first and the YAML (which holds its checksum) last, so a crash never leaves a YAML describing a missing file.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    missing = [c for c in OP_COLUMNS if c not in ops.columns]
    if missing:
        raise ValueError(f"ops table lacks columns {missing}")
    table = _ops_to_arrow(ops)
    ops_path = directory / OPS_FILE
    atomic_write(ops_path, lambda p: pq.write_table(table, p, compression="zstd"))
    meta = WorkloadMeta(
        format_version=FORMAT_VERSION,
        weights=weights,
        ops=OpsFileMeta(file=OPS_FILE, count=len(ops), sha256=_sha256(ops_path)),
        **meta_fields,
    )
    text = yaml.safe_dump(meta.model_dump(mode="json"), sort_keys=False, default_flow_style=None, width=110)
    atomic_write_text(directory / META_FILE, "# accelsim workload, trace format v1 (docs/trace-format.md)\n" + text)
    return load_workload(directory)


def _check_ops(where: str, ops: pd.DataFrame, meta: WorkloadMeta) -> None:
    """Semantic checks of the ops table against the format; raises TraceError listing the first problems."""
    problems: list[str] = []
    n = len(ops)
    if not np.array_equal(ops["id"].to_numpy(), np.arange(n)):
        problems.append("column id must be 0..count-1 in order")
    for col, allowed in (("kind", OP_KINDS), ("phase", PHASES), ("pclass", PRECISION_CLASSES)):
        bad = sorted(set(map(str, ops[col].cat.categories)) - set(allowed))
        if bad:
            problems.append(f"column {col} has unknown values {bad[:5]} (allowed: {', '.join(allowed)})")
    for col in ("m", "n"):
        if n and ops[col].to_numpy().min() <= 0:
            problems.append(f"column {col} must be > 0 (first bad op id {int(np.argmax(ops[col].to_numpy() <= 0))})")
    if n and ops["k"].to_numpy().min() < 0:
        problems.append("column k must be >= 0")
    is_mm = (ops["kind"] == "matmul").to_numpy()
    if is_mm.any() and ops["k"].to_numpy()[is_mm].min() <= 0:
        problems.append("matmul ops need k > 0")
    used = set(map(str, ops["weight"].cat.categories)) - {""}
    unknown = sorted(used - set(meta.weights))
    if unknown:
        problems.append(f"ops read weights not declared in workload.yaml weights: {unknown[:5]}")
    if is_mm.any():  # by weight code: no per-op Python work
        wcodes = ops["weight"].cat.codes.to_numpy()
        wnames = [str(c) for c in ops["weight"].cat.categories]
        elements = np.array([meta.weights[w].elements if w and w in meta.weights else -1 for w in wnames] + [-1],
                            dtype=np.int64)
        k_col, n_col = ops["k"].to_numpy(), ops["n"].to_numpy()
        want = elements[wcodes]  # code -1 (missing) reads the trailing -1
        bad_rows = np.flatnonzero(is_mm & (want >= 0) & (k_col * n_col != want))
        if len(bad_rows):
            firsts = {}
            for r in bad_rows[np.unique(wcodes[bad_rows], return_index=True)[1]].tolist():
                firsts[wnames[wcodes[r]]] = r
            for w in sorted(firsts):
                r = firsts[w]
                problems.append(f"matmul op {int(ops['id'].iat[r])} reads {w!r} as {int(k_col[r])}x{int(n_col[r])} "
                                f"but the weight has {int(elements[wcodes[r]])} elements")
    try:
        ptr, flat = deps_csr(ops["deps"])
    except ValueError as exc:
        problems.append(f"column {exc}")
        ptr, flat = np.zeros(n + 1, dtype=np.int64), np.zeros(0, dtype=np.int64)
    lens = np.diff(ptr)
    if len(flat):
        owner = np.repeat(np.arange(n, dtype=np.int64), lens)
        bad_edge = (flat < 0) | (flat >= owner)
        if bad_edge.any():
            op_id = int(owner[np.argmax(bad_edge)])
            problems.append(f"op {op_id}: deps {list(ops['deps'].iloc[op_id])[:5]} must name earlier ops")
    if problems:
        raise TraceError(f"{where}: invalid ops table:\n  " + "\n  ".join(problems[:10]))


def load_workload(directory: str | Path) -> Workload:
    """Load and validate a workload directory; any problem raises :class:`TraceError` naming file and field."""
    directory = Path(directory)
    if not directory.is_dir():
        raise TraceError(f"{directory}: workload directory not found (expected a folder holding {META_FILE})")
    meta_path = directory / META_FILE
    raw = load_yaml(meta_path, TraceError)
    if not isinstance(raw, dict):
        raise TraceError(f"{meta_path}: expected a mapping at the top level, got {type(raw).__name__}")
    version = raw.get("format_version")
    if version != FORMAT_VERSION:
        raise TraceError(
            f"{meta_path}: format_version = {version!r}: this accelsim reads trace format {FORMAT_VERSION}; "
            "regenerate the workload with the command in its provenance"
        )
    try:
        meta = WorkloadMeta.model_validate(raw)
    except ValidationError as exc:
        raise TraceError(describe_validation_error(meta_path, exc, WorkloadMeta)) from None
    ops_path = directory / meta.ops.file
    if not ops_path.is_file():
        raise TraceError(f"{ops_path}: ops file named by {meta_path} (ops.file) is missing")
    digest = _sha256(ops_path)
    if digest != meta.ops.sha256:
        raise TraceError(
            f"{ops_path}: checksum mismatch (ops.sha256 in {meta_path} is {meta.ops.sha256[:12]}..., file has "
            f"{digest[:12]}...): the ops file is truncated, corrupt or was replaced; regenerate the workload"
        )
    try:
        table = pq.read_table(io.BytesIO(ops_path.read_bytes()))
    except (pa.ArrowException, OSError) as exc:
        raise TraceError(f"{ops_path}: cannot read the ops file as Parquet ({exc}); it is truncated or corrupt") from None
    missing = [c for c in OP_COLUMNS if c not in table.column_names]
    if missing:
        raise TraceError(f"{ops_path}: ops file lacks columns {missing} (trace format v{FORMAT_VERSION})")
    if table.num_rows != meta.ops.count:
        raise TraceError(f"{ops_path}: holds {table.num_rows} ops but {meta_path} says ops.count = {meta.ops.count}")
    data = {}
    for name, dtype in OP_COLUMNS.items():
        col = table.column(name)
        if dtype == "list<int64>":
            try:
                data[name] = deps_series(col)
            except (pa.ArrowException, TypeError) as exc:
                raise TraceError(f"{ops_path}: column {name} must be a list of int64 op ids ({exc})") from None
        elif dtype == "category":
            if not pa.types.is_dictionary(col.type):
                col = col.dictionary_encode()
            if isinstance(col, pa.ChunkedArray):  # one dictionary for all chunks, then one array
                col = col.unify_dictionaries().combine_chunks()
            codes = col.indices.to_numpy(zero_copy_only=False)
            data[name] = pd.Categorical.from_codes(codes, categories=pd.Index(col.dictionary.to_pylist()))
        else:
            data[name] = col.to_numpy().astype(dtype, copy=False)
    ops = pd.DataFrame(data, copy=False)  # no second copy of the columns (Arrow buffers or fresh arrays)
    del table, data
    pa.default_memory_pool().release_unused()  # decoded pages the columns no longer need go back to the OS
    _check_ops(str(ops_path), ops, meta)
    return Workload(path=directory, meta=meta, ops=ops)
