"""Issue 12 regressions, accelsim side: every listed hostile input exits 2 with a message naming file and field.

Each test is one case of the red-team list (silent wrong numbers, hangs, tracebacks, low-severity items); the
CLI runs in-process (``accelsim.cli.main``), so a traceback would fail the test as an exception.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from accelsim.cli import main
from accelsim.errors import SpecError, TraceError
from accelsim.spec import load_arch
from accelsim.trace import load_workload

REPO = Path(__file__).resolve().parents[1]
ARCH = REPO / "arch"
SMALL = REPO / "workloads" / "small_beam1"


def run_cli(capsys, *argv: str) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.fixture()
def arch_dir(tmp_path: Path) -> Path:
    out = tmp_path / "arch"
    shutil.copytree(ARCH, out)
    return out


@pytest.fixture()
def small_wl(tmp_path: Path) -> Path:
    out = tmp_path / "wl"
    shutil.copytree(SMALL, out)
    return out


def rewrite_ops(wl: Path, table: pa.Table, count: int | None = None) -> None:
    """Replace the workload's ops.parquet by ``table`` and make workload.yaml agree (checksum, count)."""
    pq.write_table(table, wl / "ops.parquet")
    meta = yaml.safe_load((wl / "workload.yaml").read_text())
    meta["ops"]["sha256"] = hashlib.sha256((wl / "ops.parquet").read_bytes()).hexdigest()
    meta["ops"]["count"] = table.num_rows if count is None else count
    (wl / "workload.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))


def edit_meta(wl: Path, **changes) -> None:
    meta = yaml.safe_load((wl / "workload.yaml").read_text())
    for dotted, value in changes.items():
        node = meta
        *parents, last = dotted.split("__")
        for part in parents:
            node = node[part]
        node[last] = value
    (wl / "workload.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))


def with_column(table: pa.Table, name: str, array: pa.Array) -> pa.Table:
    return table.set_column(table.column_names.index(name), name, array)


# --- 1. silent wrong numbers -----------------------------------------------------------------------------------

def test_near_zero_bandwidth_is_an_error_naming_the_inputs_not_nan_rtf(capsys):
    code, out = run_cli(capsys, "run", ARCH / "int4.yaml", REPO / "workloads" / "rnnt_beam1",
                        "--set", "offchip.bandwidth=1e-300 B/s")
    assert code == 2
    assert "offchip.bandwidth" in out and "rnnt_beam1" in out and "rtf" in out


def test_infinite_audio_seconds_in_a_workload_is_refused(small_wl):
    text = (small_wl / "workload.yaml").read_text()
    inf, n = re.subn(r"(audio: \{seconds: )[0-9.]+", r"\1.inf", text)
    assert n == 1, "the fixture's audio mapping changed form"
    (small_wl / "workload.yaml").write_text(inf)
    with pytest.raises(TraceError, match=r"audio\.seconds"):
        load_workload(small_wl)


def test_fractional_read_bytes_per_cycle_is_not_truncated():
    from accelsim.cost.matmul import matmul_cycles

    base = load_arch(ARCH / "int4.yaml", {"core.scratchpad.read_bytes_per_cycle": 1.0})
    frac = load_arch(ARCH / "int4.yaml", {"core.scratchpad.read_bytes_per_cycle": 1.99})
    half = load_arch(ARCH / "int4.yaml", {"core.scratchpad.read_bytes_per_cycle": 0.5})
    args = (64, 512, 512)
    cyc = {a: matmul_cycles(*args, x.core.matrix, x.core.scratchpad, "int4", "int4", "int4")
           for a, x in (("1", base), ("1.99", frac), ("0.5", half))}
    assert cyc["1.99"] < cyc["1"] < cyc["0.5"]  # 1.99 B/cycle is faster than 1, 0.5 slower: no int() anywhere


@pytest.mark.parametrize("value", ["true", "false", "2.0", "2.5", "'4'", ".inf", ".nan"])
def test_cores_accepts_only_whole_numbers(capsys, value):
    code, out = run_cli(capsys, "run", ARCH / "int4.yaml", SMALL, "--set", f"cores={value}")
    assert code == 2 and "cores" in out


@pytest.mark.parametrize("field", ["core.scratchpad.read_bytes_per_cycle", "interconnect.bytes_per_cycle",
                                   "core.matrix.macs_per_pe_cycle.int4"])
@pytest.mark.parametrize("value", [float("inf"), float("nan"), True])
def test_rate_fields_refuse_infinity_nan_and_booleans(field, value):
    with pytest.raises(SpecError, match=field.split(".")[-1]):
        load_arch(ARCH / "int4.yaml", {field: value})


def test_float_op_dimensions_are_refused_not_truncated(small_wl):
    t = pq.read_table(small_wl / "ops.parquet")
    m = t.column("m").to_numpy().astype("float64")
    m[3] = 2.7
    rewrite_ops(small_wl, with_column(t, "m", pa.array(m)))
    with pytest.raises(TraceError, match=r"column m has type double"):
        load_workload(small_wl)


def test_topk_with_k_larger_than_n_is_refused(small_wl):
    t = pq.read_table(small_wl / "ops.parquet")
    kind = t.column("kind").to_pylist()
    i = kind.index("topk")
    k = t.column("k").to_pylist()
    k[i] = 10_000
    rewrite_ops(small_wl, with_column(t, "k", pa.array(k, pa.int64())))
    with pytest.raises(TraceError, match=rf"op {i}: topk selects k=10000"):
        load_workload(small_wl)


# --- 2. hangs and unbounded memory ------------------------------------------------------------------------------

def billion_laughs(levels: int = 9) -> str:
    lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_arch_file_is_refused_quickly(tmp_path, capsys):
    bad = tmp_path / "laughs.yaml"
    bad.write_text("name: x\n" + billion_laughs())
    code, out = run_cli(capsys, "run", bad, SMALL)
    assert code == 2 and "laughs.yaml" in out and "aliases" in out
    assert len(out) < 2000


def test_billion_laughs_sweep_spec_is_refused_quickly(tmp_path, capsys):
    bad = tmp_path / "sweep.yaml"
    bad.write_text("name: x\n" + billion_laughs() + "grid: [{product: {arch: *l8}}]\n")
    code, out = run_cli(capsys, "sweep", bad, "--out", tmp_path / "out", "--no-progress")
    assert code == 2 and "sweep.yaml" in out and len(out) < 2000
    assert not (tmp_path / "out").exists()


def test_few_aliases_that_expand_widely_are_refused(tmp_path):
    """Under the alias count, but expanding to more values than the node budget."""
    from accelsim.yamlio import MAX_NODES, parse_yaml_text

    text = "a: &a [" + ", ".join(["x"] * 1000) + "]\nb: &b [" + ", ".join(["*a"] * 200) + "]\nc: [" + \
        ", ".join(["*b"] * 50) + "]\n"
    with pytest.raises(SpecError, match=f"{MAX_NODES:,}"):
        parse_yaml_text(text, "f.yaml", SpecError)


def test_parquet_row_count_is_compared_from_the_footer_before_reading(small_wl, monkeypatch):
    edit_meta(small_wl, ops__count=200_000_000)

    def no_read(*a, **k):
        raise AssertionError("the ops table was read before its row count was checked")

    monkeypatch.setattr(pq, "read_table", no_read)
    with pytest.raises(TraceError, match=r"holds [0-9,]+ ops but .* ops.count = 200,000,000"):
        load_workload(small_wl)


def test_parquet_memory_estimate_refuses_before_reading(small_wl, monkeypatch):
    monkeypatch.setenv("ACCELSIM_MAX_OPS_MEMORY_GB", "0.001")
    monkeypatch.setattr(pq, "read_table", lambda *a, **k: pytest.fail("read before the memory check"))
    with pytest.raises(TraceError, match=r"GB of memory once loaded.*ACCELSIM_MAX_OPS_MEMORY_GB"):
        load_workload(small_wl)


# --- 3. tracebacks -> exit 2 ------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expect", [
    ("a: " + "[" * 3000 + "]" * 3000 + "\n", "nesting deeper"),
    ("name: x\n? [1, 2]\n: 3\n", "list used as a key"),
    ("name: x\ncores: 1000000000000000000000000\n", "cores"),
    ("name: x\n\xff\xfe\n", "UTF-8"),
])
def test_hostile_arch_files_exit_2(tmp_path, capsys, text, expect):
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(text.encode("latin-1"))
    code, out = run_cli(capsys, "run", bad, SMALL)
    assert code == 2 and "bad.yaml" in out and expect in out


def test_huge_core_count_override_exits_2(capsys):
    code, out = run_cli(capsys, "run", ARCH / "int4.yaml", SMALL, "--set", "cores=" + "9" * 30)
    assert code == 2 and "cores" in out and "less than or equal to 4096" in out


def test_huge_op_dimensions_are_refused(small_wl):
    t = pq.read_table(small_wl / "ops.parquet")
    n = t.column("n").to_pylist()
    n[0] = 2**40
    rewrite_ops(small_wl, with_column(t, "n", pa.array(n, pa.int64())))
    with pytest.raises(TraceError, match=r"column n holds values"):
        load_workload(small_wl)


@pytest.mark.parametrize("column, array", [
    ("kind", lambda t: pa.array([None] + t.column("kind").to_pylist()[1:], pa.string())),
    ("deps", lambda t: pa.array([None] + t.column("deps").to_pylist()[1:], pa.list_(pa.int64()))),
    ("deps", lambda t: pa.array([[None]] + t.column("deps").to_pylist()[1:], pa.list_(pa.int64()))),
    ("deps", lambda t: pa.array(["x"] * t.num_rows, pa.string())),
    ("kind", lambda t: pa.array([1] * t.num_rows, pa.int64())),
])
def test_nulls_and_strings_in_deps_and_kind_are_refused(small_wl, column, array):
    t = pq.read_table(small_wl / "ops.parquet")
    rewrite_ops(small_wl, with_column(t, column, array(t)))
    with pytest.raises(TraceError, match=rf"column {column}"):
        load_workload(small_wl)


def test_unknown_nonlinear_func_is_refused(small_wl):
    t = pq.read_table(small_wl / "ops.parquet")
    kind, func = t.column("kind").to_pylist(), t.column("func").to_pylist()
    i = kind.index("nonlinear")
    func[i] = "gelu"
    rewrite_ops(small_wl, with_column(t, "func", pa.array(func, pa.string()).dictionary_encode()))
    with pytest.raises(TraceError, match=rf"op {i}: nonlinear func 'gelu' is unknown"):
        load_workload(small_wl)


def test_run_with_output_a_directory_exits_2(tmp_path, capsys):
    code, out = run_cli(capsys, "run", ARCH / "int4.yaml", SMALL, "--json", tmp_path)
    assert code == 2 and str(tmp_path) in out and "directory" in out


# --- 4. low severity ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("base", ["/etc/passwd", "../../../../etc/passwd", "../outside.yaml"])
def test_base_paths_are_confined_to_the_arch_folder(arch_dir, base, capsys):
    (arch_dir.parent / "outside.yaml").write_text("cores: 2\n")
    f = arch_dir / "evil.yaml"
    f.write_text(f"base: {base}\nname: evil\n")
    code, out = run_cli(capsys, "run", f, SMALL)
    assert code == 2 and "must be a relative path inside" in out
    assert "root:" not in out  # no line of the target file is echoed


def test_base_may_not_leave_the_folder_of_the_file_given(arch_dir):
    (arch_dir / "sub").mkdir()
    (arch_dir / "sub" / "x.yaml").write_text("base: ../int4.yaml\nname: x\n")
    # ../int4.yaml leaves sub/, the folder of the file given: confined to that folder, so refused
    with pytest.raises(SpecError, match="must be a relative path inside"):
        load_arch(arch_dir / "sub" / "x.yaml")
    assert load_arch(arch_dir / "int4.yaml").cores == 4


@pytest.mark.parametrize("name", ["/etc/passwd", "../wl2/ops.parquet"])
def test_ops_file_is_confined_to_the_workload_folder(small_wl, name):
    shutil.copytree(small_wl, small_wl.parent / "wl2")
    edit_meta(small_wl, ops__file=name)
    with pytest.raises(TraceError, match="must be a file inside the workload folder"):
        load_workload(small_wl)


def test_error_messages_are_capped(tmp_path, capsys):
    bad = tmp_path / "many.yaml"
    bad.write_text("name: x\n" + "".join(f"unknown_key_{i}: {'v' * 500}\n" for i in range(5000)))
    code, out = run_cli(capsys, "run", bad, SMALL)
    assert code == 2 and "more problem" in out
    assert len(out) < 10_000


def test_atomic_write_fsyncs_the_folder(tmp_path, monkeypatch):
    import os

    from accelsim import atomic

    synced = []
    real = os.fsync

    def spy(fd):
        synced.append(os.path.isdir(f"/proc/self/fd/{fd}"))
        return real(fd)

    monkeypatch.setattr(atomic.os, "fsync", spy)
    atomic.atomic_write_text(tmp_path / "x.txt", "hi")
    assert (tmp_path / "x.txt").read_text() == "hi"
    assert synced == [False, True]  # the file, then its folder after the rename



@pytest.mark.parametrize("field", ["cores", "core.dma.engines"])
def test_replicated_unit_counts_are_bounded_before_any_per_unit_allocation(field):
    """cores = 10**12 passed the integer bound but made the placement allocate per-core lists (MemoryError)."""
    with pytest.raises(SpecError, match=rf"{field} = 1000000000000: Input should be less than or equal to 4096"):
        load_arch(ARCH / "int4.yaml", {field: 10**12})
