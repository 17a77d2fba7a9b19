"""A tiny model's QAT runs end to end: calibrate, fine-tune, evaluate, save, reload, `asr qat` and `asr export`."""

import json

import numpy as np
import pytest
import torch

from asr.cli import main
from asr.data.manifest import write_wav
from asr.data.vocab import encode
from asr.model import ModelConfig, Transducer, save_model
from asr.quant import load_recipe
from asr.quant.io import load_qat, save_qat
from asr.quant.qat import QATConfig, finetune, prepare_calibrated

torch.set_num_threads(1)
TINY = ModelConfig(enc_layers=2, enc_units=16, pred_embed=8, pred_units=16, joint_dim=16)
TEXTS = ["a cat", "the dog ran", "hello there", "go now", "we are here", "i see"]


class _Data:
    """In-memory stand-in for SpeechDataset (same batches/collate/feats/texts interface)."""

    def __init__(self, n=6, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.texts = [TEXTS[i % len(TEXTS)] for i in range(n)]
        self.feats = [torch.randn(40 + 8 * i, TINY.features.dim, generator=g) for i in range(n)]
        self.tokens = [torch.tensor(encode(t)) for t in self.texts]

    def batches(self, batch_frames, seed=0, epoch=0, shuffle=True):
        return [[0, 1, 2], [3, 4, 5]]

    def collate(self, idx):
        feats = torch.nn.utils.rnn.pad_sequence([self.feats[i] for i in idx], batch_first=True)
        toks = torch.nn.utils.rnn.pad_sequence([self.tokens[i] for i in idx], batch_first=True)
        return (feats, torch.tensor([self.feats[i].shape[0] for i in idx]), toks,
                torch.tensor([len(self.tokens[i]) for i in idx]))


@pytest.mark.parametrize("recipe", ["recipes/int4.yaml", "recipes/int4_naive.yaml"])
def test_tiny_qat_fine_tunes_weights_and_clips_and_reloads(recipe, tmp_path):
    torch.manual_seed(0)
    fp32 = Transducer(TINY)
    data = _Data()
    cfg = QATConfig(steps=4, lr=1e-3, warmup_steps=1, calib_batches=2, log_every=2)
    q = prepare_calibrated(fp32, load_recipe(recipe), data, cfg)
    before = {k: v.clone() for k, v in q.state_dict().items()}
    lines = []
    finetune(q, data, cfg, log=lines.append)
    assert any("qat step 4/4" in line for line in lines)
    after = q.state_dict()
    assert not torch.equal(before["joiner.out.weight"], after["joiner.out.weight"])
    if recipe.endswith("int4.yaml"):
        hi = "encoder.layers.0.input_q.0.hi"  # PACT2 clip of the features: calibrated, then learned
        assert float(before[hi]) > 0.5 and not torch.equal(before[hi], after[hi])
    save_qat(q, TINY, load_recipe(recipe), tmp_path / "m")
    back, cfg_back, rec_back = load_qat(tmp_path / "m")
    feats, lens, toks, _ = data.collate([0, 1])
    with torch.no_grad():
        assert torch.equal(back(feats, lens, toks)[0], q.eval()(feats, lens, toks)[0])
    assert cfg_back == TINY and rec_back.name == load_recipe(recipe).name


def _mini_corpus(root):
    rng = np.random.default_rng(0)
    for split in ("source_train", "source_dev", "source_test", "target_test"):
        lines = []
        for i, text in enumerate(TEXTS[:4]):
            rel = f"audio/{split}_{i}.wav"
            write_wav(root / rel, 0.1 * rng.standard_normal(8000 + 1600 * i))
            lines.append(json.dumps({"audio_filepath": rel, "duration": 0.5 + 0.1 * i, "text": text}))
        (root / f"{split}.jsonl").write_text("\n".join(lines) + "\n")


def test_asr_qat_and_asr_export_commands(tmp_path, capsys):
    torch.manual_seed(0)
    _mini_corpus(tmp_path / "corpus")
    save_model(Transducer(TINY), TINY, tmp_path / "fp32")
    out = tmp_path / "qat"
    rc = main(["qat", "--from", str(tmp_path / "fp32"), "--recipe", "recipes/int4.yaml", "--data",
               str(tmp_path / "corpus"), "--out", str(out), "--steps", "2", "--batch-frames", "400",
               "--calib-batches", "1"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "fp32" in printed and "qat" in printed and "source_test" in printed and "target_test" in printed
    res = json.loads((out / "results.json").read_text())
    for stage in ("fp32", "calibrated", "qat"):
        assert set(res[stage]) == {"source_dev", "source_test", "target_test"}
    assert 6.5 < res["compression"]["ratio"] < 8.0
    assert main(["export", "--from", str(out), "--out", str(tmp_path / "packed")]) == 0
    printed = capsys.readouterr().out
    assert "compression" in printed and "int4 weight codes" in printed and "int8 weight codes" in printed
    assert (tmp_path / "packed" / "model.packed.safetensors").is_file()


def test_cli_errors_are_one_paragraph_with_exit_2(tmp_path, capsys):
    assert main(["qat", "--from", str(tmp_path), "--recipe", "recipes/int4.yaml", "--data", str(tmp_path),
                 "--out", str(tmp_path / "o")]) == 2
    assert "no model.safetensors here" in capsys.readouterr().err
    assert main(["export", "--from", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "not a QAT output folder" in capsys.readouterr().err
    (tmp_path / "r.yaml").write_text("name: x\n")
    assert main(["qat", "--from", str(tmp_path), "--recipe", str(tmp_path / "r.yaml"), "--data", str(tmp_path),
                 "--out", str(tmp_path / "o")]) == 2
    assert "precision" in capsys.readouterr().err
