"""The generated results pages are what their scripts render from the shipped measurements (not stale)."""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_results_search_page_renders_from_its_csv():
    mod = _script("search_results")
    page = (ROOT / "docs/results-search.md").read_text(encoding="utf-8")
    command = re.search(r"```\n(python scripts/search_results.py[^\n]*)\n```", page).group(1)
    args = mod.build_parser().parse_args(shlex.split(command)[2:])
    assert mod.render(pd.read_csv(ROOT / args.csv), args, command) == page


def test_results_quant_page_renders_from_its_json():
    mod = _script("quant_results")
    res = json.loads((ROOT / "docs/results-quant.json").read_text(encoding="utf-8"))
    assert mod.render_shipped(res, mod.SHIPPED_COMMAND) == (ROOT / "docs/results-quant.md").read_text(encoding="utf-8")


def test_verdicts_follow_the_numbers():
    """The goal sentences are computed: change a number and the verdict changes with it."""
    mod = _script("search_results")
    rows = [("fp32", "none", 2, 20.0), ("fp32", "dr", 2, 10.0), ("int4", "none", 2, 21.0), ("int4", "dr", 2, 12.0)]
    df = pd.DataFrame(rows, columns=["precision", "fusion", "beam", "wer_percent"])
    assert "met at every beam measured (2)" in mod.verdict(df)
    df.loc[3, "wer_percent"] = 15.0  # INT4 gain 6 of 10 points: keeps 60 %
    assert "not met at beams 2" in mod.verdict(df)
    q = _script("quant_results")
    res = json.loads((ROOT / "docs/results-quant.json").read_text(encoding="utf-8"))
    res["models"][-1]["sets"]["target_test"]["wer_percent"] = res["models"][0]["sets"]["target_test"]["wer_percent"] + 3
    assert "**not met**" in q.render_shipped(res, q.SHIPPED_COMMAND)
