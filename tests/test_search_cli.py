"""`asr decode`, `asr tune-fusion`, `asr trace` end to end on a tiny model, and their bad-input messages."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from accelsim.trace.io import load_workload
from asr.cli import main
from asr.data.manifest import Utterance, write_manifest, write_wav
from asr.features import FeatureConfig
from asr.lm.model import CharLSTMLM, LMConfig, save_lm
from asr.model import ModelConfig, Transducer, save_model

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    torch.manual_seed(0)
    cfg = ModelConfig(features=FeatureConfig(n_mels=8), stack=2, enc_layers=1, enc_units=8, pred_embed=4,
                      pred_units=8, joint_dim=8)
    model = Transducer(cfg)
    with torch.no_grad():
        model.joiner.out.bias[0] += 1.0
    save_model(model, cfg, root / "model")
    save_lm(CharLSTMLM(LMConfig(embed=4, hidden=8)), root / "lm_t", meta={"dev_ppl": 9.0})
    save_lm(CharLSTMLM(LMConfig(embed=4, hidden=8)), root / "lm_s")
    rng = np.random.default_rng(0)
    utts = []
    for i, text in enumerate(["in the beginning", "and the earth"]):
        wav = root / f"{i}.wav"
        write_wav(wav, (0.1 * rng.standard_normal(8000 + 1600 * i)).astype(np.float32))
        utts.append(Utterance(wav, (8000 + 1600 * i) / 16000, text))
    write_manifest(root / "m.jsonl", utts)
    common = ["--ckpt", str(root / "model"), "--lm-target", str(root / "lm_t"), "--lm-source", str(root / "lm_s"),
              "--manifest", str(root / "m.jsonl")]
    return root, common


def test_decode_writes_wer_and_hypotheses(setup, capsys):
    root, common = setup
    out = root / "dec.json"
    assert main(["decode", *common, "--beam", "3", "--fusion", "dr", "--out", str(out)]) == 0
    assert "WER" in capsys.readouterr().out
    doc = json.loads(out.read_text())
    assert doc["summary"]["utterances"] == 2 and doc["summary"]["fusion_weights"]["mu"] == 0.3
    assert len(doc["utterances"]) == 2 and doc["summary"]["lms"]["lm_target"]["dev_ppl"] == 9.0


def test_tune_fusion_then_decode_with_its_weights(setup, capsys):
    root, common = setup
    out = root / "tuned.json"
    assert main(["tune-fusion", *common, "--beam", "2", "--lambda-values", "0.1,0.9", "--mu-values", "0.2",
                 "--rho-values", "0,1", "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert len(doc["trials"]) == 4 and set(doc["best"]) == {"lambda", "mu", "rho", "wer_percent"}
    assert main(["decode", *common, "--fusion", "dr", "--weights", str(out), "--beam", "2"]) == 0
    assert f"'lambda': {doc['best']['lambda']}" in capsys.readouterr().out
    assert main(["tune-fusion", *common, "--method", "random", "--trials", "2", "--beam", "1",
                 "--out", str(root / "r.json")]) == 0
    assert len(json.loads((root / "r.json").read_text())["trials"]) == 2


@pytest.mark.parametrize("scale", ["model", "paper"])
def test_trace_writes_a_loadable_workload(setup, scale):
    root, common = setup
    out = root / f"wl_{scale}"
    assert main(["trace", *common, "--beam", "4", "--fusion", "dr", "--scale", scale, "--out", str(out)]) == 0
    wl = load_workload(out)
    assert wl.meta.audio.utterances == 2 and wl.meta.search.beam == 4 and wl.meta.search.fusion == "dr"
    assert wl.meta.provenance.command.startswith("asr trace")
    assert wl.meta.accuracy is not None
    width = wl.meta.weights["encoder.l0.fwd.w_hh"].shape[0]
    assert width == (640 if scale == "paper" else 8)
    assert ("re-emission" in wl.meta.description) == (scale == "paper")


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--beam", "65"], r"--beam/--algorithm: beam = 65: must be an integer in 1\.\.64"),
        (["--ckpt", "/nonexistent"], r"/nonexistent: no model folder there"),
        (["--fusion", "dr", "--lm-target", "/nope"], r"/nope: not a language-model directory"),
        (["--fusion", "dr", "--weights", "/nope.json"], r"/nope\.json: fusion weights file not found"),
        (["--fusion", "dr", "--recipe", "recipes/int4.yaml"], r"float model, but --recipe recipes/int4\.yaml"),
        (["--manifest", "/nope.jsonl"], r"/nope\.jsonl: manifest not found"),
    ],
)
def test_bad_input_is_one_paragraph_exit_2(setup, capsys, extra, message):
    import re

    _, common = setup
    assert main(["decode", *common, *extra]) == 2
    err = capsys.readouterr().err
    assert re.search(message, err), err
    assert "Traceback" not in err


def test_int4_system_decodes_with_qat_checkpoints(setup, capsys):
    """A recipe-prepared acoustic model and QAT LMs load through --recipe and decode with DR fusion."""
    from asr.lm.model import load_lm
    from asr.model import load_model
    from asr.quant.prepare import prepare

    root, common = setup
    model, cfg = load_model(root / "model")
    from asr.quant.io import save_qat
    from asr.quant.recipe import load_recipe

    qmodel = prepare(model, "recipes/int4.yaml")
    save_qat(qmodel, cfg, load_recipe("recipes/int4.yaml"), root / "model_int4")
    text = root / "text.txt"
    text.write_text("in the beginning\nand the earth\n" * 10)
    for name in ("lm_t", "lm_s"):
        assert main(["lm", "train", "--text", str(text), "--init", str(root / name), "--recipe", "recipes/int4.yaml",
                     "--out", str(root / f"{name}_int4"), "--steps", "2", "--eval-every", "1"]) == 0
        lm, meta = load_lm(root / f"{name}_int4")
        assert meta["recipe"]["name"] == "int4" and type(lm.lstm).__name__ == "QuantLSTM"
    capsys.readouterr()
    args = ["decode", "--ckpt", str(root / "model_int4"), "--recipe", "recipes/int4.yaml", "--manifest",
            str(root / "m.jsonl"), "--lm-target", str(root / "lm_t_int4"), "--lm-source", str(root / "lm_s_int4"),
            "--fusion", "dr", "--beam", "2"]
    assert main(args) == 0, capsys.readouterr().err
    assert main(["decode", "--ckpt", str(root / "model"), *args[5:]]) == 2  # quantized LMs, float model: refused
    assert "quantized with recipe 'int4'" in capsys.readouterr().err


def test_checkpoint_paths_follow_latest_files(setup, tmp_path):
    from asr.errors import CheckpointError
    from asr.search.setup import resolve_ckpt

    root, _ = setup
    run = tmp_path / "run"
    run.mkdir()
    (run / "LATEST").write_text(str(root / "model"))
    assert resolve_ckpt(run) == root / "model"
    import os

    (tmp_path / "pointer").write_text(os.path.relpath(root / "model", tmp_path) + "\n")  # relative to its folder
    assert resolve_ckpt(tmp_path / "pointer").resolve() == (root / "model").resolve()
    with pytest.raises(CheckpointError, match=r"no model folder there"):
        resolve_ckpt(tmp_path)
