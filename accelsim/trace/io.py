"""Read and write workload directories (``workload.yaml`` + ``ops.parquet``), validating everything on read.

:func:`load_workload` decodes the Parquet file one row group at a time straight into lean per-column numpy
arrays (:class:`~accelsim.trace.coded.OpCodes`: text columns as codes, shapes, utterances, dependencies as CSR;
plus ``step``), each in the narrowest integer dtype that holds it exactly (module constants below say which),
checks them, and keeps nothing else: no decoded Arrow table, no pandas. :attr:`Workload.ops`, the pandas
table with the dtypes of ``OP_COLUMNS``, is built from those arrays on first access (the simulator never reads
it, nor imports pandas).
"""

from __future__ import annotations

import hashlib
import itertools
import math
import os
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from pydantic import ValidationError

from accelsim.arrow_ints import int_view
from accelsim.atomic import atomic_write, atomic_write_text
from accelsim.errors import TraceError
from accelsim.hostmem import keep_freed_memory, small_pages
from accelsim.trace.coded import TEXT_COLUMNS, Labelled, OpCodes, OpTable, frame_codes
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

if TYPE_CHECKING:
    import pandas as pd

OPS_FILE = "ops.parquet"
META_FILE = "workload.yaml"


class Workload:
    """A loaded, validated workload: its metadata and its ops.

    The ops are held once, as lean arrays: :attr:`codes` (the integer view the mapper and the engine read,
    :class:`~accelsim.trace.coded.OpCodes`) and :attr:`step`; ``id`` is the row index (checked on load).
    :attr:`ops` is the pandas table (dtypes as in ``OP_COLUMNS``), built from them on first access and kept.
    A workload made from a pandas table (``Workload(path, meta, ops)``) derives its arrays from it instead.
    Neither is ever mutated.
    """

    def __init__(self, path: str | Path, meta: WorkloadMeta, ops: pd.DataFrame | None = None, *,
                 codes: OpCodes | None = None, step: np.ndarray | None = None, cache: dict | None = None) -> None:
        if (ops is None) == (codes is None):
            raise ValueError("Workload: give either ops (a pandas ops table) or codes and step (its arrays)")
        if codes is not None and (step is None or len(step) != len(codes)):
            raise ValueError("Workload: codes need a step column of the same length")
        self.path = Path(path)
        self.meta = meta
        #: derived views computed once (e.g. the mapper's op classes); the ops are never mutated
        self.cache: dict = {} if cache is None else cache
        self._ops = ops
        self._codes = codes
        self._step = step

    def __repr__(self) -> str:
        return f"Workload({self.name!r}, {self.n_ops:,} ops, path={str(self.path)!r})"

    @property
    def name(self) -> str:
        return self.meta.name

    @property
    def audio_seconds(self) -> float:
        return self.meta.audio.seconds

    @property
    def n_ops(self) -> int:
        """Number of ops (rows), without building the pandas table."""
        return len(self._codes) if self._codes is not None else len(self._ops)

    @property
    def codes(self) -> OpCodes:
        """The integer view (:class:`~accelsim.trace.coded.OpCodes`) of the ops."""
        if self._codes is None:
            self._codes = frame_codes(self._ops)
        return self._codes

    @property
    def step(self) -> np.ndarray:
        """Per op the frame index (encoder) or search step (decoder), -1 when not applicable (narrowest dtype)."""
        if self._step is None:
            self._step = self._ops["step"].to_numpy()
        return self._step

    @property
    def ops(self) -> pd.DataFrame:
        """The ops as a pandas table, dtypes as in ``OP_COLUMNS`` (built on first access, then kept)."""
        if self._ops is None:
            self._ops = ops_frame(self._codes, self._step)
        return self._ops

    def deps_csr(self) -> tuple[np.ndarray, np.ndarray]:
        """Dependencies as CSR (int64): the parents of op ``i`` are ``src[ptr[i]:ptr[i + 1]]``."""
        oc = self.codes
        return oc.dep_ptr.astype(np.int64, copy=False), oc.dep_src.astype(np.int64, copy=False)

    def subset(self, idx: np.ndarray, dep_ptr: np.ndarray, dep_src: np.ndarray) -> Workload:
        """The ops at rows ``idx`` (renumbered 0..len(idx)-1) with the dependencies ``dep_ptr``/``dep_src``
        (CSR over the new numbering), as arrays: no pandas."""
        oc = self.codes
        table = OpTable.take(oc, idx)
        codes = OpCodes(*(getattr(table, f.name) for f in fields(OpTable)), stream=oc.stream.take(idx),
                        phase=oc.phase.take(idx), utt=oc.utt[idx], dep_ptr=dep_ptr, dep_src=dep_src)
        return Workload(self.path, self.meta, codes=codes, step=self.step[idx])


DEPS_ARROW_TYPE = pa.list_(pa.int64())


def deps_series(column: pa.ChunkedArray | pa.Array) -> pd.Series:
    """A ``deps`` column backed by Arrow (offsets + values, no per-op Python lists); reads as lists of ints."""
    import pandas as pd

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if column.type != DEPS_ARROW_TYPE:
        column = column.cast(DEPS_ARROW_TYPE)
    return pd.Series(pd.arrays.ArrowExtensionArray(column), dtype=pd.ArrowDtype(DEPS_ARROW_TYPE))


def deps_csr(deps: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """CSR pointer and parent ids (int64) of a ``deps`` column (Arrow-backed: zero-copy; else lists of ints)."""
    import pandas as pd

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


def ops_frame(codes: OpCodes, step: np.ndarray) -> pd.DataFrame:
    """The pandas ops table (dtypes as in ``OP_COLUMNS``; text columns categorical with the labels in code
    order, ``deps`` Arrow-backed lists) of a workload's arrays."""
    import pandas as pd

    n = len(codes)
    ptr, src = codes.dep_ptr, codes.dep_src
    offsets = pa.array(ptr.astype(np.int32 if ptr[-1] < 2**31 else np.int64, copy=False))
    deps = pa.ListArray.from_arrays(offsets, pa.array(src.astype(np.int64, copy=False)))
    data: dict[str, Any] = {}
    for name, dtype in OP_COLUMNS.items():
        if name == "id":
            data[name] = np.arange(n, dtype=np.int64)
        elif name == "deps":
            data[name] = deps_series(deps)
        elif dtype == "category":
            lab = getattr(codes, name)
            data[name] = pd.Categorical.from_codes(lab.codes, categories=pd.Index(list(lab.names)))
        else:
            data[name] = (step if name == "step" else getattr(codes, name)).astype(dtype, copy=False)
    return pd.DataFrame(data, copy=False)


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
MEMORY_ENV = "ACCELSIM_MAX_OPS_MEMORY_GB"

_INT_DTYPES = (np.dtype(np.int8), np.dtype(np.int16), np.dtype(np.int32), np.dtype(np.int64))
#: Narrowest dtype the loader keeps each column in; a column is widened (int8 -> int16 -> int32 -> int64) only
#: as far as its values need. Text codes, utterance ids and steps: from int8 (only compared and indexed).
#: m, k, n: int64 always (the cost model and the mapper multiply them: m*k*n reaches 2**53, never
#: overflowing). Dependencies (CSR pointer and parent ids): from int32 (numba kernels read them; one
#: specialization per dtype).
_FLOOR_DTYPE = {"m": np.int64, "k": np.int64, "n": np.int64, "dep_ptr": np.int32, "dep_src": np.int32}
#: Bytes per op the loaded arrays take at most (:func:`check_parquet_before_read`): each text code, utt and
#: step at its widest (int32: a column has fewer labels than 2**31 and utt/step are int32 by the format),
#: m, k, n (int64), the CSR pointer (int64 at its widest); ``id`` is checked, not kept.
_LOADED_BYTES_PER_OP = 4 * len(TEXT_COLUMNS) + 4 + 4 + 3 * 8 + 8
#: Bytes per dependency once loaded: its parent id (int64 at its widest).
_LOADED_BYTES_PER_DEP = 8
#: Bytes per row of a decoded row group (Arrow's widths): six dictionary-index columns (int32), utt and step
#: (int32), id, m, k, n (int64), the deps offsets (int32); plus the parent ids, int64 per dependency.
_DECODED_BYTES_PER_ROW = 4 * len(TEXT_COLUMNS) + 4 + 4 + 4 * 8 + 4
_DECODED_BYTES_PER_DEP = 8
#: Rows the checks process at a time (their temporaries stay a few tens of MB)...
_CHECK_BLOCK_ROWS = 1 << 20
#: ... and their bytes per row: m, k, n as float64, the element count (float64), a few masks; the deps check's
#: owner id (int32) and masks per edge are counted with the dependencies' 8 B.
_CHECK_BYTES_PER_ROW = 4 * 8 + 4


def _narrowest_int(lo: int, hi: int, floor: np.dtype) -> np.dtype | None:
    """The narrowest signed integer dtype, no narrower than ``floor``, holding ``lo..hi``; None when none does."""
    for dt in _INT_DTYPES:
        if dt.itemsize >= np.dtype(floor).itemsize and np.iinfo(dt).min <= lo and hi <= np.iinfo(dt).max:
            return dt
    return None


class _FilledColumn:
    """A column decoded row group by row group into one preallocated array (pages of an unfilled tail are
    never touched), in the narrowest dtype holding every value so far: widened, copying what is filled, when
    a row group needs more (and grown, should the size given be short)."""

    def __init__(self, size: int, floor: Any) -> None:
        self.values = np.empty(size, dtype=floor)
        self.filled = 0

    def _fit(self, lo: int, hi: int, rows: int) -> None:
        need = _narrowest_int(lo, hi, self.values.dtype)
        if need is None:
            raise OverflowError(f"values {lo}..{hi} do not fit int64")
        size = len(self.values) if self.filled + rows <= len(self.values) else max(2 * len(self.values),
                                                                                   self.filled + rows)
        if need != self.values.dtype or size != len(self.values):
            wider = np.empty(size, dtype=need)
            wider[:self.filled] = self.values[:self.filled]
            self.values = wider

    def append(self, chunk: np.ndarray, lo: int, hi: int) -> None:
        """Append ``chunk`` (its values in ``lo..hi``, which must fit int64)."""
        self._fit(lo, hi, len(chunk))
        end = self.filled + len(chunk)
        self.values[self.filled:end] = chunk
        self.filled = end

    def append_lookup(self, table: np.ndarray, index: np.ndarray, hi: int) -> None:
        """Append ``table[index]`` (values in ``0..hi``), written in place: no temporary per row."""
        self._fit(0, hi, len(index))
        end = self.filled + len(index)
        np.take(table.astype(self.values.dtype), index, out=self.values[self.filled:end])
        self.filled = end

    def result(self) -> np.ndarray:
        return self.values[:self.filled] if self.filled != len(self.values) else self.values


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


def _deps_entries_per_group(md: pq.FileMetaData) -> list[int]:
    """Per row group, the entries of its ``deps`` lists from the footer (an empty list counts one): at least
    its dependencies."""
    deps_col = [j for j in range(md.num_columns) if md.schema.column(j).path.startswith("deps")]
    return [sum(md.row_group(i).column(j).num_values for j in deps_col) for i in range(md.num_row_groups)]


def check_parquet_before_read(ops_path: Path, meta_path: Path, expected_rows: int) -> pq.ParquetFile:
    """Read only the Parquet footer: row count against ``ops.count`` and a memory estimate, before any data.

    The estimate is derived from what :func:`load_workload` holds at most: the file (memory-mapped), the
    loaded arrays at their widest dtypes (``_LOADED_BYTES_PER_OP`` per op, ``_LOADED_BYTES_PER_DEP`` per
    dependency), one decoded row group at a time (the largest, at Arrow's widths) and one block of the
    checks' temporaries. Returns the opened file (memory-mapped)."""
    try:
        pf = pq.ParquetFile(ops_path, memory_map=True)
        md = pf.metadata
    except (pa.ArrowException, OSError) as exc:
        raise TraceError(f"{ops_path}: cannot read the ops file as Parquet ({abbreviate(str(exc), 200)}); "
                         "it is truncated or corrupt") from None
    if md.num_rows != expected_rows:
        raise TraceError(f"{ops_path}: holds {md.num_rows:,} ops but {meta_path} says ops.count = {expected_rows:,}")
    group_deps = _deps_entries_per_group(md)
    deps_values = sum(group_deps)
    largest_group = max((md.row_group(i).num_rows * _DECODED_BYTES_PER_ROW + d * _DECODED_BYTES_PER_DEP
                         for i, d in enumerate(group_deps)), default=0)  # bytes of the largest, once decoded
    estimate = (ops_path.stat().st_size + md.num_rows * _LOADED_BYTES_PER_OP + deps_values * _LOADED_BYTES_PER_DEP
                + largest_group + min(md.num_rows, _CHECK_BLOCK_ROWS) * _CHECK_BYTES_PER_ROW)
    limit = max_ops_memory_bytes()
    if estimate > limit:
        raise TraceError(
            f"{ops_path}: {md.num_rows:,} ops with {deps_values:,} dependencies would need about "
            f"{estimate / 1e9:.1f} GB of memory once loaded, more than the {limit / 1e9:.1f} GB allowed; "
            f"split the workload (fewer utterances) or raise the limit with {MEMORY_ENV}=<GB>"
        )
    return pf


def _column_type_problem(name: str, typ: pa.DataType) -> str | None:
    """What is wrong with the Parquet type of column ``name`` (None: nothing)."""
    dtype = OP_COLUMNS[name]
    if dtype == "list<int64>":
        if not (pa.types.is_list(typ) or pa.types.is_large_list(typ)) or not pa.types.is_integer(typ.value_type):
            return f"column {name} has type {typ}; expected a list of integer op ids"
    elif dtype == "category":
        value_type = typ.value_type if pa.types.is_dictionary(typ) else typ
        if not (pa.types.is_string(value_type) or pa.types.is_large_string(value_type)):
            return f"column {name} has type {typ}; expected text"
    elif not pa.types.is_integer(typ):
        return f"column {name} has type {typ}; expected whole numbers ({dtype}), never truncated"
    return None


def _min_max(arr: pa.Array) -> tuple[int, int]:
    """Smallest and largest value of a non-empty, null-free integer array."""
    values = int_view(arr)
    return int(values.min()), int(values.max())


class _Decoder:
    """Decodes the ops file's row groups into the lean columns, counting nulls and value ranges per column
    for the checks of :meth:`problems` (which see the whole column, as if it were one array)."""

    def __init__(self, where: str, n: int, schema: pa.Schema, deps_bound: int) -> None:
        self.where, self.n = where, n
        self.bad_type = {name: p for name in OP_COLUMNS
                         if (p := _column_type_problem(name, schema.field(name).type)) is not None}
        self.nulls = dict.fromkeys(OP_COLUMNS, 0)
        self.inner_nulls = 0  # null op ids inside the deps lists
        self.ranges: dict[str, list[int]] = {}  # column -> [min, max] over the rows read
        self.cols = {name: _FilledColumn(n, _FLOOR_DTYPE.get(name, np.int8))
                     for name in (*TEXT_COLUMNS, "utt", "step", "m", "k", "n")}
        self.dep_ptr = _FilledColumn(n + 1, _FLOOR_DTYPE["dep_ptr"])
        self.dep_ptr.append(np.zeros(1, dtype=np.int64), 0, 0)
        self.dep_src = _FilledColumn(deps_bound, _FLOOR_DTYPE["dep_src"])  # trimmed to the edges at the end
        self.edges = 0
        self.labels: dict[str, dict[str, int]] = {name: {} for name in TEXT_COLUMNS}  # label -> code, in order
        self.ids: np.ndarray | None = None  # the id column, kept only when it is not 0..n-1
        self.rows = 0

    def add(self, table: pa.Table) -> None:
        """Decode one row group (``table``: its columns)."""
        for name in OP_COLUMNS:
            if name in self.bad_type:
                continue
            at = self.rows
            for chunk in table.column(name).chunks:
                self._add_chunk(name, chunk, at)
                at += len(chunk)
        self.rows += table.num_rows

    def _failed(self, name: str) -> bool:
        return name in self.bad_type or self.nulls[name] > 0 or (name == "deps" and self.inner_nulls > 0)

    def _add_chunk(self, name: str, chunk: pa.Array, at: int) -> None:
        self.nulls[name] += chunk.null_count
        dtype = OP_COLUMNS[name]
        if self._failed(name) or not (len(chunk) or dtype == "category"):  # (an empty chunk's labels count)
            return
        if dtype == "list<int64>":
            offsets = int_view(chunk.offsets)
            count = int(offsets[-1] - offsets[0])
            # the lists' values (no list is null here): ``chunk.flatten()`` without importing pyarrow.compute
            values = chunk.values.slice(int(offsets[0]), count)
            self.inner_nulls += values.null_count
            if values.null_count:
                return
            self.dep_ptr.append(offsets[1:].astype(np.int64) + (self.edges - int(offsets[0])), self.edges,
                                self.edges + count)
            if count:
                lo, hi = _min_max(values)
                try:
                    self.dep_src.append(int_view(values), lo, hi)
                except OverflowError:
                    raise TraceError(f"{self.where}: column deps: op ids {lo}..{hi} do not fit int64") from None
            self.edges += count
        elif dtype == "category":
            if not pa.types.is_dictionary(chunk.type):
                chunk = chunk.dictionary_encode()
            labels = self.labels[name]
            remap = np.array([labels.setdefault(v, len(labels)) for v in chunk.dictionary.to_pylist()],
                             dtype=np.int64)
            # the codes' dtype holds the label count too (callers use it as a "none" code)
            if np.array_equal(remap, np.arange(len(remap))):  # the chunk's dictionary is the labels' order
                self.cols[name].append(int_view(chunk.indices), 0, len(labels))
            else:
                self.cols[name].append_lookup(remap, int_view(chunk.indices), len(labels))
        else:
            lo, hi = _min_max(chunk)
            rng = self.ranges.setdefault(name, [lo, hi])
            rng[0], rng[1] = min(rng[0], lo), max(rng[1], hi)
            allowed = _INT_RANGES[name]
            values = int_view(chunk)
            if name == "id":
                if self.ids is None and not (values[0] == at and values[-1] == at + len(values) - 1
                                             and (values[1:] > values[:-1]).all()):
                    self.ids = np.arange(self.n, dtype=np.int64)
                if self.ids is not None and allowed[0] <= lo and hi <= allowed[1]:
                    self.ids[at:at + len(values)] = values
            elif allowed[0] <= lo and hi <= allowed[1]:  # out of range: reported by problems(), never stored
                self.cols[name].append(values, lo, hi)

    def problems(self) -> list[str]:
        """Column types, nulls and value ranges of the raw ops table (before any conversion could truncate)."""
        out: list[str] = []
        for name, dtype in OP_COLUMNS.items():
            if name in self.bad_type:
                out.append(self.bad_type[name])
            elif self.nulls[name]:
                if dtype == "list<int64>":
                    out.append(f"column {name}: {self.nulls[name]} null value(s); an op without parents has []")
                elif dtype == "category":
                    out.append(f"column {name}: {self.nulls[name]} null value(s); expected text (\"\" for none)")
                else:
                    out.append(f"column {name}: {self.nulls[name]} null value(s); expected whole numbers")
            elif dtype == "list<int64>" and self.inner_nulls:
                out.append(f"column {name}: {self.inner_nulls} null op id(s) inside the lists")
            elif name in self.ranges:
                (lo, hi), (vmin, vmax) = _INT_RANGES[name], self.ranges[name]
                if vmin < lo or vmax > hi:
                    out.append(f"column {name} holds values {vmin}..{vmax}; allowed {lo}..{hi}")
        return out

    def codes(self) -> tuple[OpCodes, np.ndarray]:
        """The decoded columns as the integer view, and ``step``."""
        col = {name: c.result() for name, c in self.cols.items()}
        lab = {name: Labelled(col[name], tuple(self.labels[name])) for name in TEXT_COLUMNS}
        oc = OpCodes(lab["kind"], lab["func"], lab["pclass"], lab["weight"], col["m"], col["k"], col["n"],
                     stream=lab["stream"], phase=lab["phase"], utt=col["utt"], dep_ptr=self.dep_ptr.result(),
                     dep_src=self.dep_src.result())
        return oc, col["step"]


def _check_shapes_and_funcs(oc: OpCodes, meta: WorkloadMeta) -> list[str]:
    """Element counts within bounds, known vector functions, top-k with 1 <= k <= n, utterances in range."""
    from accelsim.cost.vector import FUNC_ALIASES
    from accelsim.spec.schema import VECTOR_FUNCS

    problems = []
    n_ops = len(oc)
    is_mm = oc.kind.rows_of("matmul")
    # no row can exceed the product of the columns' largest values (exact Python ints): then skip the rows
    top_m, top_k, top_n = (int(getattr(oc, c).max()) for c in ("m", "k", "n"))
    bounded = top_m * max(top_k * top_n, top_k, top_n) <= MAX_OP_ELEMENTS
    for lo in range(0, 0 if bounded else n_ops, _CHECK_BLOCK_ROWS):  # blocks: float64 temporaries of a few MB
        hi = min(lo + _CHECK_BLOCK_ROWS, n_ops)
        m, k, n = (getattr(oc, c)[lo:hi].astype(np.float64) for c in ("m", "k", "n"))
        elements = np.where(is_mm[lo:hi], m * k * n, m * np.maximum(n, k))
        if elements.max() > MAX_OP_ELEMENTS:
            i = lo + int(np.argmax(elements > MAX_OP_ELEMENTS))
            problems.append(f"op {i}: shape m={int(oc.m[i])} k={int(oc.k[i])} n={int(oc.n[i])} has more than "
                            "2**53 elements")
            break
    known = set(VECTOR_FUNCS) | set(FUNC_ALIASES)
    fcodes = oc.func.codes
    fnames = np.array(oc.func.names, dtype=object)
    for kname in ("nonlinear", "elementwise"):
        sel = oc.kind.rows_of(kname)
        used = np.flatnonzero(np.bincount(fcodes[sel], minlength=len(fnames)))
        bad = sorted(set(fnames[used].tolist()) - known)
        if bad:
            bad_codes = np.flatnonzero(np.isin(fnames, bad))
            i = int(np.flatnonzero(sel & np.isin(fcodes, bad_codes))[0])
            problems.append(
                f"op {i}: {kname} func {abbreviate(bad[0])} is unknown (allowed: {', '.join(sorted(known))})")
    topk = np.flatnonzero(oc.kind.rows_of("topk"))
    bad_k = (oc.k[topk] < 1) | (oc.k[topk] > oc.n[topk])
    if bad_k.any():
        i = int(topk[np.argmax(bad_k)])
        problems.append(f"op {i}: topk selects k={int(oc.k[i])} of n={int(oc.n[i])} candidates; need 1 <= k <= n")
    utt = oc.utt
    if utt.size and utt.max() >= meta.audio.utterances:
        i = int(np.argmax(utt >= meta.audio.utterances))
        problems.append(f"op {i}: utt = {int(utt[i])} but audio.utterances = {meta.audio.utterances} "
                        "(utterances are numbered 0..utterances-1)")
    return problems


def _first_op_with_bad_parent(ptr: np.ndarray, src: np.ndarray) -> int | None:
    """The first op with a parent id < 0 or >= its own id (CSR ``ptr``/``src``); None if none. In blocks of
    ops, each edge compared with its owner's id (the blocks' temporaries stay in cache)."""
    n = len(ptr) - 1
    for lo in range(0, n, _CHECK_BLOCK_ROWS):
        hi = min(lo + _CHECK_BLOCK_ROWS, n)
        e0, e1 = int(ptr[lo]), int(ptr[hi])
        if e0 == e1:
            continue
        owner = np.repeat(np.arange(lo, hi, dtype=np.int32 if hi < 2**31 else np.int64), np.diff(ptr[lo:hi + 1]))
        parents = src[e0:e1]
        bad = (parents < 0) | (parents >= owner)
        if bad.any():
            return int(owner[np.argmax(bad)])
    return None


def _check_ops(where: str, oc: OpCodes, meta: WorkloadMeta, ids: np.ndarray | None = None) -> None:
    """Semantic checks of the ops (as arrays) against the format; raises TraceError listing the first problems.
    ``ids``: the id column when it is not the row index (else None)."""
    problems: list[str] = []
    n = len(oc)
    if ids is not None:
        problems.append("column id must be 0..count-1 in order")
    for col, allowed in (("kind", OP_KINDS), ("phase", PHASES), ("pclass", PRECISION_CLASSES)):
        bad = sorted(set(getattr(oc, col).names) - set(allowed))
        if bad:
            problems.append(f"column {col} has unknown values {bad[:5]} (allowed: {', '.join(allowed)})")
    for col in ("m", "n"):
        if n and getattr(oc, col).min() <= 0:
            problems.append(f"column {col} must be > 0 (first bad op id {int(np.argmax(getattr(oc, col) <= 0))})")
    if n and oc.k.min() < 0:
        problems.append("column k must be >= 0")
    wnames = list(oc.weight.names)
    elements = np.array([meta.weights[w].elements if w and w in meta.weights else -1 for w in wnames] + [-1],
                        dtype=np.int64)
    is_mm = oc.kind.rows_of("matmul")
    mm_k_min = None
    firsts: dict[str, tuple[int, int]] = {}  # weight -> (first matmul row reading it with a wrong shape, code)
    for lo in range(0, n, _CHECK_BLOCK_ROWS):  # by weight code, in blocks: no per-op Python work
        rows = lo + np.flatnonzero(is_mm[lo:min(lo + _CHECK_BLOCK_ROWS, n)])
        if not len(rows):
            continue
        k_mm = oc.k[rows]
        mm_k_min = int(k_mm.min()) if mm_k_min is None else min(mm_k_min, int(k_mm.min()))
        wcodes = oc.weight.codes[rows]
        want = elements[wcodes]  # code -1 (missing) reads the trailing -1
        bad = (want >= 0) & (k_mm * oc.n[rows] != want)
        if bad.any():
            codes, first = np.unique(wcodes[bad], return_index=True)
            for c, r in zip(codes.tolist(), rows[bad][first].tolist()):
                firsts.setdefault(wnames[c], (r, c))
    if mm_k_min is not None and mm_k_min <= 0:
        problems.append("matmul ops need k > 0")
    if n:
        problems.extend(_check_shapes_and_funcs(oc, meta))
    unknown = sorted(set(wnames) - {""} - set(meta.weights))
    if unknown:
        problems.append(f"ops read weights not declared in workload.yaml weights: {unknown[:5]}")
    for w in sorted(firsts):
        r, c = firsts[w]
        problems.append(f"matmul op {int(ids[r]) if ids is not None else r} reads {w!r} as "
                        f"{int(oc.k[r])}x{int(oc.n[r])} but the weight has {int(elements[c])} elements")
    ptr, flat = oc.dep_ptr, oc.dep_src
    if len(flat):
        op_id = _first_op_with_bad_parent(ptr, flat)
        if op_id is not None:
            problems.append(f"op {op_id}: deps {flat[ptr[op_id]:ptr[op_id + 1]].tolist()[:5]} must name earlier ops")
    if problems:
        raise TraceError(f"{where}: invalid ops table:\n  " + "\n  ".join(problems[:10]))


def _decode_ops(ops_path: Path, pf: pq.ParquetFile, n: int) -> _Decoder:
    """Every row group of ``pf`` through a :class:`_Decoder` (one decoded at a time)."""
    missing = [c for c in OP_COLUMNS if c not in pf.schema_arrow.names]
    if missing:
        raise TraceError(f"{ops_path}: ops file lacks columns {missing} (trace format v{FORMAT_VERSION})")
    dec = _Decoder(str(ops_path), n, pf.schema_arrow, sum(_deps_entries_per_group(pf.metadata)))
    wanted = [c for c in OP_COLUMNS if c not in dec.bad_type]
    try:
        for i in range(pf.num_row_groups):
            # one thread: decoding on the thread pool cost more CPU seconds, and no less wall time on 2 cores
            dec.add(pf.read_row_group(i, columns=wanted, use_threads=False))
    except (pa.ArrowException, OSError) as exc:
        raise TraceError(f"{ops_path}: cannot read the ops file as Parquet ({exc}); it is truncated or corrupt") from None
    if dec.rows != n:
        raise TraceError(f"{ops_path}: holds {dec.rows} ops but its footer says {n}")
    return dec


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
    pf = check_parquet_before_read(ops_path, meta_path, meta.ops.count)
    try:
        dec = _decode_ops(ops_path, pf, meta.ops.count)
    finally:
        pf.close()
    problems = dec.problems()
    if problems:
        raise TraceError(f"{ops_path}: invalid ops table:\n  " + "\n  ".join(problems[:10]))
    codes, step = dec.codes()
    ids = dec.ids
    del dec
    pa.default_memory_pool().release_unused()  # decoded pages go back to the OS (or to what follows)
    _check_ops(str(ops_path), codes, meta, ids)
    return Workload(directory, meta, codes=codes, step=step)
