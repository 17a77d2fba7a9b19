"""The simulator tables in docs/simulator.md and docs/results.md are what scripts/sim_results.py prints."""

from __future__ import annotations

from pathlib import Path

import pytest

from repo_scripts import load_script

REPO = Path(__file__).resolve().parents[1]


def test_every_docs_table_has_its_markers():
    mod = load_script("sim_results")
    sim = (REPO / "docs" / "simulator.md").read_text()
    for name in mod.TABLES:
        assert f"<!-- sim_results:{name} -->" in sim and f"<!-- /sim_results:{name} -->" in sim, name
    res = (REPO / "docs" / "results.md").read_text()
    assert "<!-- sim_results:headline -->" in res and "<!-- sim_results:ledger -->" in res


def test_replace_blocks_rewrites_only_the_marked_table():
    mod = load_script("sim_results")
    doc = "a\n<!-- sim_results:cores -->\nold\n<!-- /sim_results:cores -->\nb"
    assert mod.replace_blocks(doc, {"cores": "new"}) == "a\n<!-- sim_results:cores -->\nnew\n<!-- /sim_results:cores -->\nb"


@pytest.mark.slow
def test_docs_tables_are_not_stale():
    mod = load_script("sim_results")
    tables = mod.render()
    for path in mod.DOCS:
        doc = path.read_text()
        assert mod.replace_blocks(doc, tables) == doc, (
            f"{path.name}: a generated table is stale: run `python3 scripts/sim_results.py --write`")
