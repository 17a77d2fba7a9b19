"""Print the simulator's headline tables (Markdown) for docs/simulator.md.

    python3 scripts/sim_results.py > /tmp/sim_results.md

Table 1: FP16 / INT8 / INT4 on workloads/rnnt_beam16 with the default (shipped) arch files.
Table 2: sensitivity of the FP16 -> INT4 speedup to the (unpublished) off-chip bandwidth.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from accelsim.sim import simulate  # noqa: E402
from accelsim.spec import load_arch  # noqa: E402
from accelsim.trace import load_workload  # noqa: E402

MODES = ("fp16", "int8", "int4")


def run(mode: str, workload, overrides: dict | None = None) -> dict:
    return simulate(load_arch(ROOT / "arch" / f"{mode}.yaml", overrides), workload).summary()


def headline(workload) -> str:
    rows = {m: run(m, workload) for m in MODES}
    fp16 = rows["fp16"]["sim_s"]
    out = ["| | FP16 | INT8 | INT4 | paper |", "|---|---|---|---|---|"]
    out.append("| RTF | " + " | ".join(f"{rows[m]['rtf']:.4f}" for m in MODES) + " | FP16 ~0.2, INT4 0.06 |")
    out.append("| speedup vs FP16 | " + " | ".join(f"{fp16 / rows[m]['sim_s']:.2f}x" for m in MODES) + " | 3.4x |")
    out.append("| DRAM utilisation | " + " | ".join(f"{rows[m]['util_dram']:.2f}" for m in MODES) + " | |")
    for phase in ("encoder", "lm_target", "joint", "search"):
        cells = " | ".join(f"{rows[m][f'phase_{phase}_s'] * 1e3:.1f} ms" for m in MODES)
        out.append(f"| {phase} (critical path) | {cells} | |")
    return "\n".join(out)


def sensitivity() -> str:
    names = ("rnnt_beam16", "rnnt_nolm_beam16", "rnnt_beam1")
    workloads = {n: load_workload(ROOT / "workloads" / n) for n in names}
    out = ["| DRAM | FP16 RTF | INT4 RTF | speedup DR b16 | no LM b16 | DR b1 |", "|---|---|---|---|---|---|"]
    for bw in ("64 GB/s", "200 GB/s", "1 TB/s"):
        ov = {"offchip.bandwidth": bw}
        sp = {}
        for n, wl in workloads.items():
            a, b = run("fp16", wl, ov), run("int4", wl, ov)
            sp[n] = (a, b, a["sim_s"] / b["sim_s"])
        a, b, _ = sp["rnnt_beam16"]
        out.append(f"| {bw} | {a['rtf']:.4f} | {b['rtf']:.4f} | " + " | ".join(f"{sp[n][2]:.2f}x" for n in names) + " |")
    return "\n".join(out)


if __name__ == "__main__":
    wl = load_workload(ROOT / "workloads" / "rnnt_beam16")
    print(f"Workload `rnnt_beam16`: {wl.meta.audio.utterances} utterances, {wl.meta.audio.seconds:.1f} s of audio, "
          f"{wl.meta.ops.count} ops, synthetic: {wl.meta.synthetic}.\n")
    print(headline(wl))
    print("\nSensitivity to off-chip bandwidth (speedup FP16 -> INT4):\n")
    print(sensitivity())
