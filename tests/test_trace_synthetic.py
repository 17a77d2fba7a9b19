"""The synthetic workload generator and the workload reader's defences."""

from __future__ import annotations

import pytest
import yaml
from test_sim_helpers import REPO

from accelsim.errors import TraceError
from accelsim.trace import load_workload
from accelsim.trace.synthetic import SyntheticConfig, build, write_synthetic


def test_structure_of_the_encoder_and_search():
    cfg = SyntheticConfig(beam=4, fusion="dr", utterances=1, seconds=0.5, seed=3)
    tb, (frames,) = build(cfg)
    ops = tb.to_frame()
    enc = ops[ops["phase"] == "encoder"]
    # per layer and direction: one input projection + per frame a recurrent matmul and a pointwise update
    assert len(enc) == cfg.enc_layers * 2 * (1 + 2 * frames)
    steps = frames + round(cfg.emit_rate * frames)
    assert (ops["kind"] == "topk").sum() == steps
    assert set(ops["phase"].astype(str)) == {"encoder", "prediction", "joint", "lm_target", "lm_source", "search"}
    rec = ops[(ops["phase"] == "encoder") & (ops["m"] == 1) & (ops["kind"] == "matmul")]
    assert set(rec["k"]) == {cfg.enc_cells} and set(rec["n"]) == {4 * cfg.enc_cells}
    # beam occupancy never exceeds the beam; the LM batches never exceed the active hypotheses
    assert ops.loc[ops["kind"] == "elementwise", "m"].max() <= cfg.beam


def test_parameter_count_matches_the_paper_model():
    tb, _ = build(SyntheticConfig(fusion="none"))
    params = sum(w.elements for w in tb.weights.values())
    assert 55e6 < params < 60e6  # PAPER.md: about 57 M parameters


def test_no_lm_has_no_lm_ops_and_shallow_has_one_lm():
    none = build(SyntheticConfig(fusion="none", utterances=1, seconds=0.3))[0].to_frame()
    shallow = build(SyntheticConfig(fusion="shallow", utterances=1, seconds=0.3))[0].to_frame()
    assert not none["phase"].astype(str).str.startswith("lm").any()
    assert set(shallow["phase"].astype(str)) >= {"lm_target"} and "lm_source" not in set(shallow["phase"].astype(str))


def test_deterministic_and_seed_dependent():
    a = build(SyntheticConfig(seed=1, utterances=1, seconds=0.5))[0].to_frame()
    b = build(SyntheticConfig(seed=1, utterances=1, seconds=0.5))[0].to_frame()
    c = build(SyntheticConfig(seed=2, utterances=1, seconds=0.5))[0].to_frame()
    assert a.equals(b)
    assert not a.equals(c)


@pytest.mark.parametrize("field,value", [("beam", 0), ("fusion", "deep"), ("seconds", 0), ("label_frac", 1.5)])
def test_bad_config(field, value):
    with pytest.raises(ValueError, match=field):
        SyntheticConfig(**{field: value})


def test_write_and_read_back(tmp_path):
    cfg = SyntheticConfig(beam=2, utterances=2, seconds=0.3)
    wl = write_synthetic(tmp_path / "w", cfg, command="accelsim generate --out w")
    again = load_workload(tmp_path / "w")
    assert again.meta == wl.meta and again.ops.equals(wl.ops)
    assert again.meta.synthetic and again.meta.provenance.command == "accelsim generate --out w"
    assert again.meta.search.beam == 2 and again.meta.audio.utterances == 2


@pytest.mark.parametrize("beam", [1, 4, 8, 16, 32])
@pytest.mark.parametrize("prefix", ["rnnt", "rnnt_nolm"])
def test_shipped_workloads_load_and_record_their_command(beam, prefix):
    wl = load_workload(REPO / "workloads" / f"{prefix}_beam{beam}")
    assert wl.meta.search.beam == beam
    assert wl.meta.search.fusion == ("dr" if prefix == "rnnt" else "none")
    if wl.meta.synthetic and wl.meta.provenance.generator == "accelsim.trace.synthetic":
        assert wl.meta.provenance.command.startswith(f"accelsim generate --out workloads/{prefix}_beam{beam} ")
    assert (REPO / "workloads" / f"{prefix}_beam{beam}" / "ops.parquet").stat().st_size < 3e6


def _copy(tmp_path, name="w"):
    dst = tmp_path / name
    write_synthetic(dst, SyntheticConfig(beam=2, utterances=1, seconds=0.3), command="pytest")
    return dst


def test_truncated_ops_file(tmp_path):
    d = _copy(tmp_path)
    data = (d / "ops.parquet").read_bytes()
    (d / "ops.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(TraceError, match=r"ops.parquet: checksum mismatch.*truncated, corrupt"):
        load_workload(d)


def test_corrupt_ops_file_with_matching_checksum(tmp_path):
    d = _copy(tmp_path)
    (d / "ops.parquet").write_bytes(b"not parquet at all")
    meta = yaml.safe_load((d / "workload.yaml").read_text())
    import hashlib

    meta["ops"]["sha256"] = hashlib.sha256(b"not parquet at all").hexdigest()
    (d / "workload.yaml").write_text(yaml.safe_dump(meta))
    with pytest.raises(TraceError, match=r"cannot read the ops file as Parquet"):
        load_workload(d)


def test_missing_files(tmp_path):
    d = _copy(tmp_path)
    (d / "ops.parquet").unlink()
    with pytest.raises(TraceError, match=r"ops file named by .*workload.yaml \(ops.file\) is missing"):
        load_workload(d)
    (d / "workload.yaml").unlink()
    with pytest.raises(TraceError, match=r"workload.yaml: file not found"):
        load_workload(d)
    with pytest.raises(TraceError, match="workload directory not found"):
        load_workload(tmp_path / "nope")


def test_bad_workload_yaml_field(tmp_path):
    d = _copy(tmp_path)
    meta = yaml.safe_load((d / "workload.yaml").read_text())
    meta["search"]["beem"] = 3
    (d / "workload.yaml").write_text(yaml.safe_dump(meta))
    with pytest.raises(TraceError, match=r"search.beem: unknown key; did you mean 'beam'"):
        load_workload(d)
