"""Read and write workload directories (``workload.yaml`` + ``ops.parquet``), validating everything on read."""

from __future__ import annotations

import hashlib
import io
import itertools
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute  # noqa: F401 - pa.compute.min_max
import pyarrow.parquet as pq
import yaml
from pydantic import ValidationError

from accelsim.atomic import atomic_write, atomic_write_text
from accelsim.errors import TraceError
from accelsim.hostmem import keep_freed_memory, small_pages
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
from accelsim.validation import abbreviate, describe_validation_error
from accelsim.yamlio import load_yaml

OPS_FILE = "ops.parquet"
META_FILE = "workload.yaml"


@dataclass(frozen=True)
class Workload:
    """A loaded, validated workload: its metadata and its ops table (dtypes as in ``OP_COLUMNS``)."""

    path: Path
    meta: WorkloadMeta
    ops: pd.DataFrame
    #: derived views computed once (e.g. :func:`accelsim.trace.coded.op_codes`); ``ops`` is never mutated
    cache: dict = field(default_factory=dict, compare=False, repr=False)

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


#: Column name -> (lowest, highest) value allowed (dims are bounded so that m*k*n never overflows int64).
MAX_DIM = 2**31 - 1
_INT_RANGES: dict[str, tuple[int, int]] = {
    "id": (0, 2**62), "utt": (0, 2**31 - 1), "step": (-1, 2**31 - 1), "m": (1, MAX_DIM), "k": (0, MAX_DIM),
    "n": (1, MAX_DIM),
}
#: Largest element count of one op (m*k*n for matmuls, m*n otherwise): exact in float64 and int64.
MAX_OP_ELEMENTS = 2**53
#: Estimated bytes of memory per op once loaded (pandas columns plus the Python list of each op's deps).
_BYTES_PER_OP = 200
_BYTES_PER_DEP = 40
MEMORY_ENV = "ACCELSIM_MAX_OPS_MEMORY_GB"


def _confined_ops_path(directory: Path, meta_path: Path, name: str) -> Path:
    """``directory / name``, refused unless it is a relative path that stays inside ``directory``."""
    ops_path = directory / name
    if Path(name).is_absolute() or not ops_path.resolve().is_relative_to(directory.resolve()):
        raise TraceError(
            f"{meta_path}: ops.file = {abbreviate(name)}: must be a file inside the workload folder {directory} "
            "(no absolute path, no ..)"
        )
    return ops_path


def max_ops_memory_bytes() -> float:
    """Memory a workload's ops may take once loaded: ``$ACCELSIM_MAX_OPS_MEMORY_GB`` or half the physical RAM."""
    env = os.environ.get(MEMORY_ENV, "").strip()
    if env:
        try:
            value = float(env)
        except ValueError:
            value = float("nan")
        if not (math.isfinite(value) and value > 0):
            raise TraceError(f"${MEMORY_ENV} = {abbreviate(env)}: expected a positive number of GB")
        return value * 1e9
    try:
        return 0.5 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8e9


def check_parquet_before_read(ops_path: Path, meta_path: Path, expected_rows: int) -> None:
    """Read only the Parquet footer: row count against ``ops.count`` and a memory estimate, before any data."""
    try:
        md = pq.ParquetFile(ops_path).metadata
    except (pa.ArrowException, OSError) as exc:
        raise TraceError(f"{ops_path}: cannot read the ops file as Parquet ({abbreviate(str(exc), 200)}); "
                         "it is truncated or corrupt") from None
    if md.num_rows != expected_rows:
        raise TraceError(f"{ops_path}: holds {md.num_rows:,} ops but {meta_path} says ops.count = {expected_rows:,}")
    uncompressed = sum(md.row_group(i).total_byte_size for i in range(md.num_row_groups))
    deps_values = 0
    names = [md.schema.column(j).path for j in range(md.num_columns)]
    for i in range(md.num_row_groups):
        rg = md.row_group(i)
        for j, name in enumerate(names):
            if name.startswith("deps"):
                deps_values += rg.column(j).num_values
    estimate = uncompressed + md.num_rows * _BYTES_PER_OP + deps_values * _BYTES_PER_DEP
    limit = max_ops_memory_bytes()
    if estimate > limit:
        raise TraceError(
            f"{ops_path}: {md.num_rows:,} ops with {deps_values:,} dependencies would need about "
            f"{estimate / 1e9:.1f} GB of memory once loaded, more than the {limit / 1e9:.1f} GB allowed; "
            f"split the workload (fewer utterances) or raise the limit with {MEMORY_ENV}=<GB>"
        )


def check_arrow_columns(where: str, table: pa.Table) -> None:
    """Column types, nulls and value ranges of the raw ops table, before any conversion could truncate or wrap."""
    problems: list[str] = []
    for name, dtype in OP_COLUMNS.items():
        col = table.column(name)
        typ = col.type
        if dtype == "list<int64>":
            if not (pa.types.is_list(typ) or pa.types.is_large_list(typ)) or not pa.types.is_integer(typ.value_type):
                problems.append(f"column {name} has type {typ}; expected a list of integer op ids")
                continue
            if col.null_count:
                problems.append(f"column {name}: {col.null_count} null value(s); an op without parents has []")
                continue
            flat = pa.chunked_array([c.flatten() for c in col.chunks], type=typ.value_type)
            if flat.null_count:
                problems.append(f"column {name}: {flat.null_count} null op id(s) inside the lists")
        elif dtype == "category":
            value_type = typ.value_type if pa.types.is_dictionary(typ) else typ
            if not (pa.types.is_string(value_type) or pa.types.is_large_string(value_type)):
                problems.append(f"column {name} has type {typ}; expected text")
            elif col.null_count:
                problems.append(f"column {name}: {col.null_count} null value(s); expected text (\"\" for none)")
        else:
            if not pa.types.is_integer(typ):
                problems.append(f"column {name} has type {typ}; expected whole numbers ({dtype}), never truncated")
                continue
            if col.null_count:
                problems.append(f"column {name}: {col.null_count} null value(s); expected whole numbers")
                continue
            if len(col) and name in _INT_RANGES:
                lo, hi = _INT_RANGES[name]
                mm = pa.compute.min_max(col)
                vmin, vmax = mm["min"].as_py(), mm["max"].as_py()
                if vmin < lo or vmax > hi:
                    problems.append(f"column {name} holds values {vmin}..{vmax}; allowed {lo}..{hi}")
    if problems:
        raise TraceError(f"{where}: invalid ops table:\n  " + "\n  ".join(problems[:10]))


def _check_shapes_and_funcs(ops: pd.DataFrame, meta: WorkloadMeta) -> list[str]:
    """Element counts within bounds, known vector functions, top-k with 1 <= k <= n, utterances in range."""
    from accelsim.cost.vector import FUNC_ALIASES
    from accelsim.spec.schema import VECTOR_FUNCS

    problems = []

    def is_(col: str, name: str) -> np.ndarray:  # by category code: no per-op strings
        cats = [str(c) for c in ops[col].cat.categories]
        return ops[col].cat.codes.to_numpy() == (cats.index(name) if name in cats else -2)

    m, k, n = (ops[c].to_numpy().astype(np.float64) for c in ("m", "k", "n"))
    elements = np.where(is_("kind", "matmul"), m * k * n, m * np.maximum(n, k))
    if elements.size and elements.max() > MAX_OP_ELEMENTS:
        i = int(np.argmax(elements > MAX_OP_ELEMENTS))
        problems.append(f"op {i}: shape m={int(m[i])} k={int(k[i])} n={int(n[i])} has more than 2**53 elements")
    known = set(VECTOR_FUNCS) | set(FUNC_ALIASES)
    fcodes = ops["func"].cat.codes.to_numpy()
    fnames = np.array([str(c) for c in ops["func"].cat.categories], dtype=object)
    for kname in ("nonlinear", "elementwise"):
        sel = is_("kind", kname)
        used = np.unique(fcodes[sel])
        bad = sorted(set(fnames[used[used >= 0]].tolist()) - known)
        if bad:
            bad_codes = np.flatnonzero(np.isin(fnames, bad))
            i = int(np.flatnonzero(sel & np.isin(fcodes, bad_codes))[0])
            problems.append(
                f"op {i}: {kname} func {abbreviate(bad[0])} is unknown (allowed: {', '.join(sorted(known))})")
    topk = is_("kind", "topk")
    bad_k = topk & ((k < 1) | (k > n))
    if bad_k.any():
        i = int(np.argmax(bad_k))
        problems.append(f"op {i}: topk selects k={int(k[i])} of n={int(n[i])} candidates; need 1 <= k <= n")
    utt = ops["utt"].to_numpy()
    if utt.size and utt.max() >= meta.audio.utterances:
        i = int(np.argmax(utt >= meta.audio.utterances))
        problems.append(f"op {i}: utt = {int(utt[i])} but audio.utterances = {meta.audio.utterances} "
                        "(utterances are numbered 0..utterances-1)")
    return problems


def _check_ops(where: str, ops: pd.DataFrame, meta: WorkloadMeta) -> tuple[np.ndarray, np.ndarray]:
    """Semantic checks of the ops table against the format; raises TraceError listing the first problems.
    Returns the dependencies as CSR (:func:`deps_csr`), which the checks read anyway."""
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
    if n:
        problems.extend(_check_shapes_and_funcs(ops, meta))
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
    return ptr, flat


def load_workload(directory: str | Path) -> Workload:
    """Load and validate a workload directory; any problem raises :class:`TraceError` naming file and field."""
    small_pages()  # the columns' pages fault in without compaction (accelsim.hostmem)
    keep_freed_memory()  # the decode's freed temporaries serve the columns and the run after (accelsim.hostmem)
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
    ops_path = _confined_ops_path(directory, meta_path, meta.ops.file)
    if not ops_path.is_file():
        raise TraceError(f"{ops_path}: ops file named by {meta_path} (ops.file) is missing")
    digest = _sha256(ops_path)
    if digest != meta.ops.sha256:
        raise TraceError(
            f"{ops_path}: checksum mismatch (ops.sha256 in {meta_path} is {meta.ops.sha256[:12]}..., file has "
            f"{digest[:12]}...): the ops file is truncated, corrupt or was replaced; regenerate the workload"
        )
    check_parquet_before_read(ops_path, meta_path, meta.ops.count)
    try:
        # one thread: decoding on the thread pool cost 1.7-2.5x the CPU seconds here (a 1 h trace: 2.1-3.0 s
        # instead of 1.2 s) and was slower in wall time too on the 2-core build machine
        table = pq.read_table(io.BytesIO(ops_path.read_bytes()), use_threads=False)
    except (pa.ArrowException, OSError) as exc:
        raise TraceError(f"{ops_path}: cannot read the ops file as Parquet ({exc}); it is truncated or corrupt") from None
    missing = [c for c in OP_COLUMNS if c not in table.column_names]
    if missing:
        raise TraceError(f"{ops_path}: ops file lacks columns {missing} (trace format v{FORMAT_VERSION})")
    if table.num_rows != meta.ops.count:
        raise TraceError(f"{ops_path}: holds {table.num_rows} ops but {meta_path} says ops.count = {meta.ops.count}")
    check_arrow_columns(str(ops_path), table)
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
    csr = _check_ops(str(ops_path), ops, meta)
    # the checked CSR serves the integer view (accelsim.trace.coded.op_codes) without converting deps again
    return Workload(path=directory, meta=meta, ops=ops, cache={"deps_csr": (ops, *csr)})
