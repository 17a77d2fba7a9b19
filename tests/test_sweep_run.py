"""Running sweeps: journal durability, resume without reruns, crashing points, kill -9, Dask, format versions.

The point-evaluation function is injected (the machinery, not the simulator, is under test here); the fakes are
module-level so that spawned worker processes can import them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accelsim.cli import main
from accelsim.errors import SweepError
from accelsim.sweep import DaskBackend, LocalBackend, call_point, read_journal, read_results, run_sweep
from accelsim.sweep.journal import Journal, Outcome

sys.path.insert(0, str(Path(__file__).parent))
from test_sweep_grid import FP16, make_workload  # noqa: E402

BANDWIDTHS = ["16 GB/s", "32 GB/s", "64 GB/s", "128 GB/s"]


def fake_eval(task):
    """Deterministic fake result; '13 GB/s' raises, '14 GB/s' kills its worker process outright."""
    bw = str(task.override_dict.get("offchip.bandwidth", "64 GB/s"))
    if bw == "13 GB/s":
        raise ValueError("bandwidth 13 is unlucky")
    if bw == "14 GB/s":
        os._exit(3)
    value = float(bw.split()[0])
    return {"sim_s": 1.0 / value, "rtf": 0.1 / value, "precision_mode": "fp16", "beam": 1}


class SerialBackend:
    """In-process backend for property tests: counts evaluations, can simulate Ctrl-C after ``stop_after``."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.stop_after, self.evaluated = stop_after, []

    def run(self, evaluate, tasks):
        for task in tasks:
            if self.stop_after is not None and len(self.evaluated) >= self.stop_after:
                raise KeyboardInterrupt
            self.evaluated.append(task.point_id)
            yield call_point(evaluate, task)


def write_spec(tmp_path: Path, bandwidths: list[str], name: str = "t") -> Path:
    wl = tmp_path / "wl"
    if not wl.exists():
        make_workload(wl)
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(
        f"name: {name}\nbase: {{arch: {FP16}, workload: wl}}\n"
        f"grid:\n  - product:\n      arch.offchip.bandwidth: {json.dumps(bandwidths)}\n"
    )
    return spec


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(1, 6), stops=st.lists(st.integers(0, 6), max_size=3))
def test_resume_never_reruns_finished_points(tmp_path_factory, n, stops):
    tmp = tmp_path_factory.mktemp("resume")
    spec = write_spec(tmp, [f"{i + 20} GB/s" for i in range(n)])
    out = tmp / "out"
    evaluated: list[str] = []
    for i, stop in enumerate([*stops, None]):
        backend = SerialBackend(stop_after=stop)
        try:
            rep = run_sweep(spec, out, backend=backend, evaluate=fake_eval, resume=i > 0, progress=False)
        except KeyboardInterrupt:
            rep = None
        evaluated += backend.evaluated
        done = read_journal(out / "journal.jsonl")
        table, _ = read_results(out)  # the table is written even when interrupted
        assert sorted(table["point_id"]) == sorted(done)
    assert rep is not None and rep.total == n and rep.errors == 0
    assert sorted(evaluated) == sorted(set(evaluated)) and len(evaluated) == n  # each point exactly once
    table, meta = read_results(out)
    assert list(table["point_index"]) == list(range(n)) and meta["points_done"] == n
    assert table["rtf"].tolist() == pytest.approx([0.1 / (i + 20) for i in range(n)])


def test_local_pool_records_exceptions_and_dead_workers_and_keeps_going(tmp_path):
    spec = write_spec(tmp_path, ["16 GB/s", "13 GB/s", "32 GB/s", "14 GB/s", "64 GB/s", "128 GB/s"])
    out = tmp_path / "out"
    rep = run_sweep(spec, out, backend=LocalBackend(2), evaluate=fake_eval, progress=False)
    assert (rep.total, rep.ran, rep.errors) == (6, 6, 2)
    table, _ = read_results(out)
    by_bw = table.set_index("arch.offchip.bandwidth")
    assert by_bw.loc["13 GB/s", "status"] == "error"
    assert by_bw.loc["13 GB/s", "error"].startswith("ValueError: bandwidth 13 is unlucky (at ")
    assert "worker process evaluating this point died" in by_bw.loc["14 GB/s", "error"]
    ok = by_bw[by_bw["status"] == "ok"]
    assert sorted(ok.index) == sorted(["16 GB/s", "32 GB/s", "64 GB/s", "128 GB/s"])
    assert ok["error"].eq("").all() and ok["sim_s"].notna().all()
    csv = pd.read_csv(out / "results.csv")
    assert list(csv["point_id"]) == list(table["point_id"])
    assert (out / "sweep.resolved.yaml").read_text().count("point_id:") == 6
    # resume: nothing reruns; --retry-errors reruns exactly the two failures
    again = SerialBackend()
    rep2 = run_sweep(spec, out, backend=again, evaluate=fake_eval, resume=True, progress=False)
    assert (rep2.reused, rep2.ran, again.evaluated) == (6, 0, [])
    retry = SerialBackend()
    with pytest.raises(SweepError, match="already holds a sweep"):
        run_sweep(spec, out, backend=retry, evaluate=fake_eval, progress=False)
    other = write_spec(tmp_path, ["16 GB/s"], name="other")
    with pytest.raises(SweepError, match="holds sweep 't', not 'other'"):
        run_sweep(other, out, backend=retry, evaluate=fake_eval, resume=True, progress=False)
    run_sweep(spec, out, backend=retry, evaluate=lambda t: {"sim_s": 1.0}, resume=True, retry_errors=True,
              progress=False)
    assert sorted(retry.evaluated) == sorted(table.loc[table["status"] == "error", "point_id"])
    assert read_results(out)[0]["status"].eq("ok").all()


KILL_SCRIPT = """
import sys, time
from accelsim.sweep import LocalBackend, run_sweep

def slow_eval(task):
    time.sleep(0.4)
    return {"sim_s": 1.0, "rtf": 0.5}

if __name__ == "__main__":
    try:
        run_sweep(sys.argv[1], sys.argv[2], backend=LocalBackend(2), evaluate=slow_eval, progress=False,
                  compact_every_s=60.0)
    except KeyboardInterrupt:
        sys.exit(130)
"""


def _start_and_wait(tmp_path: Path, spec: Path, out: Path, records: int) -> subprocess.Popen:
    script = tmp_path / "runner.py"
    script.write_text(textwrap.dedent(KILL_SCRIPT))
    proc = subprocess.Popen([sys.executable, str(script), str(spec), str(out)], start_new_session=True)
    journal = out / "journal.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if journal.exists() and len(journal.read_bytes().splitlines()) >= 1 + records:
            return proc
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    pytest.fail(f"the sweep subprocess did not finish {records} points in 120 s")


def test_kill_9_loses_nothing_and_resume_reruns_nothing_finished(tmp_path):
    spec = write_spec(tmp_path, [f"{i + 100} GB/s" for i in range(16)])
    out = tmp_path / "out"
    journal = out / "journal.jsonl"
    proc = _start_and_wait(tmp_path, spec, out, records=4)
    os.killpg(proc.pid, signal.SIGKILL)  # the runner and its pool workers, mid-sweep
    proc.wait()
    with open(journal, "ab") as fh:  # a record torn by the kill: never committed, must be dropped
        fh.write(b'{"point_id": "deadbeef", "status": "ok", "elap')
    before = read_journal(journal)
    assert 4 <= len(before) < 16
    backend = SerialBackend()
    rep = run_sweep(spec, out, backend=backend, evaluate=fake_eval, resume=True, progress=False)
    assert not set(backend.evaluated) & set(before), "a point finished before the kill was run again"
    assert rep.reused == len(before) and rep.ran == 16 - len(before)
    table, _ = read_results(out)
    assert len(table) == 16 and table["status"].eq("ok").all()
    assert journal.read_bytes().endswith(b"\n") and b"deadbeef" not in journal.read_bytes()


def test_ctrl_c_writes_the_table_of_every_finished_point(tmp_path):
    spec = write_spec(tmp_path, [f"{i + 100} GB/s" for i in range(16)])
    out = tmp_path / "out"
    proc = _start_and_wait(tmp_path, spec, out, records=3)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C sends to the terminal's foreground process group
    assert proc.wait(timeout=60) == 130
    done = read_journal(out / "journal.jsonl")
    table, meta = read_results(out)  # compaction interval is 60 s: this table was written by the interrupt
    assert sorted(table["point_id"]) == sorted(done) and 3 <= len(done) < 16 and meta["points_total"] == 16


def test_cli_real_simulator_sweep_resume_and_errors(tmp_path, capsys):
    from accelsim.trace.synthetic import SyntheticConfig, write_synthetic

    write_synthetic(tmp_path / "wl", SyntheticConfig(beam=2, fusion="dr", utterances=1, seconds=0.4), command="t")
    spec = tmp_path / "real.yaml"
    spec.write_text(f"name: real\nbase: {{arch: {FP16}, workload: wl}}\n"
                    "grid:\n  - product: {arch.offchip.bandwidth: [32 GB/s, 128 GB/s], arch.cores: [1, 4]}\n")
    out = tmp_path / "o"
    argv = ["sweep", str(spec), "--out", str(out), "--workers", "2", "--no-progress"]
    assert main(argv) == 0
    assert "4 points (0 reused, 4 run, 0 with errors)" in capsys.readouterr().out
    table, _ = read_results(out)
    sim = table.set_index(["arch.offchip.bandwidth", "arch.cores"])["sim_s"]
    assert sim[("128 GB/s", 4)] < sim[("32 GB/s", 4)]  # more bandwidth never slower, here strictly faster
    assert table["cores"].tolist() == table["arch.cores"].tolist()  # the override reached the simulator
    assert main(argv) == 2 and "pass --resume" in capsys.readouterr().err
    assert main([*argv, "--resume"]) == 0 and "(4 reused, 0 run" in capsys.readouterr().out


def test_dask_local_cluster_backend(tmp_path):
    pytest.importorskip("distributed", reason="install the dask extra: pip install 'accelsim[dask]'")
    spec = write_spec(tmp_path, ["16 GB/s", "13 GB/s", "32 GB/s", "64 GB/s"])
    out = tmp_path / "out"
    rep = run_sweep(spec, out, backend=DaskBackend(2, processes=False), evaluate=fake_eval, progress=False)
    assert (rep.total, rep.errors) == (4, 1)
    table, _ = read_results(out)
    assert table.set_index("arch.offchip.bandwidth").loc["13 GB/s", "error"].startswith("ValueError")
    assert table.loc[table["status"] == "ok", "rtf"].tolist() == pytest.approx([0.1 / 16, 0.1 / 32, 0.1 / 64])


def test_incompatible_results_and_journal_versions(tmp_path):
    spec = write_spec(tmp_path, ["16 GB/s"])
    out = tmp_path / "out"
    run_sweep(spec, out, backend=SerialBackend(), evaluate=fake_eval, progress=False)
    path = out / "results.parquet"
    table = pq.read_table(path)
    meta = json.loads(table.schema.metadata[b"accelsim.sweep"])
    pq.write_table(table.replace_schema_metadata({b"accelsim.sweep": json.dumps({**meta, "format_version": 0})}),
                   path)
    with pytest.raises(SweepError, match=r"results format version 0 .* reads version 1: rerun the sweep"):
        read_results(out)
    pq.write_table(table.replace_schema_metadata({}), path)
    with pytest.raises(SweepError, match="not an accelsim sweep results file"):
        read_results(path)
    with pytest.raises(SweepError, match="CSV table is for spreadsheets"):
        read_results(out / "results.csv")
    lines = (out / "journal.jsonl").read_text().splitlines()
    lines[0] = lines[0].replace('"format_version": 1', '"format_version": 7')
    (out / "journal.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(SweepError, match="journal format version 7"):
        run_sweep(spec, out, backend=SerialBackend(), evaluate=fake_eval, resume=True, progress=False)


def test_journal_lock_and_corrupt_middle_line(tmp_path):
    with Journal(tmp_path) as j:
        j.append(Outcome("a" * 16, "ok", 0.1, result={"x": float("nan"), "y": 2}))
        with pytest.raises(SweepError, match="another sweep is writing"):
            Journal(tmp_path)
    rec = read_journal(tmp_path / "journal.jsonl")["a" * 16]
    assert rec.result == {"x": None, "y": 2}
    with open(tmp_path / "journal.jsonl", "ab") as fh:
        fh.write(b"garbage\n" + json.dumps({"point_id": "b", "status": "ok", "elapsed_s": 0}).encode() + b"\n")
    with pytest.raises(SweepError, match="line 3 is corrupt"):
        read_journal(tmp_path / "journal.jsonl")


def test_cli_bad_input_exits_2_with_one_paragraph(tmp_path, capsys):
    spec = tmp_path / "bad.yaml"
    spec.write_text(f"name: bad\nbase: {{arch: {FP16}, workload: wl}}\ngrid:\n  - product: {{arch.clok: [1 GHz]}}\n")
    make_workload(tmp_path / "wl")
    assert main(["sweep", str(spec), "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "accelsim sweep: error:" in err and "did you mean 'clock'" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()  # nothing written for a sweep that cannot run
    assert main(["report", str(tmp_path / "nowhere"), "-o", str(tmp_path / "r.html")]) == 2
