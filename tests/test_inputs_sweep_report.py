"""Issue 12 regressions, sweeps and reports: grid limits before expansion, no ok row with impossible numbers,
workers that die with their parent, reports that refuse bad tables and never clobber a user's document."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from accelsim.cli import main
from accelsim.errors import SweepError
from accelsim.sweep import call_point, run_sweep
from accelsim.sweep.grid import check_grid_size, iter_points, resolve_points
from accelsim.sweep.results import read_results, write_results
from accelsim.sweep.spec import spec_from_dict

REPO = Path(__file__).resolve().parents[1]
INT4 = str(REPO / "arch" / "int4.yaml")


class _InProcess:
    def run(self, evaluate, tasks):
        for task in tasks:
            yield call_point(evaluate, task)


def huge_spec(axes: int, values: int):
    grid = [{"product": {f"arch.x{i}": list(range(1, values + 1))}}
            for i in range(axes)]
    return spec_from_dict({"name": "huge", "base": {"arch": INT4, "workload": "w"}, "grid": grid})


def test_a_10e12_grid_is_refused_from_its_axes_without_expanding(tmp_path):
    spec = huge_spec(4, 1000)  # 1000**4 = 10**12 points
    start = time.perf_counter()
    with pytest.raises(SweepError, match=r"1,000,000,000,000 points .*--max-points 1000000000000"):
        resolve_points(spec, tmp_path, check_arch=lambda p, o: "x")
    assert time.perf_counter() - start < 2.0


def test_a_10e6_grid_is_refused_by_default_and_the_limit_can_be_raised(tmp_path, monkeypatch):
    spec = huge_spec(2, 1000)
    with pytest.raises(SweepError, match=r"1,000,000 points .*ACCELSIM_MAX_SWEEP_POINTS"):
        check_grid_size(spec)
    assert check_grid_size(spec, max_points=10**6) == 10**6
    monkeypatch.setenv("ACCELSIM_MAX_SWEEP_POINTS", str(10**6))
    assert check_grid_size(spec) == 10**6
    monkeypatch.setenv("ACCELSIM_MAX_SWEEP_POINTS", "lots")
    with pytest.raises(SweepError, match="ACCELSIM_MAX_SWEEP_POINTS"):
        check_grid_size(spec)


def test_points_stream_lazily_in_grid_order():
    spec = huge_spec(4, 1000)
    gen = iter_points(spec)
    first, second = next(gen), next(gen)
    assert (first["arch.x3"], second["arch.x3"]) == (1, 2) and first["arch.x0"] == second["arch.x0"] == 1


def test_the_sweep_cli_refuses_a_large_grid_with_the_count(tmp_path, capsys):
    spec = tmp_path / "big.yaml"
    values = ", ".join(str(v) for v in range(1, 201))
    spec.write_text(f"name: big\nbase: {{arch: {INT4}, workload: w}}\ngrid:\n"
                    f"  - product: {{arch.core.matrix.rows: [{values}]}}\n"
                    f"  - product: {{arch.core.matrix.cols: [{values}]}}\n")
    code = main(["sweep", str(spec), "--out", str(tmp_path / "out"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "40,000 points (200 x 200" in err and "--max-points 40000" in err
    assert not (tmp_path / "out").exists()


def test_a_point_with_nan_results_is_an_error_row_never_ok(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(f"name: nan\nbase: {{arch: {INT4}, workload: {REPO / 'workloads' / 'rnnt_beam1'}}}\n"
                    "grid:\n  - product: {arch.offchip.bandwidth: [1e-300 B/s, 64 GB/s]}\n")
    rep = run_sweep(spec, tmp_path / "out", backend=_InProcess(), progress=False)
    df, _ = read_results(tmp_path / "out")
    assert rep.errors == 1 and list(df["status"]) == ["error", "ok"]
    assert "impossible results" in df["error"].iloc[0] and "offchip.bandwidth" in df["error"].iloc[0]
    assert df["rtf"].iloc[1] > 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux only")
def test_sweep_workers_die_with_their_parent(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(REPO)!r})
        from accelsim.sweep.backends import LocalBackend
        from accelsim.sweep.grid import PointTask
        from tests_slow_eval import slow
        if __name__ == "__main__":  # spawned workers import this file again
            task = PointTask(0, "p", "a", "w", (), "a", "w", False)
            for outcome in LocalBackend(1).run(slow, [task]):
                pass
    """))
    (tmp_path / "tests_slow_eval.py").write_text(
        "import os, time\n"
        "def slow(task):\n"
        f"    open({str(tmp_path / 'worker.pid')!r}, 'w').write(str(os.getpid()))\n"
        "    time.sleep(120)\n"
    )
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{REPO}"}
    parent = subprocess.Popen([sys.executable, str(script)], env=env, cwd=tmp_path)
    pid_file = tmp_path / "worker.pid"
    deadline = time.monotonic() + 60
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline and parent.poll() is None, "the worker never started"
        time.sleep(0.1)
    worker = int(pid_file.read_text())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            return
        with open(f"/proc/{worker}/stat") as fh:  # a zombie is dead: its parent (init) reaps it
            if fh.read().split(")")[-1].split()[0] == "Z":
                return
        time.sleep(0.1)
    os.kill(worker, signal.SIGKILL)
    pytest.fail("the sweep worker outlived a kill -9 of its parent")


# --- reports ------------------------------------------------------------------------------------------------------

def _rewrite(real_sweep: Path, tmp_path: Path, change) -> Path:
    df, meta = read_results(real_sweep)
    out = tmp_path / "bad"
    out.mkdir()
    write_results(out, change(df.copy()), name=meta["sweep"], points_total=meta["points_total"])
    return out


@pytest.mark.parametrize("change, expect", [
    (lambda df: df.drop(columns=["rtf"]), "lacks column(s) rtf"),
    (lambda df: df.drop(columns=["status"]), "lacks column(s) status"),
    (lambda df: df.assign(rtf=float("nan")), "rtf = nan"),
    (lambda df: df.assign(sim_s=-1.0), "sim_s = -1.0"),
    (lambda df: df.assign(util_matrix=float("inf")), "util_matrix = inf"),
    (lambda df: df.assign(status="maybe"), "status holds"),
    (lambda df: df.assign(beam="wide"), "beam = nan"),
])
def test_report_refuses_a_bad_results_table(real_sweep, tmp_path, capsys, change, expect):
    bad = _rewrite(real_sweep, tmp_path, change)
    code = main(["report", str(bad), "-o", str(tmp_path / "r.html")])
    err = capsys.readouterr().err
    assert code == 2 and expect in err and "results.parquet" in err


def test_report_output_a_directory_exits_2(real_sweep, tmp_path, capsys):
    assert main(["report", str(real_sweep), "-o", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err


@pytest.mark.parametrize("doc", [
    "# my notes\n<!-- accelsim:speedup-table:start -->\nkeep this\n",
    "# my notes\n<!-- accelsim:speedup-table:end -->\nkeep this\n",
    "<!-- accelsim:speedup-table:end -->\nx\n<!-- accelsim:speedup-table:start -->\nkeep this\n",
])
def test_markdown_with_one_marker_is_refused_and_left_alone(real_sweep, tmp_path, capsys, doc):
    md = tmp_path / "notes.md"
    md.write_text(doc)
    code = main(["report", str(real_sweep), "-o", str(tmp_path / "r.html"), "--markdown", str(md)])
    assert code == 2 and "marker" in capsys.readouterr().err
    assert md.read_text() == doc


def test_the_shipped_results_shape_still_renders(real_sweep, tmp_path):
    df, _ = read_results(real_sweep)
    assert isinstance(df, pd.DataFrame) and (df["status"] == "ok").all()
    assert main(["report", str(real_sweep), "-o", str(tmp_path / "r.html")]) == 0


def test_report_timeline_file_is_confined_to_the_sweep_folder(real_sweep, tmp_path, capsys):
    def escape(df):
        df["timeline_file"] = df["timeline_file"].where(df["timeline_file"].isna(), "../../../etc/passwd")
        return df

    bad = _rewrite(real_sweep, tmp_path, escape)
    assert main(["report", str(bad), "-o", str(tmp_path / "r.html")]) == 2
    assert "must name a file inside" in capsys.readouterr().err


def test_absurd_worker_counts_are_refused(tmp_path, capsys):
    from accelsim.sweep import make_backend

    with pytest.raises(SweepError, match="at most 256 local worker processes"):
        make_backend("local", 100_000)
