"""Model API (contract with quantization and search), configs, save/load, batched decoding."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from asr.errors import CheckpointError, ConfigError
from asr.model import ModelConfig, Transducer, load_model, param_breakdown, save_model
from asr.train import greedy_decode

torch.set_num_threads(1)
CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def tiny(**model) -> ModelConfig:
    base = ModelConfig.from_yaml(CONFIGS / "tiny.yaml")
    return ModelConfig.from_dict({"features": base.to_dict()["features"], "model": {**base.to_dict()["model"], **model}})


def test_module_layout_is_the_documented_contract():
    cfg = tiny(enc_layers=2)
    m = Transducer(cfg)
    assert isinstance(m.encoder.layers, nn.ModuleList) and len(m.encoder.layers) == 2
    for layer in m.encoder.layers:
        assert isinstance(layer, nn.LSTM) and layer.bidirectional and layer.batch_first and layer.num_layers == 1
    assert isinstance(m.predictor.embedding, nn.Embedding) and isinstance(m.predictor.lstm, nn.LSTM)
    for name in ("enc_proj", "pred_proj", "out"):
        assert isinstance(getattr(m.joiner, name), nn.Linear)


@pytest.mark.parametrize("combine", ["additive", "multiplicative"])
def test_shapes(combine):
    cfg = tiny(combine=combine)
    m = Transducer(cfg).eval()
    feats, lens = torch.randn(3, 50, cfg.features.dim), torch.tensor([50, 41, 9])
    enc, enc_lens = m.encoder(feats, lens)
    assert enc.shape == (3, 12, cfg.enc_dim) and enc_lens.tolist() == [12, 10, 2]
    tokens = torch.randint(1, cfg.vocab_size, (3, 7))
    pred, (h, c) = m.predictor(tokens)
    assert pred.shape == (3, 7, cfg.pred_units) and h.shape == c.shape == (1, 3, cfg.pred_units)
    logits, _ = m(feats, lens, tokens)
    assert logits.shape == (3, 12, 8, cfg.vocab_size)
    one = m.joiner.joint(m.joiner.project_enc(enc[:, 3]), m.joiner.project_pred(pred[:, 2]))
    torch.testing.assert_close(one, m.joiner(enc, pred)[:, 3, 2])


def test_predictor_step_equals_forward():
    m = Transducer(tiny()).eval()
    tokens = torch.randint(0, 29, (2, 5))
    full, _ = m.predictor(tokens)
    state = None
    for u in range(5):
        out, state = m.predictor.step(tokens[:, u], state)
        torch.testing.assert_close(out, full[:, u])


def test_padding_does_not_leak_into_the_backward_direction():
    m = Transducer(tiny()).eval()
    a = torch.randn(1, 40, 40)
    padded = torch.cat([a, torch.randn(1, 24, 40)], dim=1)
    enc_a, _ = m.encoder(a, torch.tensor([40]))
    enc_p, lens = m.encoder(torch.cat([padded, torch.randn(1, 64, 40)]), torch.tensor([40, 64]))
    torch.testing.assert_close(enc_p[0, : lens[0]], enc_a[0])


def test_batched_greedy_equals_one_by_one():
    torch.manual_seed(0)
    m = Transducer(tiny())
    with torch.no_grad():
        m.joiner.out.bias[0] -= 2.0  # emit some non-blanks from an untrained model
    feats = torch.randn(3, 60, 40)
    lens = torch.tensor([60, 33, 48])
    batched = greedy_decode(m, feats, lens)
    single = [greedy_decode(m, feats[i : i + 1, : lens[i]], lens[i : i + 1])[0] for i in range(3)]
    assert batched == single and any(batched)


def test_save_load_round_trip(tmp_path):
    cfg = tiny(combine="multiplicative")
    m = Transducer(cfg).eval()
    save_model(m, cfg, tmp_path / "m")
    m2, cfg2 = load_model(tmp_path / "m")
    assert cfg2 == cfg and not m2.training
    x, lens, y = torch.randn(2, 30, 40), torch.tensor([30, 20]), torch.randint(1, 29, (2, 4))
    torch.testing.assert_close(m(x, lens, y)[0], m2(x, lens, y)[0])


def test_corrupt_or_mismatched_checkpoint_messages(tmp_path):
    cfg = tiny()
    save_model(Transducer(cfg), cfg, tmp_path / "m")
    (tmp_path / "m" / "model.safetensors").write_bytes(b"\x00\x01garbage")
    with pytest.raises(CheckpointError, match="model.safetensors: corrupt or not a safetensors file"):
        load_model(tmp_path / "m")
    save_model(Transducer(tiny(enc_units=32)), tiny(enc_units=32), tmp_path / "other")
    (tmp_path / "m" / "model.safetensors").write_bytes((tmp_path / "other" / "model.safetensors").read_bytes())
    with pytest.raises(CheckpointError, match="weights do not match the config: shape mismatch encoder.layers.0"):
        load_model(tmp_path / "m")
    with pytest.raises(CheckpointError, match="model folder not found"):
        load_model(tmp_path / "absent")


def test_config_errors_list_every_problem(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("model:\n  enc_layer: 3\n  joint_dim: 0\n")
    with pytest.raises(ConfigError, match=r"unknown key 'enc_layer' \(did you mean 'enc_layers'\?\)"):
        ModelConfig.from_yaml(p)
    p.write_text("model:\n  joint_dim: 0\n  combine: concat\n")
    with pytest.raises(ConfigError, match="joint_dim = 0: must be > 0; combine = 'concat': must be one of additive"):
        ModelConfig.from_yaml(p)
    p.write_text("model:\n  stack: 2.5\n")
    with pytest.raises(ConfigError, match="stack = 2.5: expected an integer"):
        ModelConfig.from_yaml(p)
    p.write_text("modle: {}\n")
    with pytest.raises(ConfigError, match="unknown section"):
        ModelConfig.from_yaml(p)


def test_paper_config_has_about_57m_parameters():
    m = Transducer(ModelConfig.from_yaml(CONFIGS / "paper.yaml"))
    assert 56e6 < m.num_params() < 58.5e6
    parts = param_breakdown(m)
    assert sum(parts.values()) == m.num_params() and parts["encoder"] > 50e6


def test_the_small_fine_tuning_stage_keeps_the_small_architecture():
    assert ModelConfig.from_yaml(CONFIGS / "small_ft.yaml") == ModelConfig.from_yaml(CONFIGS / "small.yaml")
    for stage in ("multi.yaml", "multi_ft.yaml", "multi_kokoro.yaml"):  # models/multi: warm starts, one architecture
        assert ModelConfig.from_yaml(CONFIGS / stage) == ModelConfig.from_yaml(CONFIGS / "small.yaml")
    assert ModelConfig.from_yaml(CONFIGS / "small.yaml") == load_model(CONFIGS.parent / "models" / "small")[1]


def test_half_precision_file_loads_into_float32(tmp_path):
    cfg = tiny()
    m = Transducer(cfg).eval()
    save_model(m, cfg, tmp_path / "h", half=True)
    m2, _ = load_model(tmp_path / "h")
    assert all(p.dtype == torch.float32 for p in m2.parameters())
    for (name, a), (_, b) in zip(m.state_dict().items(), m2.state_dict().items()):
        torch.testing.assert_close(a, b, atol=1e-3, rtol=1e-3, msg=name)
