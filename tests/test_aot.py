"""The ahead-of-time kernel build (accelsim.aot, accelsim.jit): same results as numba's JIT, used only when it
matches its sources and the call's exact types, and its signature list kept complete."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from accelsim import aot, jit

REPO = Path(__file__).resolve().parents[1]


def _fresh(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, **env})


def _readonly(a: np.ndarray) -> np.ndarray:
    a = a.copy()
    a.flags.writeable = False
    return a


KEYED = [np.arange(3, dtype=np.int8), np.arange(3, dtype=np.int16), np.arange(3, dtype=np.int32),
         np.arange(3, dtype=np.int64), np.arange(3, dtype=np.uint8), np.ones(3, dtype=np.float32), np.ones(3),
         np.zeros(3, dtype=bool), np.ones((2, 3)), _readonly(np.arange(4)), True, 7, 2.5, np.int32(3),
         np.float64(1.5), np.bool_(False), np.uint16(9)]


@pytest.mark.parametrize("value", KEYED, ids=lambda v: f"{type(v).__name__}:{getattr(v, 'dtype', '')}")
def test_an_argument_key_names_the_type_numba_gives_the_value(value):
    import numba

    key = jit.args_key((value,))
    assert key is not None
    assert aot.numba_types_of(key) == (numba.typeof(value),)


@pytest.mark.parametrize("value", [np.arange(6)[::2], np.arange(3, dtype=">i8"), np.array(3.0), [1, 2], None,
                                   "x", 2**70, np.ones((3, 2)).T, np.ma.array([1, 2])],
                         ids=["strided", "byte-swapped", "0-d", "list", "None", "str", "big int", "F order",
                              "subclass"])
def test_arguments_without_an_aot_form_have_no_key(value):
    assert jit.args_key((np.ones(2), value)) is None


def test_a_call_without_an_exported_signature_runs_on_the_jit_with_the_same_result():
    from accelsim.map.estimate import longest_path_end_s

    ptr = np.array([0, 0, 1, 2])
    src = np.array([0, 1])
    delay = np.array([0.5, 0.25])
    busy = np.array([1.0, 2.0, 4.0])
    exported = longest_path_end_s(ptr, src, delay, busy)  # int64 / float64: the AOT build's types
    assert exported.tolist() == [1.0, 3.5, 7.75]
    assert longest_path_end_s(ptr.astype(np.int32), src.astype(np.int32), delay, busy).tolist() == exported.tolist()
    strided = np.repeat(busy, 2)[::2]
    assert jit.args_key((ptr, src, delay, strided)) is None
    assert longest_path_end_s(ptr, src, delay, strided).tolist() == exported.tolist()


def test_the_kernels_depend_on_the_constants_module_they_import():
    from accelsim.sim.fast import _play

    files = {p.relative_to(REPO).as_posix() for p in aot.source_files([_play])}
    # fast.py's loop reads UNITS_PER_CORE / DMA_LOCAL_UNIT from accelsim.map.plan; _play calls its helpers
    assert {"accelsim/jit.py", "accelsim/sim/fast.py", "accelsim/map/plan.py"} <= files


def _fake_build(tmp_path: Path, monkeypatch, source_text: str) -> None:
    """A manifest + library pair in tmp_path recording one source file's digest as of ``source_text``."""
    (tmp_path / "pkg").mkdir()
    src = tmp_path / "pkg" / "kernels.py"
    src.write_text(source_text)
    monkeypatch.setattr(jit, "PACKAGE_DIR", tmp_path / "accelsim")
    jit.PACKAGE_DIR.mkdir()
    library = jit.aot_library("lib")
    library.write_bytes(b"not a library")
    manifest = tmp_path / "lib.json"
    manifest.write_text(json.dumps({"format": jit.AOT_FORMAT,
                                    "libraries": {"lib": {"file": library.name, "bytes": library.stat().st_size}},
                                    "sources": {"pkg/kernels.py": jit.file_sha256(src)}, "exports": []}))
    monkeypatch.setattr(jit, "AOT_MANIFEST", manifest)
    monkeypatch.delenv("ACCELSIM_JIT", raising=False)


def test_a_changed_source_file_keeps_the_aot_build_out_of_use(tmp_path, monkeypatch):
    _fake_build(tmp_path, monkeypatch, "x = 1\n")
    (tmp_path / "pkg" / "kernels.py").write_text("x = 2\n")
    table, why = jit._load_aot()
    assert table == {} and why.startswith("stale: pkg/kernels.py changed")


def test_a_missing_or_mismatched_build_is_reported_not_loaded(tmp_path, monkeypatch):
    _fake_build(tmp_path, monkeypatch, "x = 1\n")
    jit.aot_library("lib").write_bytes(b"another size")
    assert jit._load_aot() == ({}, f"{jit.aot_library('lib').name} does not match its manifest")
    jit.AOT_MANIFEST.unlink()
    table, why = jit._load_aot()
    assert table == {} and why.startswith("not built")
    monkeypatch.setenv("ACCELSIM_JIT", "1")
    assert jit._load_aot() == ({}, "disabled (ACCELSIM_JIT=1)")


def test_the_install_built_the_aot_kernels_and_a_short_run_imports_no_numba():
    code = ("import sys; from accelsim.cli import main; from accelsim import jit\n"
            "assert main(['run', 'arch/int4.yaml', 'workloads/small_beam16']) == 0\n"
            "print(jit.aot_status()); print('numba' in sys.modules)")
    out = _fresh(code)
    assert out.returncode == 0, out.stderr
    status, numba_loaded = out.stdout.strip().splitlines()[-2:]
    assert status.startswith("in use"), f"{status} (scripts/install.sh builds it: python3 -m accelsim.aot build)"
    assert numba_loaded == "False"


@pytest.mark.parametrize("argv", [
    ("arch/int4.yaml", "workloads/rnnt_beam16"),
    ("arch/int8.yaml", "workloads/rnnt_nolm_beam4", "--set", "scheduler.mapping=naive"),
    ("arch/fp16.yaml", "workloads/small_beam16", "--set", "cores=2"),
], ids=["int4-search", "int8-naive", "fp16-2cores"])
def test_aot_and_jit_runs_are_identical(tmp_path, argv):
    outs = {}
    for mode in ("aot", "jit"):
        out = tmp_path / f"{mode}.json"
        proc = subprocess.run([sys.executable, "-c", "import sys; from accelsim.cli import main; sys.exit(main())",
                               "run", *argv, "--json", str(out)], capture_output=True, text=True, cwd=REPO,
                              env={**os.environ, "ACCELSIM_JIT": "1" if mode == "jit" else "0"})
        assert proc.returncode == 0, proc.stderr
        outs[mode] = (proc.stdout.replace(str(out), "OUT"), out.read_bytes())
    assert outs["aot"] == outs["jit"]


def test_the_signature_list_is_what_the_recorded_runs_call(tmp_path):
    """Fails when a kernel's Python calls change types (re-run ``python3 -m accelsim.aot record``)."""
    out = tmp_path / "signatures.txt"
    proc = _fresh(f"from pathlib import Path; from accelsim import aot; aot.record(Path({str(out)!r}))")
    assert proc.returncode == 0, proc.stderr
    assert out.read_text() == aot.SIGNATURES.read_text(), "stale: python3 -m accelsim.aot record"


def test_signature_lines_are_checked(tmp_path):
    bad = tmp_path / "s.txt"
    bad.write_text("# comment\naccelsim.map.estimate.lru_hits(i8[1w])\nno parenthesis\n")
    with pytest.raises(ValueError, match=r"s.txt:3: expected 'module.kernel\(arg key\)'"):
        aot.read_signatures(bad)


def test_kernels_without_reference_counting_are_built_without_it():
    """A kernel with ``_nrt=False`` (a loop that never allocates) is compiled into the module built without
    numba's reference counting, as its JIT dispatcher is (with it, ``_walk`` ran 2.4x slower)."""
    if not jit.AOT_MANIFEST.is_file():
        pytest.fail(f"{jit.aot_status()} (scripts/install.sh builds it)")
    exports = json.loads(jit.AOT_MANIFEST.read_text())["exports"]
    assert exports and all(module == ("_kernels_aot" if aot.kernel_of(name).options.get("_nrt", True)
                                      else "_kernels_aot_nonrt") for name, _key, module, _symbol in exports)
    assert any(module == "_kernels_aot_nonrt" for *_, module, _symbol in exports)
