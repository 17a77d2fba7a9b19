"""Several speech engines in one corpus: families, reserved voices, seeded Piper, held-out and independent sets."""

from __future__ import annotations

import json

import numpy as np
import pytest

from asr.data.manifest import read_audio, read_manifest
from asr.data.synth import (Engines, MultiSynthConfig, PiperSession, festival_wave, flite_wave, kokoro_model, kokoro_phonemes,
                            kokoro_wave, plan_utterance, render)
from asr.data.voices import check_families, parse_families, verify_engine
from asr.errors import DataError


def test_families_parse_with_weights_and_name_bad_parts():
    assert parse_families("espeak=1,piper=3", "x") == (("espeak", 0.25), ("piper", 0.75))
    assert parse_families("festival:ked", "x") == (("festival:ked", 1.0),)
    with pytest.raises(DataError, match=r"--train-voices: unknown engine 'mbrola'"):
        parse_families("mbrola", "--train-voices")
    with pytest.raises(DataError, match=r"unknown voice 'bob' of piper.*joe"):
        parse_families("piper:bob", "x")
    with pytest.raises(DataError, match="weight of 'espeak' must be > 0"):
        parse_families("espeak=0", "x")


def test_reserved_and_held_out_voices_never_train():
    check_families("espeak,piper", "festival:ked", "flite,festival:kal,festival:slt")
    with pytest.raises(DataError, match=r"train voices: festival:kal, festival:slt are reserved"):
        check_families("espeak,festival", "", "")
    with pytest.raises(DataError, match=r"train voices: flite:awb.*reserved"):
        check_families("flite:awb", "", "")
    with pytest.raises(DataError, match=r"festival:ked are both trained on and held out"):
        check_families("espeak,festival:ked", "festival:ked", "")


def test_piper_is_seeded_per_session_and_its_settings_change_the_voice():
    a = PiperSession("joe", 11)
    b = PiperSession("joe", 11)
    x = [a.speak("good luck today", 1.0, 0.667, 0.8) for _ in range(2)]
    y = [b.speak("good luck today", 1.0, 0.667, 0.8) for _ in range(2)]
    assert all(np.array_equal(p, q) for p, q in zip(x, y))  # same seed, same order: bit for bit
    assert not np.array_equal(x[0], x[1]) or len(x[0]) != len(x[1])  # the noise generator advances
    slow = a.speak("good luck today", 1.3, 0.667, 0.8)
    assert len(slow) > 1.15 * len(x[0]) and x[0].dtype == np.float32 and np.abs(x[0]).max() <= 1.0


def test_kokoro_speaks_deterministically_and_blend_and_speed_change_the_voice():
    _, vocab, _ = kokoro_model()
    phonemes = kokoro_phonemes("the lord is my shepherd i shall not want; jumped over the lazy dog")
    assert phonemes and set(phonemes) <= set(vocab)  # every espeak-ng symbol mapped to one the model knows
    assert "^" not in phonemes and "ː" not in phonemes and "I" in phonemes  # ties and length marks folded
    a = kokoro_wave("good luck today", "kumo", "kumo", 0.0, 1.0)
    assert np.array_equal(a, kokoro_wave("good luck today", "kumo", "kumo", 0.0, 1.0))  # no sampled noise
    assert a.dtype == np.float32 and 0.4 * 16000 < len(a) < 3 * 16000 and 0.05 < np.abs(a).max() < 4  # render() scales
    blended = kokoro_wave("good luck today", "kumo", "alpha", 0.5, 1.0)
    assert not (len(blended) == len(a) and np.allclose(blended, a, atol=1e-3))
    fast = kokoro_wave("good luck today", "kumo", "kumo", 0.0, 1.25)
    assert len(fast) < 0.9 * len(a)
    cfg = MultiSynthConfig((("kokoro", 1.0),), ())
    settings = [dict(plan_utterance(cfg, np.random.default_rng(i)).speaker.settings) for i in range(20)]
    assert all(0 <= s["blend_mix"] <= 0.5 and 0.8 <= s["speed"] <= 1.2 for s in settings)
    assert len({s["blend_voice"] for s in settings}) > 1
    one = MultiSynthConfig((("kokoro:nezumi", 1.0),), ())  # one voice named: nothing blended into it
    assert dict(plan_utterance(one, np.random.default_rng(0)).speaker.settings)["blend_mix"] == 0.0


def test_festival_and_flite_speak_and_missing_voices_fail_clearly():
    ked = festival_wave("hello world", "ked", 1.0, 105.0)
    slow = festival_wave("hello world", "ked", 1.25, 105.0)
    assert ked.shape[0] > 8000 and slow.shape[0] > 1.15 * ked.shape[0]
    assert flite_wave("hello world", "awb", 1.0, 110.0).shape[0] > 8000
    verify_engine("flite", "awb")
    with pytest.raises(DataError, match="flite has no voice 'nosuch'"):
        verify_engine("flite", "nosuch")


def test_plans_are_drawn_from_the_utterance_generator_only():
    cfg = MultiSynthConfig((("espeak", 0.5), ("piper", 0.5)), ("en-us+m3", "en-gb+f2"), augment_prob=0.5)
    plans = [plan_utterance(cfg, np.random.default_rng(i)) for i in range(40)]
    assert plans == [plan_utterance(cfg, np.random.default_rng(i)) for i in range(40)]
    engines = {p.record()["engine"] for p in plans}
    assert engines == {"espeak", "piper"}
    assert 0 < sum(p.augment is not None for p in plans) < 40
    assert all(p.snr_db is None for p in plans if p.augment is not None)  # augmented: its own noise only
    wav = render("hi there", plans[0], Engines(3))
    assert wav.dtype == np.float32 and np.abs(wav).max() <= 0.99 + 1e-6


def test_multi_voice_corpus_builds_held_out_sets_and_is_seeded(tmp_path):
    from asr.cli import main

    args = ["data", "build", "--source-train", "5", "--source-dev", "1", "--source-test", "1", "--target-dev", "1",
            "--target-test", "1", "--renditions", "1", "--train-voices", "espeak=0.3,piper=0.7", "--unseen-voices",
            "festival:ked", "--independent-voices", "flite:slt,festival:kal", "--augment", "0.6", "--no-progress"]
    a, b = tmp_path / "a", tmp_path / "b"
    assert main([*args, "--out", str(a), "--jobs", "2"]) == 0
    assert main([*args, "--out", str(b), "--jobs", "1"]) == 0
    recs = [json.loads(x) for x in (a / "speakers.jsonl").read_text().splitlines()]
    by_split = {}
    for r in recs:
        by_split.setdefault(r["split"], set()).add(r["engine"])
    assert by_split["source_train"] <= {"espeak", "piper"} and "piper" in by_split["source_train"]
    assert by_split["source_test_unseen"] == by_split["target_test_unseen"] == {"festival"}
    assert by_split["source_test_independent"] <= {"flite", "festival"}
    test_text = [u.text for u in read_manifest(a / "source_test.jsonl")]
    assert [u.text for u in read_manifest(a / "source_test_unseen.jsonl", check_audio=True)] == test_text
    assert [u.text for u in read_manifest(a / "source_test_independent.jsonl", check_audio=True)] == test_text
    same = [json.loads(x) for x in (b / "speakers.jsonl").read_text().splitlines()]
    assert [{**r, "duration": 0} for r in recs] == [{**r, "duration": 0} for r in same]  # the same plans
    for r in recs:  # Piper and Festival are bit-exact across builds and process counts (espeak-ng jitters)
        if r["engine"] in ("piper", "festival"):
            rel = f"audio/{r['split']}/{r['index']:06d}.wav"
            assert np.array_equal(read_audio(a / rel), read_audio(b / rel)), rel
    (a / "audio" / "source_train" / "000001.wav").unlink()  # resume: re-rendered as it was
    before = (b / "audio" / "source_train" / "000001.wav").read_bytes()
    assert main([*args, "--out", str(a), "--jobs", "1"]) == 0
    if recs[1]["engine"] != "espeak":
        assert (a / "audio" / "source_train" / "000001.wav").read_bytes() == before
    grown = [*args, "--out", str(a), "--jobs", "1"]
    grown[grown.index("--source-train") + 1] = "7"  # one rendition: a larger training set keeps files 0..4
    assert main(grown) == 0 and len(read_manifest(a / "source_train.jsonl", check_audio=True)) == 7
    from asr.data.corpus import CorpusConfig, build_corpus

    other = CorpusConfig(source_train=7, source_dev=1, source_test=1, target_dev=1, target_test=1, renditions=1,
                         train_voices="espeak=0.3,piper=0.7", unseen_voices="festival:ked",
                         independent_voices="flite:slt,festival:kal", augment=0.5)
    with pytest.raises(DataError, match=r"other settings \(augment: 0.6 -> 0.5\)"):
        build_corpus(a, other)


def test_a_build_can_render_only_some_splits_and_complete_later(tmp_path):
    from asr.cli import main

    args = ["data", "build", "--out", str(tmp_path), "--source-train", "3", "--source-dev", "1", "--source-test", "1",
            "--target-dev", "1", "--target-test", "1", "--renditions", "1", "--train-voices", "kokoro", "--no-progress"]
    assert main([*args, "--splits", "source_train"]) == 0
    assert len(read_manifest(tmp_path / "source_train.jsonl", check_audio=True)) == 3
    assert not (tmp_path / "source_dev.jsonl").exists()
    first = (tmp_path / "audio" / "source_train" / "000002.wav").read_bytes()
    assert main([*args, "--splits", "source_dev,target_test"]) == 0
    splits = {json.loads(x)["split"] for x in (tmp_path / "speakers.jsonl").read_text().splitlines()}
    assert splits == {"source_train", "source_dev", "target_test"}  # earlier provenance kept
    assert main(args) == 0
    assert (tmp_path / "audio" / "source_train" / "000002.wav").read_bytes() == first
    assert len(read_manifest(tmp_path / "source_test.jsonl", check_audio=True)) == 1
    assert main([*args, "--splits", "source_tran"]) == 2
