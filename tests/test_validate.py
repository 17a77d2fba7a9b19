"""accelsim validate: measured-table reader, prediction paths, calibration, YAML rewriting, CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_sim_helpers import arch

from accelsim.cli import main
from accelsim.validate import MeasuredTableError, predict_plain, predict_seconds, read_measured
from accelsim.validate.calibrate import fit_graph, get_path, graph_paths, with_values
from accelsim.validate.report import group_table, with_mode
from accelsim.validate.yaml_values import set_tagged_values

REPO = Path(__file__).resolve().parents[1]
CALIB = REPO.parent / "shared" / "data" / "h100_oplat_calib.csv"
needs_calib = pytest.mark.skipif(not CALIB.is_file(), reason="measured H100 table not present")

ROWS = """op,dtype,M,K,N,median_us,graph_us
matmul,float32,1,240,2560,35.5,2.96
matmul,float16,64,1024,4096,39.6,4.22
matmul,bfloat16,4096,1280,2560,74.6,46.4
matmul,int8,512,1280,256,70.9,48.3
matmul,w4a16,16,1024,4096,67.2,7.21
lstm_pointwise,float16,16,2560,640,119.7,15.45
sigmoid,float16,1024,8192,8192,21.95,9.03
"""


@pytest.fixture
def small_csv(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text(ROWS)
    return p


def test_vectorized_prediction_equals_the_op_cost_path(small_csv):
    df = read_measured(small_csv, "graph_us")
    for name in ("h100", "h100_eager"):
        a = arch(name)
        np.testing.assert_allclose(predict_seconds(df, a), predict_plain(df, a), rtol=1e-12)


@needs_calib
def test_vectorized_prediction_equals_the_op_cost_path_on_every_measured_row():
    df = read_measured(CALIB, "graph_us")
    for mode in ("graph", "eager"):
        a = with_mode(arch("h100"), mode)
        np.testing.assert_allclose(predict_seconds(df, a), predict_plain(df, a), rtol=1e-12)


@pytest.mark.parametrize("row, match", [
    ("conv,float16,1,2,3,1,1", "op = 'conv' is not known"),
    ("matmul,float61,1,2,3,1,1", "did you mean 'float16'"),
    ("matmul,float16,0,2,3,1,1", "M = 0"),
    ("matmul,float16,1,2,3,1,-4", "graph_us = -4"),
])
def test_bad_rows_are_clear_errors(tmp_path, row, match):
    p = tmp_path / "bad.csv"
    p.write_text("op,dtype,M,K,N,median_us,graph_us\n" + row + "\n")
    with pytest.raises(MeasuredTableError, match=match):
        read_measured(p, "graph_us")


def test_missing_column_and_file(tmp_path, small_csv):
    with pytest.raises(MeasuredTableError, match="missing column"):
        read_measured(small_csv, "p99_us")
    with pytest.raises(MeasuredTableError, match="not found"):
        read_measured(tmp_path / "nope.csv", "graph_us")


def test_validate_works_for_a_non_gpu_arch_too(small_csv):
    df = read_measured(small_csv, "graph_us").iloc[[1, 5, 6]]
    pred = predict_plain(df, arch("fp16"))
    assert np.isfinite(pred).all() and (pred > 0).all()
    with pytest.raises(MeasuredTableError, match="no throughput for precision|does not support"):
        predict_plain(read_measured(small_csv, "graph_us").iloc[[2]], arch("fp16"))  # bf16 on the IBM chip


def test_group_table_counts_and_overall_row(small_csv):
    df = read_measured(small_csv, "graph_us")
    table = group_table(df.assign(pred_us=df["graph_us"] * 1.1), "graph_us")
    assert table["rows"].iloc[-1] == len(df) and table["op"].iloc[-1] == "all"
    assert np.allclose(table["mape_pct"], 10.0)


def test_calibration_recovers_parameters_it_generated():
    """Synthetic 'measurements' from known parameters: the fit finds them again (fp16 rows only)."""
    a = arch("h100")
    ms = [1, 4, 16, 64, 256, 1024, 4096]
    shapes = [(240, 2560), (1280, 2560), (1280, 256), (1024, 4096), (256, 46)]
    df = pd.DataFrame([("matmul", "float16", m, k, n) for k, n in shapes for m in ms],
                      columns=["op", "dtype", "M", "K", "N"])
    truth = {"matmul.fp16.efficiency": 0.55, "launch.graph_matmul_s": 3.1e-6, "sm_load_bytes_per_cycle": 50.0,
             "llc.bandwidth": 4.0e12}
    df["graph_us"] = predict_seconds(df, a, with_values(a.gpu, truth)) * 1e6
    fitted = fit_graph(a, df)
    assert set(truth) <= set(graph_paths(a.gpu, df))
    pred = predict_seconds(df, a, fitted) * 1e6
    assert np.mean(np.abs(pred - df["graph_us"]) / df["graph_us"]) < 0.01
    assert get_path(fitted, "matmul.fp16.efficiency") == pytest.approx(0.55, rel=0.05)
    assert get_path(fitted, "launch.graph_matmul_s") == pytest.approx(3.1e-6, rel=0.05)


def test_set_tagged_values_rewrites_value_and_date_only():
    text = ("gpu:\n  llc:\n    size: 50 MB        # [published]\n"
            "    bandwidth: 5.5 TB/s  # [fitted on x.csv, graph_us, -] note\n"
            "  launch:\n    bandwidth: 1 TB/s  # same key elsewhere\n")
    out = set_tagged_values(text, {"gpu.llc.bandwidth": ("5.732 TB/s", "graph_us")}, "x.csv", "2026-12-01")
    assert "bandwidth: 5.732 TB/s # [fitted on x.csv, graph_us, 2026-12-01] note" in out
    assert "size: 50 MB        # [published]" in out and "bandwidth: 1 TB/s  # same key elsewhere" in out
    with pytest.raises(KeyError):
        set_tagged_values(text, {"gpu.nope": ("1", "graph_us")}, "x.csv", "d")


def test_every_fitted_value_of_h100_is_tagged_with_a_date():
    lines = (REPO / "arch" / "h100.yaml").read_text().splitlines()
    tagged = [ln for ln in lines if "[fitted on h100_oplat_calib.csv" in ln]
    assert len(tagged) >= 10
    assert all(", -]" not in ln for ln in tagged), "run python3 scripts/calibrate_h100.py"


def test_cli_validate_writes_predictions_and_rejects_unknown_names(tmp_path, small_csv, capsys):
    out = tmp_path / "pred.csv"
    assert main(["validate", str(REPO / "arch" / "h100.yaml"), str(small_csv), "--measured", "graph_us",
                 "--out", str(out)]) == 0
    pred = pd.read_csv(out)
    assert list(pred.columns[:7]) == ["op", "dtype", "M", "K", "N", "median_us", "graph_us"]
    assert len(pred) == 7 and (pred["pred_us"] > 0).all()
    assert "MAPE" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_text("op,dtype,M,K,N,graph_us\nmatmul,fp4,1,2,3,4\n")
    assert main(["validate", str(REPO / "arch" / "h100.yaml"), str(bad)]) == 2
    assert "dtype = 'fp4' is not known" in capsys.readouterr().err
