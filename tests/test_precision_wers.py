"""scripts/precision_wers.py rewrites a workload.yaml's accuracy mapping and nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from repo_scripts import load_script

ROOT = Path(__file__).resolve().parents[1]


def test_a_wrapped_accuracy_mapping_is_replaced_whole():
    mod = load_script("precision_wers")
    text = ("format_version: 1\nsearch:\n  beam: 16\naccuracy: {cer_percent: null, test_set: data/multi/target_test.jsonl\n"
            "    (first 10 utterances), wer_percent: 35.0,\n  speech: null}\nweights:\n  a: {shape: [1, 2]}\n")
    new = {"cer_percent": None, "test_set": "data/multi/target_test.jsonl (first 10 utterances)", "wer_percent": 35.0,
           "wer_by_precision": {"fp32": 35.0, "int8": 28.0, "int4": 25.0}, "speech": "espeak-ng"}
    out = mod.with_accuracy(text, new, "w.yaml")
    doc = yaml.safe_load(out)
    assert doc["accuracy"] == new and doc["weights"] == {"a": {"shape": [1, 2]}} and doc["search"] == {"beam": 16}
    assert out.startswith("format_version: 1\nsearch:\n  beam: 16\naccuracy: {") and out.endswith("weights:\n  a: {shape: [1, 2]}\n")
    with pytest.raises(SystemExit, match="no accuracy mapping"):
        mod.with_accuracy("format_version: 1\n", new, "w.yaml")


def test_speech_and_exports_follow_the_model():
    mod = load_script("precision_wers")
    assert mod.speech_of(ROOT / "data/multi/target_test_unseen.jsonl").startswith("**unseen**")
    assert mod.speech_of(ROOT / "data/corpus/target_test.jsonl") == "espeak-ng only (KJV)"
    assert mod.speech_of(ROOT / "data/corpus/source_dev.jsonl") == mod.ESPEAK_SPEECH
    assert mod.models_of(ROOT / "models/multi")["int4"] == ROOT / "models/multi_int4"
