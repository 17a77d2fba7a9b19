"""Packed exports load and run the integer path; eval, qat scoring and decode --beam 1 are one path."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from asr.cli import main
from asr.errors import ConfigError
from asr.lm.model import CharLSTMLM, LMConfig
from asr.model import ModelConfig, Transducer
from asr.quant import load_recipe
from asr.quant.integer import ActQ, IntLSTM, IntWeight, float_accumulation_exact, qmatmul
from asr.quant.pack import PACKED_FILE, build_export, load_packed, write_packed
from asr.quant.prepare import calibration, convert, prepare
from asr.search.scorer import LSTMCellScorer, RecurrentScorer, lm_scorer, prediction_scorer
from asr.search.setup import PROJECT_ROOT, default_lm_dir, load_acoustic

ROOT = Path(__file__).resolve().parents[1]
TINY = ModelConfig(enc_layers=2, enc_units=16, pred_embed=8, pred_units=16, joint_dim=16, enc_dropout=0.0,
                   pred_dropout=0.0)
TARGET_TEST = ROOT / "data/corpus/target_test.jsonl"


def _int_model(recipe: str = "recipes/int4.yaml"):
    torch.manual_seed(0)
    q = prepare(Transducer(TINY).eval(), load_recipe(ROOT / recipe))
    feats, lens, toks = torch.randn(2, 48, TINY.features.dim), torch.tensor([48, 40]), torch.randint(1, 29, (2, 5))
    with torch.no_grad(), calibration(q):
        q(feats, lens, toks)
    return q.eval(), (feats, lens, toks)


@pytest.mark.parametrize("recipe", ["recipes/int4.yaml", "recipes/int8.yaml", "recipes/int4_naive.yaml"])
def test_packed_export_loads_back_as_the_same_integer_model(tmp_path, recipe):
    """load_packed rebuilds the integer model from the file alone: re-exporting it gives the same tensors, and
    its logits equal those of the exported integer model with its scales and biases rounded to FP16 as stored."""
    q, (feats, lens, toks) = _int_model(recipe)
    imodel = convert(q, "int")
    tensors, layout, _ = build_export(imodel, Transducer(TINY).num_params())
    (tmp_path / "config.yaml").write_text(__import__("yaml").safe_dump(TINY.to_dict()))
    (tmp_path / "recipe.yaml").write_text(__import__("yaml").safe_dump(load_recipe(ROOT / recipe).to_dict()))
    write_packed(tmp_path / PACKED_FILE, tensors, layout, {"recipe": load_recipe(ROOT / recipe).name})
    back, cfg, rec = load_packed(tmp_path)
    assert any(isinstance(m, IntLSTM) for m in back.modules())
    again, layout2, _ = build_export(back, Transducer(TINY).num_params())
    assert layout2 == layout and set(again) == set(tensors)
    for k in tensors:
        assert torch.equal(again[k], tensors[k]), k
    rounded = convert(q, "int")
    h = lambda t: t.half().float()  # noqa: E731
    for mod in rounded.modules():
        if isinstance(mod, IntWeight) and mod.is_int:
            mod.scale = h(mod.scale)
        if isinstance(mod, IntLSTM):
            for key in mod.w_ih:
                if getattr(mod, f"bias_{key}") is not None:
                    setattr(mod, f"bias_{key}", h(getattr(mod, f"bias_{key}")))
            mod.act_in = [_half_act(a) for a in mod.act_in]
            mod.act_h = [_half_act(a) for a in mod.act_h]
        elif hasattr(mod, "act") and isinstance(getattr(mod, "act"), ActQ):
            mod.act = _half_act(mod.act)
            if mod.bias is not None:
                mod.bias = h(mod.bias)
    with torch.no_grad():
        a, b = rounded(feats, lens, toks)[0], back(feats, lens, toks)[0]
    assert torch.allclose(a, b, atol=1e-5)


def _half_act(a):
    if a is None or a.fmt is not None:
        return a
    return replace(a, scale=float(torch.tensor(a.scale).half()), zero=float(torch.tensor(a.zero).half()))


def test_packed_folder_errors_name_the_file(tmp_path):
    q, _ = _int_model()
    tensors, layout, _ = build_export(convert(q, "int"), Transducer(TINY).num_params())
    key = next(k for k in tensors if k.endswith(".codes"))
    del tensors[key]
    import yaml

    (tmp_path / "config.yaml").write_text(yaml.safe_dump(TINY.to_dict()))
    (tmp_path / "recipe.yaml").write_text(yaml.safe_dump(load_recipe(ROOT / "recipes/int4.yaml").to_dict()))
    write_packed(tmp_path / PACKED_FILE, tensors, layout, {"recipe": "int4"})
    from asr.errors import CheckpointError

    with pytest.raises(CheckpointError, match=str(tmp_path / PACKED_FILE)):
        load_packed(tmp_path)


@pytest.mark.parametrize("bits,k", [(4, 1280), (8, 320)])
def test_float32_accumulation_is_bit_exact_with_int32(bits, k):
    """Where K * max|q_x| * max|q_w| <= 2^24 the float32 matmul of integer codes equals int32 accumulation."""
    g = torch.Generator().manual_seed(bits)
    qmax = (1 << (bits - 1)) - 1
    w = IntWeight.__new__(IntWeight)
    torch.nn.Module.__init__(w)
    w.is_int, w.bits, w.symmetric, w.per_channel = True, bits, True, True
    w.register_buffer("codes", torch.randint(-qmax, qmax + 1, (48, k), generator=g).to(torch.int8))
    w.register_buffer("scale", torch.rand(48, 1, generator=g) + 0.01)
    w.register_buffer("zero", torch.zeros(48, 1, dtype=torch.int32))
    act = ActQ(scale=0.05, zero=0.0, bits=bits, symmetric=True)
    assert float_accumulation_exact(k, act, w)
    x = torch.randn(7, k, generator=g) * 0.05 * qmax
    exact = (act.codes(x) @ w.centered().t()).float() * (act.scale * w.scale.t())
    assert torch.equal(qmatmul(x, act, w), exact)
    assert not float_accumulation_exact(1 << 16, ActQ(scale=1.0, bits=8), w)  # too long: int32 path


def test_cell_scorers_equal_the_module_step():
    """The fused LSTM cell scorers give the module's own step outputs and states (float rounding)."""
    torch.manual_seed(0)
    model = Transducer(TINY).eval()
    lm = CharLSTMLM(LMConfig(embed=8, hidden=16, layers=2)).eval()
    pairs = [(prediction_scorer(model), RecurrentScorer(model.predictor.step, 1, model.predictor.units, "prediction",
                                                        head=model.joiner.project_pred)),
             (lm_scorer(lm, "lm_target"), RecurrentScorer(lm.step, 2, 16, "lm_target"))]
    tokens = torch.tensor([0, 3, 7, 28])
    for fast, ref in pairs:
        assert isinstance(fast, LSTMCellScorer)
        state = tuple(torch.randn_like(s) for s in ref.initial_state(4))
        with torch.no_grad():
            (a, sa), (b, sb) = fast.step(tokens, state), ref.step(tokens, state)
        assert torch.allclose(a, b, atol=1e-5) and all(torch.allclose(x, y, atol=1e-5) for x, y in zip(sa, sb))
    q = prepare(model, load_recipe(ROOT / "recipes/int4.yaml"))
    assert isinstance(prediction_scorer(q), RecurrentScorer)  # quantized models run as they are


def test_default_lms_do_not_depend_on_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert default_lm_dir("target") == PROJECT_ROOT / "models/lm_target"
    assert default_lm_dir("source", PROJECT_ROOT / "models/small_int4", load_recipe(ROOT / "recipes/int4.yaml")) == \
        PROJECT_ROOT / "models/lm_source/int4"
    (tmp_path / "mine" / "lm_target").mkdir(parents=True)
    (tmp_path / "mine" / "lm_target" / "lm.json").write_text("{}")
    assert default_lm_dir("target", tmp_path / "mine" / "am") == tmp_path / "mine" / "lm_target"
    with pytest.raises(ConfigError, match="--lm-target"):
        default_lm_dir("target", tmp_path / "mine" / "am", replace(load_recipe(ROOT / "recipes/int8.yaml"), name="int3"))


@pytest.mark.skipif(not TARGET_TEST.is_file(), reason="needs the project corpus (data/corpus)")
def test_shipped_int4_export_eval_and_decode_beam1_agree(tmp_path, monkeypatch, capsys):
    """models/small_int4 loads in `asr eval` and `asr decode` (integer path, from another folder) and both give
    the same hypotheses: greedy is one path (float32 features, ALSD beam 1). The old disagreement came from the
    float16 features of the training dataset's cache."""
    model, _, recipe = load_acoustic(ROOT / "models/small_int4")
    assert recipe.name == "int4" and any(isinstance(m, IntLSTM) for m in model.modules())
    monkeypatch.chdir(tmp_path)
    assert main(["eval", "--model", str(ROOT / "models/small_int4"), str(TARGET_TEST), "--limit", "3", "--threads",
                 "1", "--out", "ev.json", "--no-progress"]) == 0
    assert main(["decode", "--ckpt", str(ROOT / "models/small_int4"), "--manifest", str(TARGET_TEST), "--beam", "1",
                 "--limit", "3", "--out", "dec.json", "--no-progress", "--fusion", "shallow"]) == 0
    assert "CER" in capsys.readouterr().out  # and the default INT4 LM was found from another folder
    assert main(["decode", "--ckpt", str(ROOT / "models/small_int4"), "--manifest", str(TARGET_TEST), "--beam", "1",
                 "--limit", "3", "--out", "dec0.json", "--no-progress"]) == 0
    ev = json.loads(Path("ev.json").read_text())["results"][str(TARGET_TEST)]["hyps"]
    dec = json.loads(Path("dec0.json").read_text())["utterances"]
    assert [h["hyp"] for h in ev] == [u["hyp"] for u in dec]
    assert json.loads(Path("dec.json").read_text())["summary"]["lms"]["lm_target"]["integer"] is True


def test_qat_test_sets_take_paths(tmp_path):
    from asr.cli.qat import test_set_paths
    from asr.errors import DataError

    (tmp_path / "a.jsonl").write_text("")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "target_test.jsonl").write_text("")
    got = test_set_paths(tmp_path / "data", [str(tmp_path / "a.jsonl"), "target_test"])
    assert got == {"a": tmp_path / "a.jsonl", "target_test": tmp_path / "data" / "target_test.jsonl"}
    with pytest.raises(DataError, match="not found"):
        test_set_paths(tmp_path / "data", ["missing"])


def test_shipped_workloads_carry_a_measured_wer_per_precision():
    """Every real shipped workload records the FP32, INT8 and INT4 decodes' WER on its own utterances (the FP32
    one is the decode it was traced from), and an arch is paired with its own precision's WER."""
    from accelsim.trace.format import AccuracyMeta
    from accelsim.trace.io import load_workload

    for wl in sorted((ROOT / "workloads").iterdir()):
        acc = load_workload(wl).meta.accuracy
        assert acc is not None and set(acc.wer_by_precision) == {"fp32", "int8", "int4"}, wl
        assert acc.wer_by_precision["fp32"] == acc.wer_percent and "espeak-ng" in acc.speech
    old = AccuracyMeta(wer_percent=7.0, test_set="t")  # older workloads: no map, the float WER everywhere
    assert old.wer_for("int4") == (7.0, "fp32")
    new = AccuracyMeta(wer_percent=7.0, test_set="t", wer_by_precision={"fp32": 7.0, "int4": 9.0})
    assert new.wer_for("int4") == (9.0, "int4") and new.wer_for("fp16") == (7.0, "fp32")
