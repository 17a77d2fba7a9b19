"""The WER table of models/small and models/multi (stage 2 and shipped) in docs/asr.md is generated from the shipped eval files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from asr.errors import DataError
from asr.train.report import BEGIN, END, MODELS, TEST_SETS, doc_block, int4_verdict, wer_table, write_doc

ROOT = Path(__file__).resolve().parents[1]


def test_docs_table_matches_the_shipped_eval_files():
    doc = (ROOT / "docs" / "asr.md").read_text()
    assert BEGIN in doc and END in doc, "docs/asr.md lost its multi-wer-table markers"
    shown = doc.split(BEGIN)[1].split(END)[0].strip()
    assert shown == doc_block(ROOT).strip(), "stale: regenerate with `python3 -m asr.train.report`"


def test_write_doc_replaces_only_the_marked_block(tmp_path):
    doc = tmp_path / "asr.md"
    doc.write_text(f"intro\n{BEGIN}\nold table\n{END}\noutro\n")
    write_doc(doc, ROOT)
    assert doc.read_text() == f"intro\n{BEGIN}\n{doc_block(ROOT)}{END}\noutro\n"
    doc.write_text("no markers\n")
    with pytest.raises(DataError, match="markers"):
        write_doc(doc, ROOT)


def test_table_reads_eval_files_and_names_a_bad_one(tmp_path):
    for _, files in MODELS:
        for f in files:
            (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
            res = {TEST_SETS[0][0]: {"wer": 0.25, "cer": 0.1, "utts": 3}}
            (tmp_path / f).write_text(json.dumps({"model": "m", "results": res}))
    table = wer_table(tmp_path).splitlines()
    assert len(table) == 2 + len(TEST_SETS)
    assert "| 3 |" + " 25.0 (10.0) |" * len(MODELS) in table[2] and table[3].endswith("|" + " - |" * len(MODELS))
    (tmp_path / MODELS[1][1][0]).write_text("{}")
    with pytest.raises(DataError, match="not an `asr eval --out` file"):
        wer_table(tmp_path)


def test_int4_verdict_is_computed_from_the_numbers(tmp_path):
    def write(wers):
        for (_, files), wer in zip(MODELS, wers):
            for f in files:
                (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
                res = {m: {"wer": wer, "cer": 0.1, "utts": 3} for m, _ in TEST_SETS[:2]}
                (tmp_path / f).write_text(json.dumps({"model": "m", "results": res}))

    write([0.2, 0.2, 0.300, 0.3, 0.304])
    assert "within 0.5 on 2 of 2 test sets (goal met); largest gap +0.40" in int4_verdict(tmp_path)
    write([0.2, 0.2, 0.300, 0.3, 0.310])
    assert "within 0.5 on 0 of 2 test sets (goal not met); largest gap +1.00" in int4_verdict(tmp_path)


def test_paired_gap_interval_follows_the_errors():
    from asr.train.report import paired_gap_interval

    refs = [f"word{i} a b c" for i in range(40)]
    base = [{"ref": r, "hyp": r} for r in refs]
    assert paired_gap_interval(base, base) == (0.0, 0.0)
    worse = [{"ref": r, "hyp": r.replace(" a ", " x ") if i % 4 == 0 else r} for i, r in enumerate(refs)]
    lo, hi = paired_gap_interval(base, worse)  # 10 of 160 words wrong: +6.25 points
    assert 0 < lo < 6.25 < hi
    with pytest.raises(DataError, match="utterances differ"):
        paired_gap_interval(base, base[::-1])
