"""Recipes: the shipped ones load and agree with the trace precision classes; bad ones fail with clear messages;
``prepare`` swaps modules by kind and path on any model (RNN-T, character LM)."""

from pathlib import Path

import pytest
import torch
import yaml
from torch import nn

from accelsim.trace.format import PRECISION_CLASSES
from asr.errors import ConfigError
from asr.lm.model import CharLSTMLM, LMConfig
from asr.model import ModelConfig, Transducer
from asr.quant import QuantEmbedding, QuantLinear, QuantLSTM, convert, load_recipe, parse_recipe, prepare
from asr.quant.config import IntQuantConfig

torch.set_num_threads(1)
RECIPES = sorted(Path("recipes").glob("*.yaml"))


def _minimal(**over):
    doc = {"name": "t", "precision": {c: "int4" for c in PRECISION_CLASSES} | {"nonlinear": "fp16"},
           "rules": [{"match": "*", "kind": "linear", "weight": {"method": "sawb", "bits": 4}}]}
    doc.update(over)
    return doc


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_shipped_recipes_load_and_state_every_precision_class(path):
    recipe = load_recipe(path)
    assert set(recipe.precision) == set(PRECISION_CLASSES)
    if set(recipe.precision.values()) == {"fp32"}:  # the FP32 control of docs/results-quant.md
        lm = prepare(CharLSTMLM(LMConfig(embed=8, hidden=16, layers=1)), recipe)
        assert not any(isinstance(m, (QuantLinear, QuantLSTM, QuantEmbedding)) for m in lm.modules())
    else:  # quantizing recipes keep the nonlinear functions and the softmax in FP16, as the paper does
        assert recipe.precision["nonlinear"] == "fp16" and recipe.precision["softmax"] == "fp16"
    again = parse_recipe(yaml.safe_load(yaml.safe_dump(recipe.to_dict())), "dump")
    assert again == recipe  # load -> dump -> load identity


def test_the_three_required_recipes_exist_and_differ_where_they_should():
    names = {p.stem for p in RECIPES}
    assert {"int8", "int4", "int4_naive"} <= names
    int4, naive = load_recipe("recipes/int4.yaml"), load_recipe("recipes/int4_naive.yaml")
    assert int4.matmul_pclass("encoder.layers.0", "lstm", "input") == "matmul_wide"
    assert int4.matmul_pclass("encoder.layers.0", "lstm", "hidden") == "matmul"
    assert int4.matmul_pclass("encoder.layers.2", "lstm", "input") == "matmul"
    assert int4.rule_for("encoder.layers.1", "lstm").hidden == IntQuantConfig(method="fixed", bits=4, clip=1.0)
    methods = {getattr(r, k).method for r in naive.rules for k in ("weight", "input", "hidden") if getattr(r, k, None)}
    assert methods == {"minmax"}


def test_first_matching_rule_wins_and_unmatched_modules_stay_float():
    doc = _minimal(rules=[
        {"match": "a", "kind": "linear", "weight": {"method": "sawb", "bits": 8}},
        {"match": ["a", "b"], "kind": "linear", "weight": {"method": "sawb", "bits": 4}},
    ])
    recipe = parse_recipe(doc | {"precision": {c: "int8" for c in PRECISION_CLASSES}}, "t.yaml")
    net = nn.Module()
    net.a, net.b, net.c = nn.Linear(2, 2), nn.Linear(2, 2), nn.Linear(2, 2)
    q = prepare(net, recipe)
    assert q.a.weight_cfg.bits == 8 and q.b.weight_cfg.bits == 4
    assert type(q.c) is nn.Linear
    assert isinstance(net.a, nn.Linear)  # prepare copies unless inplace


def test_prepare_quantizes_the_character_lm_and_the_rnnt():
    lm = prepare(CharLSTMLM(LMConfig(embed=8, hidden=16, layers=2)), load_recipe("recipes/int4.yaml"))
    assert isinstance(lm.embedding, QuantEmbedding) and isinstance(lm.lstm, QuantLSTM)
    assert isinstance(lm.output, QuantLinear) and lm.output.wide and lm.output.weight_cfg.bits == 8
    assert lm.lstm.input_q[1].cfg.method == "fixed"  # layer 2 reads layer 1's bounded outputs
    logits, _ = lm(torch.randint(0, 29, (2, 7)))
    assert logits.shape == (2, 7, 29)
    rnnt = prepare(Transducer(ModelConfig(enc_layers=2, enc_units=8, pred_embed=4, pred_units=8, joint_dim=8)),
                   "recipes/int4.yaml")
    kinds = {type(m).__name__ for m in rnnt.modules()}
    assert {"QuantLSTM", "QuantLinear", "QuantEmbedding"} <= kinds and "LSTM" not in kinds and "Linear" not in kinds
    back = convert(rnnt, "float")
    assert {type(m).__name__ for m in back.modules()} >= {"LSTM", "Linear", "Embedding"}


@pytest.mark.parametrize("doc, message", [
    (_minimal(precison={}), "unknown key 'precison'; did you mean 'precision'"),
    (_minimal(precision={"matmul": "int4"}), r"precision\.matmul_wide: required"),
    (_minimal(precision={c: "int3" for c in PRECISION_CLASSES}), r"precision\.matmul = 'int3': must be one of"),
    (_minimal(rules=[]), "rules: required"),
    (_minimal(rules=[{"match": "*", "kind": "conv"}]), r"rules\[0\]\.kind = 'conv': must be one of lstm"),
    (_minimal(rules=[{"match": "*", "kind": "linear", "hidden": {"method": "fixed", "clip": 1.0}}]),
     r"rules\[0\]\.hidden: a linear has no hidden activation"),
    (_minimal(rules=[{"match": "*", "kind": "linear", "weight": {"method": "sawb", "bits": 8}}]),
     r"rules\[0\]\.weight: int8 is wider than precision\.matmul = int4"),
    (_minimal(rules=[{"match": "*", "kind": "lstm", "wide": ["output"]}]), r"wide = \['output'\]"),
    (_minimal(rules=[{"kind": "lstm"}]), r"rules\[0\]\.match: required"),
])
def test_bad_recipes_are_rejected_with_file_and_key(doc, message):
    with pytest.raises(ConfigError, match=message) as info:
        parse_recipe(doc, "recipes/bad.yaml")
    assert "recipes/bad.yaml" in str(info.value)


def test_every_problem_is_reported_at_once_and_duplicate_keys_are_refused(tmp_path):
    doc = _minimal(precison={}, rules=[{"match": "*", "kind": "conv"}])
    with pytest.raises(ConfigError) as info:
        parse_recipe(doc, "x.yaml")
    assert "precison" in str(info.value) and "conv" in str(info.value)
    bad = tmp_path / "dup.yaml"
    bad.write_text("name: a\nname: b\n")
    with pytest.raises(ConfigError, match="duplicate key 'name'"):
        load_recipe(bad)
