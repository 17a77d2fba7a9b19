"""`accelsim run`, `compare`, `generate`: end to end, and one-paragraph errors with exit code 2."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from test_sim_helpers import ARCH, REPO

from accelsim.cli import main
from accelsim.trace import PHASES


@pytest.fixture(scope="module")
def wl(tmp_path_factory):
    """A small synthetic DR-fusion workload of our own (the shipped ones may be replaced by real traces)."""
    from accelsim.trace.synthetic import SyntheticConfig, write_synthetic

    out = tmp_path_factory.mktemp("wl") / "beam1"
    write_synthetic(out, SyntheticConfig(beam=1, fusion="dr", utterances=2, seconds=1.0), command="pytest")
    return str(out)


def test_readme_main_command_runs_on_the_shipped_workload(capsys):
    assert main(["run", str(ARCH / "int4.yaml"), str(REPO / "workloads" / "rnnt_beam16")]) == 0
    assert "real-time factor" in capsys.readouterr().out


def test_run_prints_summary_and_writes_json_and_timeline(wl, tmp_path, capsys):
    js, tl = tmp_path / "r.json", tmp_path / "t.json"
    assert main(["run", str(ARCH / "int4.yaml"), wl, "--json", str(js), "--timeline", str(tl)]) == 0
    out = capsys.readouterr().out
    for text in ("real-time factor", "time by phase", "time by unit", "bytes from DRAM", "resident", "lm_target"):
        assert text in out
    report = json.loads(js.read_text())
    s = report["summary"]
    assert s["precision_mode"] == "int4" and s["beam"] == 1 and s["fusion"] == "dr"
    assert s["rtf"] == pytest.approx(s["sim_s"] / s["audio_s"])
    assert all(f"phase_{p}_s" in s for p in PHASES)
    assert set(report["placement"]) >= {"lm_target", "lm_source", "prediction"}
    trace = json.loads(tl.read_text())
    spans = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    assert len(spans) == s["num_ops"]
    assert {"name", "ts", "dur", "pid", "tid", "cat"} <= set(spans[0])
    assert max(e["ts"] + e["dur"] for e in spans) == pytest.approx(s["sim_s"] * 1e6, rel=1e-9)


def test_run_with_overrides(wl, capsys, tmp_path):
    js = tmp_path / "r.json"
    assert main(["run", str(ARCH / "int4.yaml"), wl, "--set", "offchip.bandwidth=1 TB/s", "--json", str(js)]) == 0
    assert json.loads(js.read_text())["arch"]["offchip"]["bandwidth"] == 1e12


def test_compare_reports_speedup_overall_and_per_phase(wl, tmp_path, capsys):
    js = tmp_path / "c.json"
    assert main(["compare", str(ARCH / "fp16.yaml"), str(ARCH / "int4.yaml"), wl, "--json", str(js)]) == 0
    out = capsys.readouterr().out
    assert "speedup A -> B" in out and "encoder" in out
    cmp = json.loads(js.read_text())["comparison"]
    assert cmp["speedup"] == pytest.approx(cmp["sim_a_s"] / cmp["sim_b_s"])
    assert cmp["speedup"] > 1.5  # INT4 is faster than FP16 (can exceed 8x when INT4 weights fit on chip)
    assert cmp["dram_bytes_ratio"] >= 4  # INT4 weights are a quarter of FP16 ones, and more stay on chip


def test_generate_writes_a_loadable_workload(tmp_path, capsys):
    out = tmp_path / "g"
    assert main(["generate", "--out", str(out), "--beam", "2", "--fusion", "shallow", "--utterances", "1",
                 "--seconds", "0.4", "--seed", "7"]) == 0
    from accelsim.trace import load_workload

    wl = load_workload(out)
    assert wl.meta.provenance.command.startswith(f"accelsim generate --out {out} --beam 2 --fusion shallow")
    assert main(["run", str(ARCH / "fp16.yaml"), str(out)]) == 0


def _err(argv, capsys):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    return err


def _arch_copy(tmp_path):
    """A copy of arch/ (a variant's ``base:`` must stay in the folder of the file given on the command line)."""
    folder = tmp_path / "arch"
    if not folder.exists():
        shutil.copytree(ARCH, folder)
    return folder


def test_unknown_yaml_key(wl, tmp_path, capsys):
    p = _arch_copy(tmp_path) / "bad.yaml"
    p.write_text("base: int4.yaml\ncores: 4\ncore:\n  scratchpad:\n    sise: 1 MiB\n")
    err = _err(["run", str(p), wl], capsys)
    assert "bad.yaml: core.scratchpad.sise: unknown key; did you mean 'size'?" in err


def test_wrong_unit_and_nonpositive_size(wl, tmp_path, capsys):
    p = _arch_copy(tmp_path) / "bad.yaml"
    p.write_text("base: int4.yaml\noffchip:\n  bandwidth: 64 Gbit\n")
    assert "offchip.bandwidth = '64 Gbit'" in _err(["run", str(p), wl], capsys)
    p.write_text("base: int4.yaml\ncore:\n  scratchpad:\n    size: 0 MiB\n")
    assert "core.scratchpad.size = '0 MiB': Input should be greater than 0" in _err(["run", str(p), wl], capsys)


def test_unsupported_precision(wl, capsys):
    err = _err(["run", str(ARCH / "int4.yaml"), wl, "--set", "precision.nonlinear=int4"], capsys)
    assert "precision.nonlinear = int4 but core.vector.elems_per_lane_cycle supports only" in err


def test_unknown_override_path(wl, capsys):
    err = _err(["run", str(ARCH / "int4.yaml"), wl, "--set", "offchip.bandwith=1 GB/s"], capsys)
    assert "did you mean 'offchip.bandwidth'" in err


def test_missing_workload_file(wl, tmp_path, capsys):
    d = tmp_path / "w"
    shutil.copytree(wl, d)
    (d / "ops.parquet").unlink()
    assert "ops.parquet: ops file named by" in _err(["run", str(ARCH / "int4.yaml"), str(d)], capsys)
    assert "workload directory not found" in _err(["run", str(ARCH / "int4.yaml"), str(tmp_path / "x")], capsys)


def test_truncated_ops_file(wl, tmp_path, capsys):
    d = tmp_path / "w"
    shutil.copytree(wl, d)
    data = (d / "ops.parquet").read_bytes()
    (d / "ops.parquet").write_bytes(data[:100])
    assert "truncated, corrupt" in _err(["compare", str(ARCH / "fp16.yaml"), str(ARCH / "int4.yaml"), str(d)], capsys)


def test_bad_generate_option(tmp_path, capsys):
    assert "beam = 0: must be >= 1" in _err(["generate", "--out", str(tmp_path / "g"), "--beam", "0"], capsys)


def test_console_script_error_is_one_paragraph(wl, tmp_path):
    proc = subprocess.run([sys.executable, "-c", "import sys; from accelsim.cli import main; sys.exit(main())", "run", str(tmp_path / "none.yaml"), wl],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.startswith("accelsim run: error: ") and "file not found" in proc.stderr
    assert "Traceback" not in proc.stderr
