"""Training on the tiny config: loss decreases, a few utterances overfit to WER 0, resume is exact; CLI."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from asr.cli import main
from asr.data.dataset import SpeechDataset
from asr.data.manifest import read_manifest
from asr.model import ModelConfig, load_model
from asr.train import cer, wer
from asr.train.config import TrainConfig
from asr.train.trainer import Trainer, evaluate, lr_at
from asr_speech_fixtures import make_corpus

torch.set_num_threads(1)
CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("speech")
    return make_corpus(root)


@pytest.fixture(scope="module")
def data(corpus):
    return SpeechDataset(corpus, ModelConfig.from_yaml(CONFIGS / "tiny.yaml").features)


def tiny_cfgs(**train):
    tcfg = TrainConfig.from_yaml(CONFIGS / "tiny.yaml")
    return ModelConfig.from_yaml(CONFIGS / "tiny.yaml"), dataclasses.replace(tcfg, **train)


def batch_loss(trainer: Trainer, data: SpeechDataset) -> float:
    from asr.train.loss import rnnt_loss

    feats, lens, tokens, tlens = data.collate(list(range(len(data))))
    with torch.no_grad():
        logits, enc_lens = trainer.model.eval()(feats, lens, tokens)
        return float(rnnt_loss(logits, tokens, enc_lens, tlens).sum() / tlens.sum())


def test_loss_decreases(data, tmp_path):
    mcfg, tcfg = tiny_cfgs()
    tr = Trainer(mcfg, tcfg, data, None, tmp_path, log=lambda s: None)
    before = batch_loss(tr, data)
    tr.fit(max_steps=30)
    after = batch_loss(tr, data)
    assert after < 0.6 * before


def test_overfits_a_few_utterances_to_wer_zero(data, tmp_path):
    mcfg, tcfg = tiny_cfgs()
    tr = Trainer(mcfg, tcfg, data, None, tmp_path, log=lambda s: None)
    res = None
    for steps in range(40, 401, 40):
        tr.fit(max_steps=steps)
        res = evaluate(tr.model, data, 10**6)
        if res["wer"] == 0:
            break
    assert res["wer"] == 0.0 and res["hyps"] == res["refs"], res["hyps"]


def test_resume_reproduces_the_uninterrupted_run(data, tmp_path):
    mcfg, tcfg = tiny_cfgs(batch_frames=350)  # 2 batches per epoch: resume lands mid-epoch
    mcfg = dataclasses.replace(mcfg, enc_dropout=0.2, pred_dropout=0.2)  # dropout draws from the checkpointed RNG
    straight = Trainer(mcfg, tcfg, data, None, tmp_path / "a", log=lambda s: None)
    straight.fit(max_steps=7)
    first = Trainer(mcfg, tcfg, data, None, tmp_path / "b", log=lambda s: None)
    first.fit(max_steps=3)
    first.checkpoint()
    torch.manual_seed(12345)  # a fresh process would have other RNG state
    resumed = Trainer(mcfg, tcfg, data, None, tmp_path / "b", log=lambda s: None)
    assert resumed.resume()
    assert resumed.state["step"] == 3 and resumed.state["batch"] == 1
    resumed.fit(max_steps=7)
    for (name, a), (_, b) in zip(straight.model.state_dict().items(), resumed.model.state_dict().items()):
        assert torch.equal(a, b), name


def test_a_run_skips_bad_utterances_and_reports_them(corpus, tmp_path, capsys):
    manifest = tmp_path / "with_bad.jsonl"
    lines = corpus.read_text().replace('"audio_filepath": "audio/', f'"audio_filepath": "{corpus.parent}/audio/').splitlines()
    bad = '{"audio_filepath": "%s", "duration": 1.0, "text": "ghost"}' % (tmp_path / "missing.wav")
    manifest.write_text("\n".join([*lines, bad, lines[0].replace('"text": "', '"text": "\\u00e9')]) + "\n")
    out = tmp_path / "run"
    rc = main(["train", "--config", str(CONFIGS / "tiny.yaml"), "--train-manifest", str(manifest),
               "--dev-manifest", str(corpus), "--out", str(out), "--max-steps", "3"])
    assert rc == 0
    log = (out / "train.log").read_text()
    assert "skipped 2 bad training utterances" in log and "missing.wav" in log
    assert "finished at step 3" in log
    assert (out / "LATEST").read_text().strip() == str((out / "best").resolve())
    load_model(out / "best")
    capsys.readouterr()
    assert main(["eval", "--model", str(out / "best"), str(corpus)]) == 0
    assert "WER" in capsys.readouterr().out
    # killed and restarted: resumes from the checkpoint instead of starting afresh
    assert main(["train", "--config", str(CONFIGS / "tiny.yaml"), "--train-manifest", str(manifest), "--out", str(out), "--max-steps", "4"]) == 0
    assert "resumed from" in (out / "train.log").read_text()


def test_several_training_manifests_are_joined(corpus, tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--config", str(CONFIGS / "tiny.yaml"), "--train-manifest", str(corpus), str(corpus),
                 "--out", str(out), "--max-steps", "1", "--no-progress"]) == 0
    joined = read_manifest(out / "train.jsonl", check_audio=True)
    assert [u.text for u in joined] == [u.text for u in read_manifest(corpus)] * 2


def test_cli_errors_are_one_paragraph(tmp_path, capsys):
    assert main(["train", "--config", str(tmp_path / "none.yaml"), "--dry-run"]) == 2
    assert "none.yaml: file not found" in capsys.readouterr().err
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.yaml").write_text((CONFIGS / "tiny.yaml").read_text())
    (tmp_path / "m" / "model.safetensors").write_bytes(b"not a checkpoint")
    assert main(["eval", "--model", str(tmp_path / "m"), str(tmp_path / "x.jsonl")]) == 2
    assert "corrupt or not a safetensors file" in capsys.readouterr().err


def test_dry_run_prints_the_paper_parameter_count(capsys):
    assert main(["train", "--config", str(CONFIGS / "paper.yaml"), "--dry-run"]) == 0
    assert "57.4 M" in capsys.readouterr().out


def test_wer_and_cer():
    assert wer(["the cat sat", "a dog"], ["the bat sat", "a dog ran"]) == pytest.approx(2 / 5)
    assert cer(["abc"], ["abd"]) == pytest.approx(1 / 3)
    assert wer(["hello world"], [""]) == 1.0
    with pytest.raises(ValueError, match="2 references but 1 hypotheses"):
        wer(["a", "b"], ["a"])


def test_errors_split_between_seen_and_unseen_words():
    from asr.train.metrics import errors_by_vocabulary

    got = errors_by_vocabulary(["a b c d", "x y"], ["a c d e", "x z y"], vocabulary={"a", "c", "x"})
    assert (got["iv_words"], got["iv_errors"], got["oov_words"], got["oov_errors"], got["insertions"]) == (3, 0, 3, 1, 2)
    assert got["oov_rate"] == 0.5 and got["oov_error_rate"] == pytest.approx(1 / 3)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.lists(st.sampled_from("abcde"), min_size=1, max_size=6),
                          st.lists(st.sampled_from("abcdef"), max_size=6)), min_size=1, max_size=4),
       st.sets(st.sampled_from("abcdef")))
def test_vocabulary_split_accounts_for_every_word_error(pairs, vocabulary):
    from asr.train.metrics import errors_by_vocabulary

    refs, hyps = [" ".join(r) for r, _ in pairs], [" ".join(h) for _, h in pairs]
    got = errors_by_vocabulary(refs, hyps, vocabulary)
    words = sum(len(r) for r, _ in pairs)
    assert got["iv_words"] + got["oov_words"] == words
    assert got["iv_errors"] + got["oov_errors"] + got["insertions"] == round(wer(refs, hyps) * words)


def test_lr_schedule_warms_up_then_decays():
    cfg = TrainConfig(lr=1e-3, warmup_steps=10, final_lr_ratio=0.1)
    lrs = [lr_at(s, cfg, 100) for s in range(120)]
    assert lrs[9] == pytest.approx(1e-3) and lrs[0] == pytest.approx(1e-4)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:])) and lrs[-1] == pytest.approx(1e-4)


def test_eval_of_a_manifest_without_usable_utterances_is_a_clear_error(tmp_path, capsys):
    from asr.model import Transducer, save_model

    cfg = ModelConfig.from_yaml(CONFIGS / "tiny.yaml")
    save_model(Transducer(cfg), cfg, tmp_path / "m")
    (tmp_path / "bad.jsonl").write_text('{"audio_filepath": "gone.wav", "duration": 1.0, "text": "hi"}\n')
    assert main(["eval", "--model", str(tmp_path / "m"), str(tmp_path / "bad.jsonl")]) == 2
    assert "bad.jsonl: no usable utterances (1 skipped" in capsys.readouterr().err


def test_warm_start_copies_the_weights_and_starts_a_new_schedule(data, tmp_path):
    from asr.errors import CheckpointError
    from asr.model import save_model

    mcfg, tcfg = tiny_cfgs()
    src = Trainer(mcfg, tcfg, data, None, tmp_path / "src", log=lambda s: None)
    src.fit(max_steps=5)
    save_model(src.model, mcfg, tmp_path / "saved", half=True)
    warm = Trainer(mcfg, tcfg, data, None, tmp_path / "warm", log=lambda s: None)
    warm.init_from(tmp_path / "saved")
    assert warm.state["step"] == 0 and warm.state["init_from"] == str(tmp_path / "saved")
    for (name, a), (_, b) in zip(src.model.state_dict().items(), warm.model.state_dict().items()):
        assert torch.equal(a.half().float(), b), name  # the fp16 export, widened
    other = dataclasses.replace(mcfg, enc_units=mcfg.enc_units + 8)
    with pytest.raises(CheckpointError, match="shape mismatch"):
        Trainer(other, tcfg, data, None, tmp_path / "x", log=lambda s: None).init_from(tmp_path / "saved")
