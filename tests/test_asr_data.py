"""Corpus pieces: text cleaning and splits, voices, synthesis, manifests, LibriSpeech layout, dataset."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from asr.data.dataset import SpeechDataset
from asr.data.librispeech import librispeech_utterances
from asr.data.manifest import Utterance, read_audio, read_manifest, write_manifest, write_wav
from asr.data.synth import SynthConfig, synthesize, utterance_rng
from asr.data.text import clean_sentences, read_fortunes, split_sentences
from asr.data.voices import verify_voices
from asr.errors import DataError
from asr.features import FeatureConfig
from asr_speech_fixtures import make_corpus, sine

torch.set_num_threads(1)


def test_clean_sentences_drops_what_the_synthesizer_would_misread():
    raw = [
        "The cat sat on the mat.",
        "It cost $5 at IBM.",  # symbol
        "Call the FBI now please.",  # acronym, spelled letter by letter
        "In 1984 it rained.",  # digits
        "Two words",  # too short
        "The cat sat on the mat!",  # duplicate after normalization
        "Don't \"panic\" -- it's fine (really).",
    ]
    assert clean_sentences(raw, min_words=3, max_words=20) == ["the cat sat on the mat", "don't panic it's fine really"]


def test_fortunes_are_read_without_attributions(tmp_path):
    (tmp_path / "jokes").write_text("A fish walks into a bar.\n\t\t-- Somebody Famous\n%\nShort one here. And another one.\n")
    (tmp_path / "jokes.dat").write_bytes(b"\0")
    sentences = list(read_fortunes(tmp_path))
    assert sentences == ["A fish walks into a bar.", "Short one here.", "And another one."]
    with pytest.raises(DataError, match="fortune files not found; install the Debian package 'fortunes'"):
        list(read_fortunes(tmp_path / "nope"))


@given(st.integers(0, 60), st.integers(0, 10), st.integers(0, 10), st.integers(0, 1000))
def test_splits_are_disjoint_and_seeded(n, dev, test, seed):
    sentences = [f"sentence {i}" for i in range(n)]
    sizes = {"dev": dev, "test": test, "train": -1}
    if dev + test > n:
        with pytest.raises(DataError, match="need"):
            split_sentences(sentences, sizes, seed)
        return
    s = split_sentences(sentences, sizes, seed)
    assert len(s["dev"]) == dev and len(s["test"]) == test and len(s["train"]) == n - dev - test
    assert sorted(s["dev"] + s["test"] + s["train"]) == sorted(sentences)
    assert s == split_sentences(sentences, sizes, seed)


def test_voice_fallback_is_detected():
    verify_voices(("en-us",), ("m1", "f2"))
    with pytest.raises(DataError, match=r"variant 'M1', variant 'nosuchvoice'.*case-sensitive"):
        verify_voices(("en-us",), ("m1", "M1", "nosuchvoice"))


def test_synthesis_is_seeded_and_varied():
    cfg = SynthConfig(voices=("en-us+m3", "en-gb+f2"), noise_prob=0.5)
    a, spk_a, _ = synthesize("hello there", cfg, utterance_rng(7, "train", 3))
    b, spk_b, _ = synthesize("hello there", cfg, utterance_rng(7, "train", 3))
    assert spk_a == spk_b
    np.testing.assert_allclose(a, b, atol=3e-4)  # espeak-ng itself jitters by a few 16-bit steps
    assert a.dtype == np.float32 and np.abs(a).max() <= 1.0 and a.shape[0] > 4000
    speakers = {synthesize("hi", cfg, utterance_rng(7, "train", i))[1] for i in range(6)}
    assert len(speakers) > 1


def test_manifest_round_trip_and_relative_paths(tmp_path):
    write_wav(tmp_path / "a" / "x.wav", sine(0.3))
    write_manifest(tmp_path / "m.jsonl", [Utterance(tmp_path / "a" / "x.wav", 0.3, "hi there")])
    assert json.loads((tmp_path / "m.jsonl").read_text())["audio_filepath"] == "a/x.wav"
    (u,) = read_manifest(tmp_path / "m.jsonl", check_audio=True)
    assert u.audio == tmp_path / "a" / "x.wav" and u.text == "hi there"
    np.testing.assert_allclose(read_audio(u.audio), sine(0.3), atol=1e-4)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"audio_filepath": "x.wav", "duration": 1.0}', "missing key.*text"),
        ('{"audio_filepath": "x.wav", "duration": 1.0, "text": "  "}', "key 'text' is empty"),
        ('{"audio_filepath": "x.wav", "duration": 1.0, "text": "caf\\u00e9!"}', "key 'text': character '\u00e9' at position 3.*outside the vocabulary"),
        ('{"audio_filepath": "x.wav", "duration": -2, "text": "hi"}', "key 'duration' = -2: expected a positive"),
        ('{"audio_filepath": "missing.wav", "duration": 1.0, "text": "hi"}', "audio file .*missing.wav not found"),
        ("not json", "not a JSON object"),
    ],
)
def test_bad_manifest_lines_name_file_line_and_key(tmp_path, line, message):
    m = tmp_path / "bad.jsonl"
    m.write_text(line + "\n")
    with pytest.raises(DataError, match=f"bad.jsonl:1: {message}"):
        read_manifest(m, check_audio=True)


def test_corrupt_audio_message(tmp_path):
    (tmp_path / "x.wav").write_bytes(b"RIFF garbage")
    with pytest.raises(DataError, match="x.wav: unreadable WAV file"):
        read_audio(tmp_path / "x.wav")


def test_librispeech_layout(tmp_path):
    chapter = tmp_path / "LibriSpeech" / "dev" / "19" / "198"
    write_wav(chapter / "19-198-0000.wav", sine(0.5))
    write_wav(chapter / "19-198-0001.wav", sine(0.25))
    (chapter / "19-198.trans.txt").write_text("19-198-0000 HELLO WORLD\n19-198-0001 IT'S ME\n")
    utts = librispeech_utterances(tmp_path / "LibriSpeech")
    assert [u.text for u in utts] == ["hello world", "it's me"]
    assert [u.duration_s for u in utts] == pytest.approx([0.5, 0.25])
    (chapter / "19-198.trans.txt").write_text("19-198-0002 GONE\n")
    with pytest.raises(DataError, match="trans.txt:1: audio for 19-198-0002 not found"):
        librispeech_utterances(tmp_path / "LibriSpeech")


def test_dataset_skips_and_counts_bad_utterances(tmp_path):
    manifest = make_corpus(tmp_path, sentences=("the cat sat", "hello world"))
    lines = manifest.read_text().splitlines()
    lines += [
        json.dumps({"audio_filepath": "audio/gone.wav", "duration": 1.0, "text": "lost"}),
        json.dumps({"audio_filepath": "audio/000.wav", "duration": 1.0, "text": ""}),
        json.dumps({"audio_filepath": "audio/000.wav", "duration": 1.0, "text": "caf\u00e9"}),
    ]
    manifest.write_text("\n".join(lines) + "\n")
    data = SpeechDataset(manifest, FeatureConfig(n_mels=40), cache_dir=tmp_path / "cache")
    assert len(data) == 2 and len(data.skipped) == 3
    assert any("gone.wav" in s for s in data.skipped)
    feats, lens, tokens, tlens = data.collate(data.batches(10**6, shuffle=False)[0])
    assert feats.shape[:2] == (2, int(lens.max())) and tokens.shape == (2, int(tlens.max()))
    cached = SpeechDataset(manifest, FeatureConfig(n_mels=40), cache_dir=tmp_path / "cache")
    assert cached.texts == data.texts and cached.skipped == data.skipped
    assert all(torch.equal(a, b) for a, b in zip(cached.feats, data.feats))


@given(st.lists(st.integers(5, 300), min_size=1, max_size=60), st.integers(300, 3000), st.integers(0, 3))
def test_batches_cover_every_utterance_once_within_budget(lengths, budget, epoch):
    data = SpeechDataset.__new__(SpeechDataset)
    data.feats = [torch.zeros(n, 1) for n in lengths]
    batches = data.batches(budget, seed=1, epoch=epoch)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    assert all(len(b) == 1 or max(lengths[i] for i in b) * len(b) <= budget for b in batches)
    assert batches == data.batches(budget, seed=1, epoch=epoch)


def test_build_corpus_writes_the_text_contract_and_resumes(tmp_path):
    from asr.cli import main

    args = ["data", "build", "--out", str(tmp_path / "c"), "--source-train", "6", "--source-dev", "2",
            "--source-test", "2", "--target-dev", "2", "--target-test", "2", "--jobs", "1", "--renditions", "1"]
    assert main(args) == 0
    c = tmp_path / "c"
    texts = {s: [u.text for u in read_manifest(c / f"{s}.jsonl", check_audio=True)]
             for s in ("source_train", "source_dev", "source_test", "target_dev", "target_test")}
    assert [len(v) for v in texts.values()] == [6, 2, 2, 2, 2]
    assert (c / "lm_source_train.txt").read_text().splitlines() == texts["source_train"]
    lm_target = set((c / "lm_target_train.txt").read_text().splitlines())
    assert len(lm_target) > 1000 and not lm_target & set(texts["target_dev"] + texts["target_test"])
    assert not set(texts["source_train"]) & set(texts["source_dev"] + texts["source_test"])
    voices = {json.loads(line)["voice"] for line in (c / "speakers.jsonl").read_text().splitlines()}
    assert len(voices) > 3
    before = (c / "source_train.jsonl").read_text()
    assert main(args) == 0  # resumes: existing audio kept, same manifests
    assert (c / "source_train.jsonl").read_text() == before
    from asr.data.corpus import CorpusConfig, build_corpus

    other = CorpusConfig(source_train=7, source_dev=2, source_test=2, target_dev=2, target_test=2, renditions=2)
    with pytest.raises(DataError, match=r"other settings \(renditions: 1 -> 2, source_train: 6 -> 7\)"):
        build_corpus(c, other)  # file 000006.wav would be kept for a sentence it does not speak
    assert (c / "source_train.jsonl").read_text() == before


def test_renditions_speak_each_training_sentence_with_new_speakers(tmp_path):
    from asr.cli import main

    c = tmp_path / "c"
    assert main(["data", "build", "--out", str(c), "--source-train", "3", "--source-dev", "1", "--source-test", "1",
                 "--target-dev", "1", "--target-test", "1", "--jobs", "1", "--renditions", "2"]) == 0
    utts = read_manifest(c / "source_train.jsonl", check_audio=True)
    lm = (c / "lm_source_train.txt").read_text().splitlines()
    assert [u.text for u in utts] == lm + lm and len(lm) == 3
    train = [json.loads(line) for line in (c / "speakers.jsonl").read_text().splitlines() if '"source_train"' in line]
    assert sorted(r["index"] for r in train) == list(range(6))
    first, second = ({(r["voice"], r["rate_wpm"], r["pitch"]) for r in train if (r["index"] < 3) == k} for k in (True, False))
    assert first != second  # the second rendition is a new draw of speakers
    from asr.data.corpus import CorpusConfig

    with pytest.raises(DataError, match="renditions must be >= 1, got 0"):
        CorpusConfig(renditions=0)


def test_taking_every_training_sentence_keeps_dev_and_test(tmp_path):
    from asr.data.corpus import CorpusConfig, build_text

    fixed = build_text(tmp_path / "a", CorpusConfig(source_train=50))
    every = build_text(tmp_path / "b", CorpusConfig(source_train=-1))
    for split in ("source_dev", "source_test", "target_dev", "target_test"):
        assert every[split] == fixed[split]
    assert every["source_train"][:50] == fixed["source_train"] and len(every["source_train"]) > 10_000
    assert not set(every["source_train"]) & set(every["source_dev"] + every["source_test"])
