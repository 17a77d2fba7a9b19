"""load_workload decodes straight into the lean integer view: the lazily built pandas table equals what the
pandas-based loader built (dtypes, categories, values), the narrow dtypes fall back to wider ones when the
values need it, bad input still gets the same errors, and ``accelsim run`` never imports pandas."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accelsim.errors import TraceError
from accelsim.trace import load_workload, write_workload
from accelsim.trace.coded import TEXT_COLUMNS, frame_codes
from accelsim.trace.format import OP_COLUMNS, WeightMeta
from accelsim.trace.io import _LOADED_BYTES_PER_DEP, _LOADED_BYTES_PER_OP, Workload, _ops_to_arrow, deps_series

REPO = Path(__file__).resolve().parents[1]


def pandas_loader_frame(directory: Path) -> pd.DataFrame:
    """The ops table as the pandas-based loader (up to a35903e) built it from the Parquet file."""
    table = pq.read_table(directory / "ops.parquet", use_threads=False)
    data = {}
    for name, dtype in OP_COLUMNS.items():
        col = table.column(name)
        if dtype == "list<int64>":
            data[name] = deps_series(col)
        elif dtype == "category":
            if not pa.types.is_dictionary(col.type):
                col = col.dictionary_encode()
            col = col.unify_dictionaries().combine_chunks()
            codes = col.indices.to_numpy(zero_copy_only=False)
            data[name] = pd.Categorical.from_codes(codes, categories=pd.Index(col.dictionary.to_pylist()))
        else:
            data[name] = col.to_numpy().astype(dtype, copy=False)
    return pd.DataFrame(data, copy=False)


def assert_same_frame(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(got.columns) == list(want.columns) == list(OP_COLUMNS)
    assert list(got.dtypes) == list(want.dtypes)
    for name in OP_COLUMNS:
        if OP_COLUMNS[name] == "category":
            assert list(got[name].cat.categories) == list(want[name].cat.categories), name
            assert got[name].cat.categories.dtype == want[name].cat.categories.dtype, name
    pd.testing.assert_frame_equal(got, want, check_exact=True)


def copy_of_shipped(tmp_path: Path, name: str) -> tuple[Path, pa.Table]:
    """A folder ``tmp_path / "wl"`` holding shipped workload ``name``'s workload.yaml, and its ops table (to edit
    and :func:`rewrite` there)."""
    directory = tmp_path / "wl"
    src = REPO / "workloads" / name
    directory.mkdir()
    (directory / "workload.yaml").write_text((src / "workload.yaml").read_text())
    return directory, pq.read_table(src / "ops.parquet")


def rewrite(directory: Path, table: pa.Table, **write_kw) -> None:
    """Replace the ops file by ``table`` (Parquet options ``write_kw``) and make workload.yaml agree."""
    pq.write_table(table, directory / "ops.parquet", **write_kw)
    meta = yaml.safe_load((directory / "workload.yaml").read_text())
    meta["ops"]["sha256"] = hashlib.sha256((directory / "ops.parquet").read_bytes()).hexdigest()
    meta["ops"]["count"] = table.num_rows
    (directory / "workload.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))


@pytest.mark.parametrize("name", ["small_beam1", "small_beam16", "rnnt_beam16", "rnnt_nolm_beam4"])
def test_lazy_frame_equals_the_pandas_loader_on_shipped_workloads(name):
    wl = load_workload(REPO / "workloads" / name)
    assert wl._ops is None  # not built by the load
    assert wl.n_ops == wl.meta.ops.count
    assert_same_frame(wl.ops, pandas_loader_frame(REPO / "workloads" / name))
    assert wl.ops is wl.ops  # built once, kept


def test_row_groups_with_their_own_dictionaries_decode_as_one_table(tmp_path):
    """Small row groups (each with its own dictionary, in its own order) give the labels in the order
    Arrow's unify_dictionaries gives them, and the same table."""
    directory, table = copy_of_shipped(tmp_path, "small_beam16")
    rng = np.random.default_rng(0)
    table = table.set_column(table.column_names.index("stream"), "stream",
                             pa.array(np.array(table.column("stream").to_pylist(), dtype=object)))  # plain text
    rewrite(directory, table, row_group_size=int(rng.integers(700, 1500)))
    assert pq.ParquetFile(directory / "ops.parquet").num_row_groups > 10
    wl = load_workload(directory)
    assert_same_frame(wl.ops, pandas_loader_frame(directory))


def _wide_table(n: int, seed: int) -> tuple[pd.DataFrame, dict[str, WeightMeta]]:
    """A valid ops table whose values need the wide dtypes: > 127 (and > 32767) labels, utterance ids and steps
    beyond int16, dims near 2**31 (m*k*n far beyond int32, within 2**53)."""
    rng = np.random.default_rng(seed)
    kind = np.where(np.arange(n) % 2 == 0, "matmul", "elementwise")
    weights = {f"w{i}": WeightMeta(shape=[3, 2**30], pclass="matmul") for i in range(200)}
    ops = pd.DataFrame({
        "id": np.arange(n, dtype=np.int64),
        "kind": pd.Categorical(kind),
        "phase": pd.Categorical(["encoder"] * n),
        "pclass": pd.Categorical(np.where(kind == "matmul", "matmul", "elementwise")),
        "func": pd.Categorical(np.where(kind == "matmul", "", "add")),
        "stream": pd.Categorical([f"s{i}" for i in range(n)]),  # one label per op
        "weight": pd.Categorical(np.where(kind == "matmul", [f"w{(i // 2) % 200}" for i in range(n)], "")),
        "utt": (np.arange(n) * 7 + 2**20).astype(np.int32),
        "step": np.where(np.arange(n) % 3 == 0, -1, 2**31 - 1 - np.arange(n)).astype(np.int32),
        "m": rng.integers(1, 4, n).astype(np.int64),
        "k": np.where(kind == "matmul", 3, 0).astype(np.int64),
        "n": np.where(kind == "matmul", 2**30, rng.integers(2**29, 2**31 - 1, n)).astype(np.int64),
        "deps": deps_series(pa.array([[i - 1] if i else [] for i in range(n)], pa.list_(pa.int64()))),
    })
    return ops, weights


def _meta_fields(utterances: int) -> dict:
    return dict(name="wide", synthetic=True, provenance={"command": "pytest", "generator": "tests"}, model={},
                search={"algorithm": "alsd", "beam": 1, "fusion": "none"},
                audio={"seconds": 1.0, "utterances": utterances, "frame_rate_hz": 50.0})


def test_wide_values_fall_back_to_wide_dtypes_and_read_back_exactly(tmp_path):
    n = 40_000
    ops, weights = _wide_table(n, 1)
    wl = write_workload(tmp_path / "wide", ops=ops, weights=weights, **_meta_fields(int(ops["utt"].max()) + 1))
    oc = wl.codes
    assert oc.stream.codes.dtype == np.int32  # 40,000 labels: beyond int16
    assert oc.weight.codes.dtype == np.int16 and oc.kind.codes.dtype == np.int8
    assert oc.utt.dtype == np.int32 and wl.step.dtype == np.int32
    assert oc.m.dtype == oc.k.dtype == oc.n.dtype == np.int64
    assert_same_frame(wl.ops, pandas_loader_frame(tmp_path / "wide"))
    ref = frame_codes(ops)  # the pandas-table route to the integer view agrees with the decoded one
    for name in TEXT_COLUMNS:  # (the file's labels are in order of appearance, the table's sorted)
        r, o = getattr(ref, name), getattr(oc, name)
        assert np.array_equal(np.array(r.names, dtype=object)[r.codes], np.array(o.names, dtype=object)[o.codes])
    for name in ("m", "k", "n", "utt", "dep_ptr", "dep_src"):
        assert np.array_equal(getattr(ref, name), getattr(oc, name)), name


def test_deps_beyond_int32_widen_and_are_refused_with_their_values(tmp_path):
    directory, table = copy_of_shipped(tmp_path, "small_beam1")
    deps = table.column("deps").to_pylist()
    deps[-1] = [2**40, 3]
    rewrite(directory, table.set_column(table.column_names.index("deps"), "deps",
                                        pa.array(deps, pa.list_(pa.int64()))), row_group_size=5000)
    with pytest.raises(TraceError, match=rf"op {len(deps) - 1}: deps \[{2**40}, 3\] must name earlier ops"):
        load_workload(directory)


@pytest.mark.parametrize("column, row, value, expect", [
    ("kind", 12_000, None, r"column kind: 1 null value\(s\); expected text"),
    ("m", 12_000, None, r"column m: 1 null value\(s\); expected whole numbers"),
    ("step", 11_000, 2**40, r"column step holds values -1\.\.1099511627776; allowed -1\.\.2147483647"),
    ("id", 11_000, 5, r"column id must be 0\.\.count-1 in order"),
    ("deps", 11_000, [11_000], r"op 11000: deps \[11000\] must name earlier ops"),
    ("deps", 11_000, [-1, 0], r"op 11000: deps \[-1, 0\] must name earlier ops"),
])
def test_bad_values_in_a_later_row_group_give_the_same_errors(tmp_path, column, row, value, expect):
    """Each row group is checked as part of the whole column: counts, ranges and op ids over the table."""
    directory, table = copy_of_shipped(tmp_path, "small_beam16")
    values = table.column(column).to_pylist()
    values[row] = value
    typ = pa.int64() if column == "step" else table.schema.field(column).type
    array = pa.array(values, pa.string()).dictionary_encode() if pa.types.is_dictionary(typ) else pa.array(values, typ)
    rewrite(directory, table.set_column(table.column_names.index(column), column, array), row_group_size=4096)
    with pytest.raises(TraceError, match=expect) as err:
        load_workload(directory)
    assert str(directory / "ops.parquet") in str(err.value)


def test_memory_estimate_bounds_what_the_load_holds():
    """The footer estimate (load_workload's guard) is an upper bound of the arrays a loaded workload keeps."""
    for name in ("small_beam16", "rnnt_beam16"):
        wl = load_workload(REPO / "workloads" / name)
        oc = wl.codes
        held = sum(getattr(oc, c).codes.nbytes for c in TEXT_COLUMNS)
        held += sum(a.nbytes for a in (oc.m, oc.k, oc.n, oc.utt, oc.dep_ptr, oc.dep_src, wl.step))
        assert held <= wl.n_ops * _LOADED_BYTES_PER_OP + len(oc.dep_src) * _LOADED_BYTES_PER_DEP


def test_simulating_the_lean_view_equals_simulating_the_pandas_table():
    """Narrow codes / int32 deps (the loaded view) and int32 codes / int64 deps (a view of the pandas table)
    give the same run, bit for bit."""
    from accelsim.sim import simulate
    from accelsim.spec import load_arch

    wl = load_workload(REPO / "workloads" / "small_beam16")
    twin = Workload(wl.path, wl.meta, pandas_loader_frame(wl.path))
    assert twin.codes.kind.codes.dtype == np.int32 and twin.codes.dep_src.dtype == np.int64
    assert wl.codes.kind.codes.dtype == np.int8 and wl.codes.dep_src.dtype == np.int32
    for mapping in ("naive", "search"):
        arch = load_arch(REPO / "arch" / "int4.yaml", {"scheduler.mapping": mapping})
        a, b = simulate(arch, wl), simulate(arch, twin)
        sa, sb = ({k: v for k, v in r.summary().items() if "wall" not in k} for r in (a, b))  # host time differs
        assert json.dumps(sa, sort_keys=True) == json.dumps(sb, sort_keys=True)
        for name in ("start_s", "end_s", "core"):
            assert np.array_equal(getattr(a, name), getattr(b, name))
    assert wl._ops is None  # the simulator never built the pandas table


def test_accelsim_run_never_imports_pandas(tmp_path):
    code = (
        "import sys, io, contextlib\n"
        "from accelsim.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    rc = main(['run', 'arch/int4.yaml', 'workloads/rnnt_beam16', '--json', {str(tmp_path / 'r.json')!r}])\n"
        "print(rc, 'pandas' in sys.modules, sorted(m for m in sys.modules if m.startswith('pandas'))[:3])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300,
                         env={**__import__("os").environ, "PYTHONPATH": str(REPO)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[:2] == ["0", "False"], out.stdout
    assert json.loads((tmp_path / "r.json").read_text())["summary"]["num_ops"] == 84_367


_labels = st.sampled_from(["a", "b", "encoder.l0", "", "x" * 30, "ü"])


@st.composite
def small_tables(draw):
    n = draw(st.integers(0, 40))
    deps = [sorted(set(draw(st.lists(st.integers(0, i - 1), max_size=3)))) if i else [] for i in range(n)]
    ints = st.integers(1, 2**31 - 1)
    return pd.DataFrame({
        "id": np.arange(n, dtype=np.int64),
        "kind": pd.Categorical(["gather"] * n),
        "phase": pd.Categorical(draw(st.lists(st.sampled_from(["encoder", "search"]), min_size=n, max_size=n))),
        "pclass": pd.Categorical(["elementwise"] * n),
        "func": pd.Categorical(draw(st.lists(_labels, min_size=n, max_size=n))),
        "stream": pd.Categorical(draw(st.lists(_labels, min_size=n, max_size=n))),
        "weight": pd.Categorical([""] * n),
        "utt": np.array(draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)), dtype=np.int32),
        "step": np.array(draw(st.lists(st.integers(-1, 2**31 - 1), min_size=n, max_size=n)), dtype=np.int32),
        "m": np.array(draw(st.lists(st.integers(1, 2**10), min_size=n, max_size=n)), dtype=np.int64),
        "k": np.array(draw(st.lists(st.integers(0, 2**31 - 1), min_size=n, max_size=n)), dtype=np.int64),
        "n": np.array(draw(st.lists(ints, min_size=n, max_size=n)), dtype=np.int64),
        "deps": deps_series(pa.array(deps, pa.list_(pa.int64()))),
    })


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=small_tables())
def test_write_then_load_round_trips_the_table(tmp_path, ops):
    wl = write_workload(tmp_path / "rt", ops=ops, weights={}, **_meta_fields(4))
    want = pandas_loader_frame(tmp_path / "rt")  # what the file holds, as the pandas loader read it
    assert_same_frame(wl.ops, want)
    for name in OP_COLUMNS:
        if OP_COLUMNS[name] == "category":
            assert wl.ops[name].astype(str).tolist() == ops[name].astype(str).tolist()
        elif name == "deps":
            assert [list(d) for d in wl.ops[name]] == [list(d) for d in ops[name]]
        else:
            assert wl.ops[name].tolist() == ops[name].tolist()


def test_subset_keeps_columns_and_builds_its_table_without_the_parent_table():
    wl = load_workload(REPO / "workloads" / "small_beam1")
    idx = np.arange(10, 60)
    sub = wl.subset(idx, np.zeros(len(idx) + 1, dtype=np.int64), np.zeros(0, dtype=np.int64))
    assert wl._ops is None and sub.n_ops == len(idx)
    want = pandas_loader_frame(wl.path).iloc[idx].reset_index(drop=True)
    got = sub.ops
    assert got["id"].tolist() == list(range(len(idx)))
    for name in OP_COLUMNS:
        if name not in ("id", "deps"):
            pd.testing.assert_series_equal(got[name], want[name], check_exact=True)
    assert [list(d) for d in got["deps"]] == [[]] * len(idx)


def test_bytes_of_the_old_arrow_writer_and_the_loaded_view_agree():
    """write_workload's Arrow table of a loaded workload's ops is the file's table (nothing lost on the way)."""
    wl = load_workload(REPO / "workloads" / "small_beam16")
    assert _ops_to_arrow(wl.ops).equals(_ops_to_arrow(pandas_loader_frame(wl.path)))


def test_matmul_shape_against_its_weight_and_zero_k_are_refused_by_the_first_bad_op(tmp_path):
    directory, table = copy_of_shipped(tmp_path, "small_beam16")
    kind, weight, k = (table.column(c).to_pylist() for c in ("kind", "weight", "k"))
    mm = [i for i, x in enumerate(kind) if x == "matmul"]
    late = [i for i in mm if i > 20_000]  # in a later row group than the first
    first_w = weight[late[0]]
    again = next(i for i in late[1:] if weight[i] == first_w)
    k[late[0]] += 1
    k[again] += 1  # the same weight read wrongly again, later: the message names the first
    other = next(i for i in late if weight[i] != first_w)
    k[other] = 0
    rewrite(directory, table.set_column(table.column_names.index("k"), "k", pa.array(k, pa.int64())),
            row_group_size=8192)
    with pytest.raises(TraceError) as err:
        load_workload(directory)
    text = str(err.value)
    assert "matmul ops need k > 0" in text
    assert re.search(rf"matmul op {late[0]} reads '{re.escape(first_w)}' as {k[late[0]]}x\d+ but the weight has", text)
    assert f"matmul op {again} " not in text


def test_other_valid_arrow_encodings_decode_as_the_pandas_loader_reads_them(tmp_path):
    """Large lists and int16 parent ids for deps, int8 dictionary indices, unsigned and narrow integer columns,
    large strings: each read exactly, into the same table."""
    directory, t = copy_of_shipped(tmp_path, "small_beam1")

    def put(table, name, array):
        return table.set_column(table.column_names.index(name), name, array)

    deps = t.column("deps").combine_chunks()
    t = put(t, "deps", pa.LargeListArray.from_arrays(deps.offsets.cast(pa.int64()), deps.values.cast(pa.int32())))
    kind = t.column("kind").combine_chunks()
    t = put(t, "kind", pa.DictionaryArray.from_arrays(kind.indices.cast(pa.int8()), kind.dictionary))
    t = put(t, "stream", t.column("stream").cast(pa.string()).cast(pa.large_string()))
    t = put(t, "m", t.column("m").cast(pa.uint32()))
    t = put(t, "utt", t.column("utt").cast(pa.int64()))
    t = put(t, "step", t.column("step").cast(pa.int16()))
    rewrite(directory, t, row_group_size=3000)
    assert_same_frame(load_workload(directory).ops, pandas_loader_frame(directory))
    assert_same_frame(load_workload(directory).ops, load_workload(REPO / "workloads" / "small_beam1").ops)
