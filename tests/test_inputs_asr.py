"""Issue 12 regressions, speech side: manifests checked against their audio, numeric flags, weights, results."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import pytest
import torch

from asr.cli import main
from asr.data.manifest import Utterance, read_audio, read_manifest, read_utterance_audio, write_manifest, write_wav
from asr.errors import CheckpointError, DataError
from asr.features import FeatureConfig
from asr.lm.model import CharLSTMLM, LMConfig, save_lm
from asr.model import ModelConfig, Transducer, save_model

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("asr_inputs")
    torch.manual_seed(0)
    cfg = ModelConfig(features=FeatureConfig(n_mels=8), stack=2, enc_layers=1, enc_units=8, pred_embed=4,
                      pred_units=8, joint_dim=8)
    model = Transducer(cfg)
    save_model(model, cfg, root / "model")
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(float("nan"))
    save_model(model, cfg, root / "nan_model")
    save_lm(CharLSTMLM(LMConfig(embed=4, hidden=8)), root / "lm_t")
    save_lm(CharLSTMLM(LMConfig(embed=4, hidden=8)), root / "lm_s")
    wav = root / "a.wav"
    write_wav(wav, (0.1 * np.random.default_rng(0).standard_normal(19200)).astype(np.float32))  # 1.2 s
    write_manifest(root / "m.jsonl", [Utterance(wav, 1.2, "in the beginning")])
    common = ["--ckpt", str(root / "model"), "--lm-target", str(root / "lm_t"), "--lm-source", str(root / "lm_s")]
    return root, common


def manifest_line(path: Path, **rec) -> Path:
    base = {"audio_filepath": "a.wav", "duration": 1.2, "text": "in the beginning"}
    base.update(rec)
    path.write_text(json.dumps(base) + "\n")
    return path


def decode(capsys, common, *extra) -> tuple[int, str]:
    try:
        code = main(["decode", *common, *extra])
    except SystemExit as exc:  # argparse refuses a bad flag value with exit 2
        code = exc.code
    cap = capsys.readouterr()
    return code, cap.out + cap.err


@pytest.mark.parametrize("value", ["Infinity", "NaN", "-1", "0", "true", "1e30", '"1.2"'])
def test_manifest_duration_must_be_finite_positive_seconds(setup, value):
    root, _ = setup
    m = root / "bad.jsonl"
    m.write_text('{"audio_filepath": "a.wav", "duration": %s, "text": "in the beginning"}\n' % value)
    with pytest.raises(DataError, match=r"bad.jsonl:1: key 'duration'"):
        read_manifest(m)


def test_manifest_duration_is_checked_against_the_audio(setup, capsys):
    root, common = setup
    m = manifest_line(root / "tiny.jsonl", duration=1e-9)
    code, out = decode(capsys, common, "--manifest", str(m), "--beam", "1")
    assert code == 2 and "a.wav" in out and "manifest says duration 1e-09 s but the audio lasts 1.200 s" in out
    ok = read_manifest(manifest_line(root / "close.jsonl", duration=1.23))[0]
    assert len(read_utterance_audio(ok)) == 19200  # within the tolerance


def test_non_utf8_manifest_exits_2(setup):
    root, _ = setup
    m = root / "latin.jsonl"
    m.write_bytes(b'{"audio_filepath": "a.wav", "duration": 1.2, "text": "caf\xe9"}\n')
    with pytest.raises(DataError, match="not a UTF-8 text file"):
        read_manifest(m)


@pytest.mark.parametrize("value", [None, 3, ["a.wav"]])
def test_manifest_audio_path_must_be_a_string(setup, value):
    root, _ = setup
    with pytest.raises(DataError, match="audio_filepath"):
        read_manifest(manifest_line(root / "p.jsonl", audio_filepath=value))


def test_truncated_wav_is_refused(setup, tmp_path):
    root, _ = setup
    data = (root / "a.wav").read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"truncated WAV file: its header declares 19200 samples"):
        read_audio(cut)
    odd = tmp_path / "odd.wav"
    with wave.open(str(odd), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\x00\x01" * 100)
    odd.write_bytes(odd.read_bytes() + b"\x07")  # a stray byte after the declared frames is harmless
    assert len(read_audio(odd)) == 100


@pytest.mark.parametrize("flag, value", [("--lambda", "nan"), ("--mu", "inf"), ("--rho", "-inf"),
                                         ("--lambda", "x")])
def test_fusion_flags_refuse_non_finite_values(setup, capsys, flag, value):
    root, common = setup
    code, out = decode(capsys, common, "--manifest", str(root / "m.jsonl"), "--fusion", "dr", flag, value)
    assert code == 2 and flag in out


def test_fusion_weights_file_with_nan_is_refused(setup, capsys):
    root, common = setup
    w = root / "w.json"
    w.write_text('{"best": {"lambda": NaN, "mu": 0.1, "rho": 0.5}}')
    code, out = decode(capsys, common, "--manifest", str(root / "m.jsonl"), "--fusion", "dr", "--weights", str(w))
    assert code == 2 and "lambda" in out and "finite" in out


def test_all_nan_weights_are_refused_at_load(setup, capsys):
    root, common = setup
    bad = ["--ckpt", str(root / "nan_model"), *common[2:]]
    code, out = decode(capsys, bad, "--manifest", str(root / "m.jsonl"), "--beam", "1")
    assert code == 2 and "nan_model" in out and "NaN or infinity" in out


def test_check_finite_parameters_names_the_tensor():
    from asr.validate import check_finite_parameters

    lin = torch.nn.Linear(2, 2)
    check_finite_parameters(lin, "ok")
    with torch.no_grad():
        lin.bias[0] = float("inf")
    with pytest.raises(CheckpointError, match=r"bias \(50% non-finite\)"):
        check_finite_parameters(lin, "lin")


def test_decode_result_check_refuses_impossible_numbers():
    from accelsim.errors import ResultError
    from asr.validate import check_decode_summary

    check_decode_summary({"wer_percent": 12.0, "rtf": 0.1}, "x")
    with pytest.raises(ResultError, match=r"rtf = inf"):
        check_decode_summary({"wer_percent": 12.0, "rtf": float("inf")}, "decode of m.jsonl")


def test_good_decode_still_runs(setup, capsys):
    root, common = setup
    code, out = decode(capsys, common, "--manifest", str(root / "m.jsonl"), "--beam", "2", "--lambda", "0.4",
                       "--fusion", "shallow")
    assert code == 0 and "WER" in out


def test_tune_fusion_grids_refuse_non_finite_values(setup, capsys):
    root, common = setup
    with pytest.raises(SystemExit) as exc:
        main(["tune-fusion", *common, "--manifest", str(root / "m.jsonl"), "--lambda-values", "0.1,nan",
              "--out", str(root / "t.json")])
    assert exc.value.code == 2 and "finite" in capsys.readouterr().err
