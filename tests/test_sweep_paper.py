"""The paper sweep runs end to end on the shipped arch files and workloads, and docs/sweeps.md shows its table."""

from __future__ import annotations

from pathlib import Path

import pytest

from accelsim.report import speedup_table, to_markdown
from accelsim.sweep import call_point, read_results, run_sweep

REPO = Path(__file__).resolve().parents[1]


class _InProcess:
    def run(self, evaluate, tasks):
        for task in tasks:
            yield call_point(evaluate, task)


@pytest.mark.slow
def test_paper_sweep_reproduces_the_documented_table(tmp_path):
    out = tmp_path / "paper"
    rep = run_sweep(REPO / "sweeps" / "paper.yaml", out, backend=_InProcess(), progress=False)
    assert (rep.total, rep.errors) == (30, 0)
    df, _ = read_results(out)
    table = speedup_table(df)
    assert len(table) == 10 and set(table["beam"]) == {1, 4, 8, 16, 32} and set(table["fusion"]) == {"dr", "none"}
    # quantization never slows a point down, and INT4 beats INT8
    assert (table["speedup_int8"] > 1).all() and (table["speedup_int4"] > table["speedup_int8"]).all()
    assert (out / "timelines").is_dir() and len(list((out / "timelines").glob("*.parquet"))) == 1
    doc = (REPO / "docs" / "sweeps.md").read_text()
    assert to_markdown(table) in doc, (
        "docs/sweeps.md's paper table is stale: run `accelsim sweep sweeps/paper.yaml --out runs/paper && accelsim "
        "report runs/paper -o runs/paper/report.html --markdown docs/sweeps.md`"
    )
