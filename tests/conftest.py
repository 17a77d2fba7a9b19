"""Fixtures shared by several test modules."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from accelsim.sweep import call_point, run_sweep
from accelsim.trace.synthetic import SyntheticConfig, write_synthetic

REPO = Path(__file__).resolve().parents[1]


class _InProcess:
    def run(self, evaluate, tasks):
        for task in tasks:
            yield call_point(evaluate, task)


@pytest.fixture(scope="module")
def real_sweep(tmp_path_factory) -> Path:
    """3 precisions x {beam 1 no LM, beam 4 DR fusion}, short synthetic workloads, real simulator; one timeline."""
    root = tmp_path_factory.mktemp("sweep")
    for fusion, beam, wer in (("none", 1, 14.0), ("dr", 4, 11.5)):
        wl = root / f"wl_{fusion}_b{beam}"
        write_synthetic(wl, SyntheticConfig(beam=beam, fusion=fusion, utterances=1, seconds=0.6), command="tests")
        # as a recorded decode would: the measured accuracy goes in workload.yaml (made-up numbers, test only)
        meta = yaml.safe_load((wl / "workload.yaml").read_text())
        meta["accuracy"] = {"wer_percent": wer, "test_set": "fixture"}
        (wl / "workload.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
    arch = [str(REPO / "arch" / f"{p}.yaml") for p in ("fp16", "int8", "int4")]
    (root / "spec.yaml").write_text(
        "name: mini\ngrid:\n  - product:\n"
        f"      arch: [{', '.join(arch)}]\n"
        "  - zip: {workload: [wl_none_b1, wl_dr_b4], arch.offchip.bandwidth: [64 GB/s, 128 GB/s]}\n"
        f"timeline:\n  - {{arch: {arch[2]}, workload: wl_dr_b4}}\n"
    )
    run_sweep(root / "spec.yaml", root / "out", backend=_InProcess(), progress=False)
    return root / "out"
