"""docs/simulator.md's Energy tables are what scripts/energy_results.py prints today (regenerate when stale)."""

from __future__ import annotations

from pathlib import Path

import pytest

from repo_scripts import load_script

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_energy_tables_in_the_simulator_doc_are_current():
    script = load_script("energy_results")
    doc = (REPO / "docs" / "simulator.md").read_text()
    assert f"{script.START}\n{script.tables()}\n{script.END}" in doc, (
        "docs/simulator.md's Energy tables are stale: run `python3 scripts/energy_results.py --write "
        "docs/simulator.md`"
    )


def test_writing_between_markers_keeps_the_rest_and_is_idempotent(tmp_path):
    script = load_script("energy_results")
    doc = tmp_path / "doc.md"
    doc.write_text(f"intro\n{script.START}\nold\n{script.END}\nend\n")
    for _ in range(2):
        script.write_between_markers(doc, "| new |")
        assert doc.read_text() == f"intro\n{script.START}\n| new |\n{script.END}\nend\n"
    (tmp_path / "bare.md").write_text("no markers\n")
    with pytest.raises(SystemExit, match="markers"):
        script.write_between_markers(tmp_path / "bare.md", "x")
