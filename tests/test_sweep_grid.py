"""Sweep specs and grid expansion: sizes, order, stable point ids, and the messages for bad sweeps."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.errors import SweepError
from accelsim.sweep import expand, load_sweep, resolve_points, spec_from_dict
from accelsim.trace import TraceBuilder, write_workload

REPO = Path(__file__).resolve().parents[1]
FP16 = str(REPO / "arch" / "fp16.yaml")
INT4 = str(REPO / "arch" / "int4.yaml")


def make_workload(path: Path, beam: int = 1, wer: float | None = None) -> Path:
    """A tiny but valid workload directory (one LSTM-like matmul and its pointwise op)."""
    b = TraceBuilder()
    b.declare_weight("enc.w", (8, 16))
    mm = b.matmul("encoder", m=beam, k=8, weight="enc.w", stream="encoder")
    b.add("lstm_pointwise", "encoder", m=beam, n=4, pclass="nonlinear", func="lstm", deps=[mm])
    extra = {"accuracy": {"wer_percent": wer, "test_set": "synthetic"}} if wer is not None else {}
    write_workload(
        path, ops=b.to_frame(), weights=b.weights, name=path.name, synthetic=True,
        provenance={"command": "test", "generator": "tests"}, model={},
        search={"algorithm": "alsd", "beam": beam, "fusion": "none"},
        audio={"seconds": 1.0, "utterances": 1, "frame_rate_hz": 50.0}, **extra,
    )
    return path


@pytest.fixture()
def workloads(tmp_path: Path) -> list[str]:
    return [str(make_workload(tmp_path / f"wl_b{b}", beam=b)) for b in (1, 4)]


axis_values = st.lists(st.integers(1, 64), min_size=1, max_size=4, unique=True)


@settings(max_examples=60, deadline=None)
@given(
    products=st.lists(st.dictionaries(st.sampled_from(["x", "y", "z"]), axis_values, min_size=1, max_size=3),
                      min_size=0, max_size=2),
    zip_len=st.integers(1, 4),
    zip_keys=st.integers(1, 3),
)
def test_expansion_size_is_product_of_block_sizes(products, zip_len, zip_keys):
    grid, used = [], set()
    for i, block in enumerate(products):
        axes = {f"arch.p{i}.{k}": v for k, v in block.items()}
        used |= set(axes)
        grid.append({"product": axes})
    grid.append({"zip": {f"arch.z.k{j}": list(range(zip_len)) for j in range(zip_keys)}})
    spec = spec_from_dict({"name": "h", "base": {"arch": "a.yaml", "workload": "w"}, "grid": grid})
    points = expand(spec)
    expected = math.prod(math.prod(len(v) for v in b.values()) for b in products) * zip_len
    assert len(points) == expected == spec.size
    # every point is distinct and carries every key exactly once
    assert len({tuple(sorted(p.items())) for p in points}) == len(points)
    assert all(set(p) == used | {"arch", "workload"} | {f"arch.z.k{j}" for j in range(zip_keys)} for p in points)


def test_expansion_order_last_key_fastest_and_zip_pairs():
    spec = spec_from_dict({
        "name": "o", "base": {"workload": "w"},
        "grid": [{"product": {"arch": ["a", "b"], "arch.clock": ["1 GHz", "2 GHz"]}},
                 {"zip": {"arch.cores": [1, 2], "arch.offchip.bandwidth": ["10 GB/s", "20 GB/s"]}}],
    })
    pts = expand(spec)
    assert [(p["arch"], p["arch.clock"]) for p in pts[::2]] == [("a", "1 GHz"), ("a", "2 GHz"), ("b", "1 GHz"),
                                                               ("b", "2 GHz")]
    assert {(p["arch.cores"], p["arch.offchip.bandwidth"]) for p in pts} == {(1, "10 GB/s"), (2, "20 GB/s")}


def test_point_ids_stable_and_depend_on_resolved_point(tmp_path, workloads):
    raw = {"name": "ids", "base": {"arch": FP16},
           "grid": [{"product": {"workload": workloads, "arch.offchip.bandwidth": ["64 GB/s", "400 GB/s"]}}]}
    a = resolve_points(spec_from_dict(raw), tmp_path)
    b = resolve_points(spec_from_dict(raw), tmp_path)
    assert [t.point_id for t in a] == [t.point_id for t in b]
    assert len({t.point_id for t in a}) == 4
    # the same bandwidth written another way is the same resolved point, hence the same id
    raw2 = {**raw, "grid": [{"product": {"workload": workloads, "arch.offchip.bandwidth": ["64e9 B/s", "400 GB/s"]}}]}
    c = resolve_points(spec_from_dict(raw2), tmp_path)
    assert [t.point_id for t in a] == [t.point_id for t in c]
    # ... wherever the files lie (ids are stable across checkouts) ...
    moved = tmp_path / "moved"
    moved.mkdir()
    for name in ("fp16.yaml", "base_ibm7nm.yaml"):
        (moved / name).write_text((REPO / "arch" / name).read_text())
    e = resolve_points(spec_from_dict({**raw, "base": {"arch": str(moved / "fp16.yaml")}}), tmp_path)
    assert [t.point_id for t in a] == [t.point_id for t in e]
    # ... and a different arch file is a different point
    d = resolve_points(spec_from_dict({**raw, "base": {"arch": INT4}}), tmp_path)
    assert not {t.point_id for t in a} & {t.point_id for t in d}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"name": "e", "base": {"arch": "a", "workload": "w"}, "grid": []}, "grid is empty"),
        ({"name": "e", "base": {"arch": "a", "workload": "w"}, "grid": [{"product": {"arch.cores": []}}]},
         "empty value list"),
        ({"name": "e", "base": {"arch": "a", "workload": "w"}, "grid": [{"product": {}}]}, "empty product block"),
        ({"name": "e", "base": {"arch": "a"}, "grid": [{"zip": {"workload": ["w"], "arch.cores": [1, 2]}}]},
         "equal length"),
        ({"name": "e", "base": {"arch": "a", "workload": "w"}, "grid": [{"product": {"archs": ["x"]}}]},
         "unknown sweep key 'archs'; did you mean 'arch'"),
        ({"name": "e", "base": {"arch": "a"}, "grid": [{"product": {"arch.cores": [1]}}]},
         "every point needs workload"),
        ({"name": "e", "base": {"arch": "a", "workload": "w"},
          "grid": [{"product": {"arch.cores": [1]}}, {"zip": {"arch.cores": [2]}}]}, "appears in grid blocks 0 and 1"),
        ({"name": "e", "base": {"arch": "a", "workload": "w"}, "grid": [{"product": {"arch.cores": [1]}}],
          "grids": []}, "grids: unknown key"),
    ],
)
def test_bad_specs_give_clear_messages(raw, message):
    with pytest.raises(SweepError, match=message.replace("(", r"\(").replace(")", r"\)")):
        spec_from_dict(raw, "bad.yaml")


def test_unknown_arch_field_and_bad_values_are_reported_before_running(tmp_path, workloads):
    raw = {"name": "f", "base": {"arch": FP16, "workload": workloads[0]},
           "grid": [{"product": {"arch.offchip.bandwith": ["1 GB/s", "2 GB/s"]}}]}
    with pytest.raises(SweepError, match=r"'bandwith' is not a field of offchip; did you mean 'offchip.bandwidth'"):
        resolve_points(spec_from_dict(raw), tmp_path)
    raw["grid"] = [{"product": {"arch.cores": [2, 0]}}]
    with pytest.raises(SweepError, match=r"(?s)1 problem.*cores = 0: Input should be greater than or equal to 1"):
        resolve_points(spec_from_dict(raw), tmp_path)


def test_missing_workload_duplicates_and_unmatched_timeline(tmp_path, workloads):
    base = {"name": "g", "base": {"arch": FP16}}
    with pytest.raises(SweepError, match="no workload.yaml"):
        resolve_points(spec_from_dict({**base, "grid": [{"product": {"workload": ["nowhere"]}}]}), tmp_path)
    dup = {**base, "grid": [{"product": {"workload": [workloads[0]], "arch.cores": [4, 4]}}]}
    with pytest.raises(SweepError, match="resolve to the same simulation"):
        resolve_points(spec_from_dict(dup), tmp_path)
    tl = {**base, "grid": [{"product": {"workload": workloads}}], "timeline": [{"workload": "other"}]}
    with pytest.raises(SweepError, match="matches no point"):
        resolve_points(spec_from_dict(tl), tmp_path)


def test_load_sweep_file_errors(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("name: s\nname: t\ngrid: []\n")
    with pytest.raises(SweepError, match="duplicate key 'name'"):
        load_sweep(p)
    p.write_text("name: s\nbase: {arch: a, workload: w}\ngrid:\n  - product: {arch.cores: [1, 2]}\n  - zip: {}\n")
    with pytest.raises(SweepError, match=r"s.yaml: grid.1"):
        load_sweep(p)


def test_shipped_sweeps_name_real_arch_fields():
    from accelsim.sweep.grid import default_arch_checker

    for name, size in (("paper", 30), ("dse", 27)):
        spec, root, _ = load_sweep(REPO / "sweeps" / f"{name}.yaml")
        assert root == REPO and spec.size == len(expand(spec)) == size
        fingerprints = set()
        for point in expand(spec):
            overrides = {k.removeprefix("arch."): v for k, v in point.items() if k.startswith("arch.")}
            fingerprints.add((default_arch_checker(root / str(point["arch"]), overrides), point["workload"]))
        assert len(fingerprints) == size  # every point is a distinct, valid architecture x workload
        if all((root / str(p["workload"]) / "workload.yaml").is_file() for p in expand(spec)):
            assert len(resolve_points(spec, root)) == size
