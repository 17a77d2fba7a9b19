"""Operator traces of real decodes: complete (ops = what the instrumented modules executed), deterministic,
loadable by accelsim, paper-scale re-emission keeps the structure, and shipped workloads simulate."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence

from accelsim.trace.io import load_workload
from asr.features import FeatureConfig
from asr.lm.model import CharLSTMLM, LMConfig
from asr.model import ModelConfig, Transducer
from asr.search.alsd import alsd
from asr.search.mbs import modified_beam_search
from asr.search.observer import CallLog
from asr.search.scorer import FusionWeights, build_fusion
from asr.search.step import SearchConfig
from asr.trace.dims import LMDims, dims_from_model_config
from asr.trace.record import UttRecord, build_trace, stretch_events, write_trace

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]


def tiny() -> tuple[Transducer, CharLSTMLM, CharLSTMLM]:
    torch.manual_seed(0)
    cfg = ModelConfig(features=FeatureConfig(n_mels=8), stack=2, enc_layers=2, enc_units=12, pred_embed=8,
                      pred_units=12, joint_dim=10, enc_dropout=0.0, pred_dropout=0.0)
    model = Transducer(cfg).eval()
    with torch.no_grad():
        model.joiner.out.weight.mul_(4.0)
        model.joiner.out.bias[0] += 0.5
    lms = CharLSTMLM(LMConfig(embed=8, hidden=16, layers=2)).eval(), CharLSTMLM(LMConfig(embed=6, hidden=10)).eval()
    return model, *lms


class OpCounter:
    """Forward hooks on every LSTM / Linear / Embedding: the matmuls and lookups they really execute."""

    def __init__(self) -> None:
        self.ops: Counter = Counter()  # (weight, m, k, n) -> count
        self.handles = []

    def attach(self, root: nn.Module, names: dict[str, str]) -> None:
        for path, mod in root.named_modules():
            if path in names:
                self.handles.append(mod.register_forward_hook(self._hook(names[path])))

    def _hook(self, prefix: str):
        def hook(mod, inputs, output):
            x = inputs[0]
            if isinstance(mod, nn.Linear):
                self.ops[(prefix, x.numel() // x.shape[-1], mod.in_features, mod.out_features)] += 1
            elif isinstance(mod, nn.Embedding):
                self.ops[(prefix, x.numel(), 0, mod.embedding_dim)] += 1
            else:  # nn.LSTM: input projection of all rows once, recurrent matmul once per time step
                if isinstance(x, PackedSequence):
                    rows, steps, batch = x.data.shape[0], int(x.batch_sizes.numel()), int(x.batch_sizes[0])
                else:
                    batch, steps = x.shape[0], x.shape[1]
                    rows = batch * steps
                h = mod.hidden_size
                dirs = ("fwd", "bwd") if mod.bidirectional else ("",)
                for layer in range(mod.num_layers):
                    ins = mod.input_size if layer == 0 else h * len(dirs)
                    for d in dirs:
                        name = f"{prefix}.l{layer}" if not d else f"{prefix}.{d}"
                        self.ops[(f"{name}.w_ih", rows, ins, 4 * h)] += 1
                        self.ops[(f"{name}.w_hh", batch, h, 4 * h)] += steps

        return hook

    def detach(self) -> None:
        for h in self.handles:
            h.remove()


def _record(model, lt, ls, algorithm: str, beam: int, seed: int = 0, frames: int = 30):
    feats = torch.randn(1, frames, model.cfg.features.dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        enc, lens = model.encoder(feats, torch.tensor([frames]))
        encp = model.joiner.project_enc(enc[0])
    log = CallLog()
    fusion = build_fusion(FusionWeights("dr", 0.5, 0.3, 0.4), lt, ls)
    search = alsd if algorithm == "alsd" else modified_beam_search
    search(model, encp, SearchConfig(beam=beam, algorithm=algorithm), fusion, observer=log)
    return UttRecord(encp.shape[0], frames / 100, tuple(log.events))


def _dims(model, lt, ls):
    lm = {"lm_target": LMDims(lt.cfg.embed, lt.cfg.hidden, lt.cfg.layers),
          "lm_source": LMDims(ls.cfg.embed, ls.cfg.hidden, ls.cfg.layers)}
    return dims_from_model_config(model.cfg, lm)


@pytest.mark.parametrize("algorithm", ["alsd", "mbs"])
def test_trace_is_complete(algorithm):
    """Every matmul and embedding lookup of the trace, with its shape, is one the modules executed, and back."""
    model, lt, ls = tiny()
    counter = OpCounter()
    counter.attach(model, {"encoder.layers.0": "encoder.l0", "encoder.layers.1": "encoder.l1",
                           "joiner.enc_proj": "joint.enc_proj", "joiner.pred_proj": "joint.pred_proj",
                           "joiner.out": "joint.out", "predictor.lstm": "prediction",
                           "predictor.embedding": "prediction.embedding"})
    counter.attach(lt, {"lstm": "lm_target", "output": "lm_target.out", "embedding": "lm_target.embedding"})
    counter.attach(ls, {"lstm": "lm_source", "output": "lm_source.out", "embedding": "lm_source.embedding"})
    try:
        rec = _record(model, lt, ls, algorithm, beam=6)
    finally:
        counter.detach()
    ops = build_trace(_dims(model, lt, ls), [rec]).to_frame()
    mm = ops[ops["kind"].isin(["matmul", "embedding"])]
    traced = Counter(zip(mm["weight"].astype(str), mm["m"], mm["k"], mm["n"]))
    assert traced == counter.ops
    assert sum(counter.ops.values()) > 100
    # one LSTM cell update per recurrent matmul
    assert (ops["kind"] == "lstm_pointwise").sum() == ops["weight"].astype(str).str.endswith("w_hh").sum()
    # beam occupancy really varies: the prediction network sees several batch sizes
    assert ops[ops["weight"].astype(str) == "prediction.l0.w_ih"]["m"].nunique() > 1


def test_traces_are_deterministic(tmp_path):
    model, lt, ls = tiny()
    paths = []
    for i in range(2):
        rec = _record(model, lt, ls, "alsd", beam=4, seed=3)
        wl = write_trace(tmp_path / f"w{i}", name="w", dims=_dims(model, lt, ls), utts=[rec, rec], synthetic=False,
                         description="test", command="pytest", notes="", recipe=None,
                         search={"algorithm": "alsd", "beam": 4, "fusion": "dr"}, wer_percent=12.5, test_set="t")
        paths.append(wl)
    assert paths[0].meta.ops.sha256 == paths[1].meta.ops.sha256
    pd.testing.assert_frame_equal(paths[0].ops, paths[1].ops)
    loaded = load_workload(tmp_path / "w0")
    assert loaded.meta.audio.utterances == 2 and loaded.meta.accuracy.wer_percent == 12.5
    assert set(loaded.ops["phase"].astype(str)) == {"encoder", "prediction", "joint", "lm_target", "lm_source",
                                                      "search"}
    assert all(max(d, default=-1) < i for i, d in zip(loaded.ops["id"], loaded.ops["deps"]))


def test_stretch_keeps_the_calls_and_adds_blank_steps():
    model, lt, ls = tiny()
    rec = _record(model, lt, ls, "mbs", beam=4)
    stretched = stretch_events(rec.events, rec.frames, 2 * rec.frames)
    steps = {e.step for e in stretched if e.kind == "joint"}
    assert len(steps) == 2 * rec.frames  # modified beam search: one step per encoder frame
    scorers = lambda evs: sorted((e.m, e.gathered) for e in evs if e.kind == "scorers")  # noqa: E731
    assert scorers(stretched) == scorers(rec.events)
    assert stretch_events(rec.events, rec.frames, rec.frames) == list(rec.events)
    with pytest.raises(ValueError, match="cannot shrink 15 frames to 10"):
        stretch_events(rec.events, 15, 10)


def test_paper_scale_dims_have_the_papers_parameter_count():
    dims = dims_from_model_config(ModelConfig.from_yaml(ROOT / "configs" / "paper.yaml"))
    assert 55e6 < dims.rnnt_params() < 60e6  # PAPER.md: about 57 M
    assert dims.frame_rate_hz == 50.0


def test_recipe_marks_wide_matmuls():
    from asr.quant.recipe import parse_recipe
    from asr.trace.precision import wide_weights

    recipe = parse_recipe({
        "name": "t", "precision": {"matmul": "int4", "matmul_wide": "int8", "nonlinear": "fp16",
                                   "elementwise": "fp16", "softmax": "fp16"},
        "rules": [{"match": "encoder.layers.0", "kind": "lstm", "wide": ["input"],
                   "weight": {"method": "sawb", "bits": 4}},
                  {"match": ["encoder.layers.*", "predictor.lstm", "lstm"], "kind": "lstm",
                   "weight": {"method": "sawb", "bits": 4}},
                  {"match": ["joiner.*", "output"], "kind": "linear", "weight": {"method": "sawb", "bits": 4}}],
    }, "test")
    model, lt, ls = tiny()
    from asr.trace.precision import all_weight_names

    wide = wide_weights(all_weight_names(_dims(model, lt, ls)), recipe)
    assert "encoder.l0.fwd.w_ih" in wide and "encoder.l0.fwd.w_hh" not in wide
    assert "joint.out" not in wide and "lm_target.l1.w_hh" not in wide
    assert "prediction.embedding" in wide  # no embedding rule: stays float


def _shipped():
    root = ROOT / "workloads"
    return sorted(p for p in root.iterdir() if (p / "workload.yaml").is_file()) if root.is_dir() else []


@pytest.mark.parametrize("path", _shipped(), ids=lambda p: p.name)
def test_shipped_workloads_load_and_simulate(path):
    wl = load_workload(path)
    assert wl.meta.ops.count == len(wl.ops) > 0
    assert (path / "ops.parquet").stat().st_size <= 4 * 2**20
    sim = pytest.importorskip("accelsim.sim")
    if not hasattr(sim, "simulate"):
        pytest.skip("accelsim.sim.simulate not available yet")
    from accelsim.spec import load_arch

    result = sim.simulate(load_arch(ROOT / "arch" / "int4.yaml"), wl)
    assert result is not None
