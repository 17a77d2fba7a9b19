"""GPU cost path (accelsim/cost/gpu.py): wave quantization, rooflines, monotonicity, L2 vs HBM, dispatch."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_sim_helpers import arch, arch_from_raw, mem_workload, raw_arch

import accelsim.cost.op as op_module
from accelsim.cost import op_cost
from accelsim.cost.gpu import gemm_device_seconds, gemm_wave_seconds, matmul_kernel_name, sm_peak_macs_per_s
from accelsim.errors import SpecError
from accelsim.sim import simulate
from accelsim.spec.schema import PRECISION_BYTES
from accelsim.trace import TraceBuilder
from accelsim.trace.synthetic import SyntheticConfig, build

H100 = arch("h100")


def synthetic_small():
    tb, _ = build(SyntheticConfig(beam=4, utterances=1, seconds=0.3))
    return mem_workload(tb, seconds=0.3)
FAMILIES = sorted(H100.gpu.matmul)
shape = st.integers(1, 5000)


@settings(max_examples=60, deadline=None)
@given(m=shape, k=shape, n=shape, name=st.sampled_from(FAMILIES), which=st.sampled_from(["m", "k", "n"]),
       extra=st.integers(1, 3000))
def test_a_bigger_gemm_is_never_faster(m, k, n, name, which, extra):
    bigger = {"m": m, "k": k, "n": n}
    bigger[which] += extra
    assert gemm_device_seconds(m, k, n, name, H100) <= gemm_device_seconds(**bigger, name=name, arch=H100) * (1 + 1e-12)


@settings(max_examples=60, deadline=None)
@given(m=shape, k=shape, n=shape, name=st.sampled_from(FAMILIES))
def test_gemm_never_beats_the_device_rooflines(m, k, n, name):
    gpu = H100.gpu
    t = float(gemm_device_seconds(m, k, n, name, H100))
    prec = "fp16" if name == "w4a16" else name
    peak = gpu.sms * sm_peak_macs_per_s(H100, prec) * gpu.matmul[name].efficiency
    assert t >= m * k * n / peak * (1 - 1e-12)
    w_bytes = k * n * PRECISION_BYTES["int4" if name == "w4a16" else prec]
    assert t >= w_bytes / gpu.llc.bandwidth * (1 - 1e-12)


def test_wave_quantization_one_more_tile_costs_a_whole_wave():
    # int8 runs one 128 x 128 tile per SM: 132 tiles fill one wave, 133 need two
    sms = H100.gpu.sms
    one, _ = gemm_wave_seconds(128 * sms, 1024, 128, "int8", H100)
    two, _ = gemm_wave_seconds(128 * sms + 1, 1024, 128, "int8", H100)
    assert float(two) == pytest.approx(2 * float(one))
    assert float(gemm_wave_seconds(1, 1024, 128, "int8", H100)[0]) == pytest.approx(float(one))  # padding


def test_the_gemv_kernel_serves_only_one_row():
    t1, w1 = gemm_wave_seconds(1, 1280, 2560, "fp32", H100)
    t2, w2 = gemm_wave_seconds(2, 1280, 2560, "fp32", H100)
    assert int(w1) == len(H100.gpu.matmul["fp32"].tiles)  # the GEMV candidate
    assert int(w2) < len(H100.gpu.matmul["fp32"].tiles)


def test_kernel_families_and_mixed_input():
    assert matmul_kernel_name("fp16", "fp16") == "fp16"
    assert matmul_kernel_name("int4", "fp16") == "w4a16"
    with pytest.raises(SpecError, match="no GPU GEMM kernel"):
        matmul_kernel_name("int4", "int8")


def test_streamed_weights_never_beat_l2_resident_and_count_hbm_bytes():
    for m, k, n in ((1, 2048, 8192), (64, 1024, 4096), (512, 4096, 4096)):
        hit = op_cost("matmul", "", "matmul", m, k, n, "", True, H100)
        miss = op_cost("matmul", "", "matmul", m, k, n, "", False, H100)
        assert miss.busy_s >= hit.busy_s and hit.dram_bytes == 0 and miss.dram_bytes == k * n * 2
        assert miss.busy_s >= miss.dispatch_s + k * n * 2 / H100.offchip.bandwidth
        assert hit.unit == miss.unit == "matrix"


def test_eager_launches_cost_more_than_graph_replay():
    eager = arch("h100_eager")
    for kind, func, pclass in (("matmul", "", "matmul"), ("lstm_pointwise", "lstm", "nonlinear"),
                               ("softmax", "log", "softmax")):
        g = op_cost(kind, func, pclass, 16, 1024, 1024, "", True, H100)
        e = op_cost(kind, func, pclass, 16, 1024, 1024, "", True, eager)
        assert e.compute_s == g.compute_s and e.dispatch_s > g.dispatch_s
    lstm = op_cost("lstm_pointwise", "lstm", "nonlinear", 1, 0, 640, "", True, H100)
    kernels = H100.gpu.kernels_per_op["lstm_pointwise"]
    assert lstm.dispatch_s == pytest.approx(kernels * H100.gpu.launch.graph_pointwise_s)


def test_gpu_kernels_serialise_a_lone_op_takes_its_pure_cost():
    tb = TraceBuilder()
    tb.declare_weight("w", (1024, 4096))
    a = tb.matmul("encoder", m=8, k=1024, weight="w", stream="a")
    tb.add("lstm_pointwise", "encoder", m=8, n=1024, pclass="nonlinear", func="lstm", stream="b")
    tb.matmul("prediction", m=8, k=1024, weight="w", deps=(a,), stream="c")
    r = simulate(H100, mem_workload(tb))
    busy = r.costs["busy_s"]
    assert r.sim_s == pytest.approx(busy.sum())  # independent streams still run one kernel at a time
    assert (r.costs["unit"] == 0).all()


def test_gpu_schema_checks():
    raw = raw_arch("h100")
    raw["cores"] = 4
    with pytest.raises(SpecError, match="one logical device"):
        arch_from_raw(raw)
    raw = raw_arch("h100")
    raw["core"]["scratchpad"]["size"] = "40 MB"
    with pytest.raises(SpecError, match="must equal gpu.llc.size"):
        arch_from_raw(raw)
    raw = raw_arch("h100")
    raw["gpu"]["matmul"]["fp9"] = raw["gpu"]["matmul"]["fp16"]
    with pytest.raises(SpecError):
        arch_from_raw(raw)
    raw = raw_arch("h100")
    del raw["gpu"]["matmul"]["w4a16"]["dequant_elems_per_sm_cycle"]
    with pytest.raises(SpecError, match="dequant"):
        arch_from_raw(raw)


def test_a_precision_without_a_kernel_family_is_a_clear_error():
    fp8 = arch("h100", **{"precision.matmul": {"weights": "fp8", "activations": "fp8"}})
    with pytest.raises(SpecError, match="gpu.matmul.fp8"):
        op_cost("matmul", "", "matmul", 1, 256, 256, "", True, fp8)


def test_ibm_archs_never_take_the_gpu_branch(monkeypatch, tmp_path):
    def boom(*a, **k):
        raise AssertionError("GPU cost path used for a non-GPU arch")

    monkeypatch.setattr(op_module, "gpu_op_cost", boom)
    for name in ("fp16", "int8", "int4"):
        spec = arch(name)
        assert spec.gpu is None
        assert simulate(spec, synthetic_small()).sim_s > 0


def test_gpu_run_of_a_synthetic_decode_is_deterministic_and_finite():
    wl = synthetic_small()
    a = simulate(H100, wl).summary()
    b = simulate(H100, wl).summary()
    assert a == b and math.isfinite(a["sim_s"]) and a["sim_s"] > 0
    assert np.isfinite(simulate(arch("h100_eager"), wl).sim_s)
