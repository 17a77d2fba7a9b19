"""Character LM: learns, save/load round trip, step-by-step scoring equals the full forward, clear errors."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from asr.errors import CheckpointError, DataError
from asr.lm.model import CharLSTMLM, LMConfig, load_lm, save_lm, sentence_logprob
from asr.lm.train import TrainConfig, make_batch, perplexity, read_sentences, train_lm
from asr.search.scorer import lm_scorer

torch.set_num_threads(1)

TEXT = "\n".join(["the cat sat on the mat", "the dog sat on the log", "a cat and a dog"] * 30)


def test_training_lowers_perplexity_and_keeps_the_best(tmp_path):
    path = tmp_path / "text.txt"
    path.write_text(TEXT)
    sentences = read_sentences(path)
    cfg = LMConfig(embed=16, hidden=32)
    torch.manual_seed(0)
    before = perplexity(CharLSTMLM(cfg), sentences)
    best = train_lm(path, tmp_path / "lm", cfg, TrainConfig(steps=60, batch_size=8, lr=1e-2, eval_every=20),
                    log=lambda s: None)
    model, meta = load_lm(tmp_path / "lm")
    after = perplexity(model, sentences)
    assert before > 20 and after < 4.0, (before, after)
    assert meta["dev_ppl"] == pytest.approx(best["dev_ppl"])


def test_save_load_round_trip_is_exact(tmp_path):
    torch.manual_seed(1)
    model = CharLSTMLM(LMConfig(embed=8, hidden=12, layers=2)).eval()
    save_lm(model, tmp_path, meta={"dev_ppl": 3.0})
    loaded, meta = load_lm(tmp_path)
    x = torch.randint(0, 29, (3, 7))
    assert torch.equal(model(x)[0], loaded(x)[0])
    assert meta == {"dev_ppl": 3.0}


@settings(max_examples=20, deadline=None)
@given(ids=st.lists(st.integers(1, 28), min_size=1, max_size=15))
def test_incremental_scorer_equals_full_forward(ids):
    """The search's batch-first step (from start-of-sequence, state carried) gives the full forward's log-probs."""
    torch.manual_seed(2)
    lm = CharLSTMLM(LMConfig(embed=8, hidden=12, layers=2)).eval()
    scorer = lm_scorer(lm, "lm_target")
    state = scorer.initial_state(1)
    total = 0.0
    with torch.no_grad():
        prev = 0
        for k in [*ids, 0]:  # end-of-sequence is unit 0
            lp, state = scorer.step(torch.tensor([prev]), state)
            total += float(lp[0, k])
            prev = k
    assert total == pytest.approx(sentence_logprob(lm, ids), abs=1e-4)


def test_batch_targets_predict_end_of_sequence_and_ignore_padding():
    x, y = make_batch([[5, 6], [7]])
    assert x.tolist() == [[0, 5, 6], [0, 7, 0]]
    assert y.tolist() == [[5, 6, 0], [7, 0, -100]]


def test_perplexity_of_a_uniform_model_is_the_vocabulary_size():
    lm = CharLSTMLM(LMConfig(embed=4, hidden=4))
    with torch.no_grad():
        lm.output.weight.zero_()
        lm.output.bias.zero_()
    assert perplexity(lm, [[1, 2, 3], [4]]) == pytest.approx(29.0, rel=1e-5)
    assert sentence_logprob(lm, [1, 2]) == pytest.approx(3 * -math.log(29), abs=1e-5)


def test_error_messages(tmp_path):
    with pytest.raises(DataError, match=r"nope\.txt: text file not found"):
        read_sentences(tmp_path / "nope.txt")
    (tmp_path / "empty.txt").write_text("!! ??\n\n--\n")
    with pytest.raises(DataError, match=r"holds no sentence"):
        read_sentences(tmp_path / "empty.txt")
    with pytest.raises(CheckpointError, match=r"not a language-model directory"):
        load_lm(tmp_path)
    save_lm(CharLSTMLM(LMConfig(embed=4, hidden=4)), tmp_path / "lm")
    (tmp_path / "lm" / "lm.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match=r"corrupt or truncated safetensors"):
        load_lm(tmp_path / "lm")
    with pytest.raises(ValueError, match=r"LMConfig.hidden = 0: must be a positive integer"):
        LMConfig(hidden=0)


def test_cli_train_and_eval(tmp_path, capsys):
    from asr.cli import main

    path = tmp_path / "text.txt"
    path.write_text(TEXT)
    assert main(["lm", "train", "--text", str(path), "--out", str(tmp_path / "lm"), "--embed", "8", "--hidden", "16",
                 "--steps", "10", "--eval-every", "5", "--batch-size", "4"]) == 0
    assert main(["lm", "eval", "--lm", str(tmp_path / "lm"), "--text", str(path)]) == 0
    assert "perplexity" in capsys.readouterr().out
    assert main(["lm", "train", "--text", str(path), "--out", str(tmp_path / "x"), "--hidden", "0"]) == 2
    assert "--hidden = 0: must be > 0" in capsys.readouterr().err
