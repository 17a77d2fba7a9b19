"""Architecture YAML: shipped files, base: inheritance, overrides, round trip and every bad-input message."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from test_sim_helpers import ARCH, arch, raw_arch

from accelsim.errors import SpecError
from accelsim.spec import dump_arch, load_arch


@pytest.mark.parametrize("name,mode", [("fp16", "fp16"), ("int8", "int8"), ("int4", "int4")])
def test_shipped_arch_files_load(name, mode):
    spec = load_arch(ARCH / f"{name}.yaml")
    assert spec.precision_mode == mode
    assert spec.cores == 4 and spec.clock == pytest.approx(1.6e9)
    assert spec.core.scratchpad.size == 2 * 2**20
    assert spec.source.endswith(f"{name}.yaml")
    # every precision-mode file is the same chip: only the name and the policy differ from the base
    base = load_arch(ARCH / "base_ibm7nm.yaml")
    assert spec.core == base.core and spec.offchip == base.offchip


def test_peak_throughput_matches_published_numbers():
    spec = arch("int4")
    m = spec.core.matrix
    tops = spec.cores * m.pes * m.macs_per_pe_cycle["int4"] * 2 * spec.clock / 1e12
    tflops = spec.cores * m.pes * m.macs_per_pe_cycle["fp16"] * 2 * spec.clock / 1e12
    assert tops == pytest.approx(104.9, rel=0.01)  # JSSC 2022
    assert tops / tflops == 8  # INT4 : FP16 = 8 : 1


def _write(tmp_path, text, name="a.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_base_inheritance_merges_nested_keys(tmp_path):
    base = (ARCH / "base_ibm7nm.yaml").read_text()
    _write(tmp_path, base, "base.yaml")
    child = _write(tmp_path, "base: base.yaml\nname: x\noffchip:\n  bandwidth: 400 GB/s\n")
    spec = load_arch(child)
    assert spec.offchip.bandwidth == 400e9
    assert spec.offchip.latency == pytest.approx(100e-9)  # kept from the base
    assert spec.name == "x"


def test_base_cycle_is_an_error(tmp_path):
    _write(tmp_path, "base: b.yaml\nname: a\n", "a.yaml")
    _write(tmp_path, "base: a.yaml\nname: b\n", "b.yaml")
    with pytest.raises(SpecError, match="inheritance cycle"):
        load_arch(tmp_path / "a.yaml")


def test_missing_base_file(tmp_path):
    p = _write(tmp_path, "base: nowhere.yaml\n")
    with pytest.raises(SpecError, match=r"base = 'nowhere.yaml'.*not found"):
        load_arch(p)


def test_unknown_key_suggests_the_closest(tmp_path):
    (tmp_path / "base_ibm7nm.yaml").write_text((ARCH / "base_ibm7nm.yaml").read_text())  # base: stays in its folder
    p = _write(tmp_path, "base: base_ibm7nm.yaml\noffchip:\n  bandwith: 100 GB/s\n")
    with pytest.raises(SpecError, match=r"a.yaml: offchip.bandwith: unknown key; did you mean 'bandwidth'"):
        load_arch(p)


def test_duplicate_key_is_rejected(tmp_path):
    p = _write(tmp_path, "name: a\ncores: 4\ncores: 2\n")
    with pytest.raises(SpecError, match=r"duplicate key 'cores'"):
        load_arch(p)


@pytest.mark.parametrize("field,value,message", [
    ("offchip.bandwidth", "100 Gb/s", r"offchip.bandwidth = '100 Gb/s'.*expected a bandwidth such as"),
    ("offchip.bandwidth", "fast", r"expected a bandwidth"),
    ("core.scratchpad.size", "2 GHz", r"core.scratchpad.size = '2 GHz'.*expected a bytes"),
    ("core.scratchpad.size", 0, r"core.scratchpad.size = 0.*greater than 0"),
    ("core.scratchpad.size", "-1 MiB", r"core.scratchpad.size.*greater than 0"),
    ("cores", 0, r"cores = 0.*greater than or equal to 1"),
    ("cores", "four", r"cores = 'four'.*valid integer"),
    ("clock", "1.6 GB", r"clock = '1.6 GB'.*frequency"),
    ("core.matrix.macs_per_pe_cycle.int4", 0, r"macs_per_pe_cycle.int4 = 0.*greater than 0"),
    ("core.matrix.dataflow", "is", r"dataflow = 'is'.*'os' or 'ws'"),
])
def test_bad_values_name_file_field_and_expectation(field, value, message):
    with pytest.raises(SpecError, match=message) as info:
        arch("int4", **{field: value})
    assert "int4.yaml" in str(info.value)


def test_unsupported_precision_for_an_op_class():
    with pytest.raises(SpecError, match=r"precision.matmul computes in int2 but core.matrix.macs_per_pe_cycle "
                                        r"supports only \['fp16', 'hfp8', 'int4', 'int8'\]"):
        arch("int4", **{"precision.matmul": {"weights": "int2", "activations": "int2"}, "core.matrix.macs_per_pe_cycle": {
            "fp16": 8, "hfp8": 16, "int8": 32, "int4": 64}})
    with pytest.raises(SpecError, match=r"precision.softmax = int8 but core.vector.elems_per_lane_cycle"):
        arch("int4", **{"precision.softmax": "int8"})


def test_overrides_apply_and_unknown_paths_suggest():
    spec = arch("fp16", **{"offchip.bandwidth": "400 GB/s", "core.matrix.rows": 16, "cores": 2})
    assert (spec.offchip.bandwidth, spec.core.matrix.rows, spec.cores) == (400e9, 16, 2)
    with pytest.raises(SpecError, match=r"'bandwith' is not a field of offchip; did you mean 'offchip.bandwidth'"):
        arch("fp16", **{"offchip.bandwith": "1 GB/s"})
    with pytest.raises(SpecError, match=r"'core' is not a field.*|'cor' is not a field of the top level; did you mean 'core'"):
        arch("fp16", **{"cor.matrix.rows": 4})
    with pytest.raises(SpecError, match=r"key 'int3' not allowed in core.matrix.macs_per_pe_cycle; did you mean"):
        arch("fp16", **{"core.matrix.macs_per_pe_cycle.int3": 4})


def test_top_level_must_be_a_mapping(tmp_path):
    with pytest.raises(SpecError, match="expected a mapping"):
        load_arch(_write(tmp_path, "- 1\n- 2\n"))


def test_missing_file():
    with pytest.raises(SpecError, match="file not found"):
        load_arch("arch/does_not_exist.yaml")


@pytest.mark.parametrize("name", ["fp16", "int8", "int4", "base_ibm7nm"])
def test_load_dump_load_identity(tmp_path, name):
    spec = load_arch(ARCH / f"{name}.yaml")
    p = tmp_path / "dumped.yaml"
    p.write_text(dump_arch(spec))
    again = load_arch(p)
    assert again.model_dump(exclude={"source"}) == spec.model_dump(exclude={"source"})


@settings(max_examples=25, deadline=None)
@given(bw=st.floats(1e9, 1e12), rows=st.integers(1, 64), lanes=st.integers(1, 1024),
       sp=st.integers(1, 2**26), latency=st.floats(0, 1e-6))
def test_round_trip_of_random_valid_specs(tmp_path_factory, bw, rows, lanes, sp, latency):
    spec = arch("int4", **{"offchip.bandwidth": bw, "core.matrix.rows": rows, "core.vector.lanes": lanes,
                           "core.scratchpad.size": sp, "offchip.latency": latency})
    p = tmp_path_factory.mktemp("rt") / "a.yaml"
    p.write_text(dump_arch(spec))
    assert load_arch(p).model_dump(exclude={"source"}) == spec.model_dump(exclude={"source"})
    assert yaml.safe_load(p.read_text())["offchip"]["bandwidth"] == bw
    assert raw_arch("int4")["name"] == "ibm7nm-int4"
