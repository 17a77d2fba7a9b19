"""Print (or write into docs/simulator.md) the energy tables of the "Energy" section.

    python3 scripts/energy_results.py                            # print the Markdown
    python3 scripts/energy_results.py --write docs/simulator.md  # replace the text between the markers

Table 1: FP16 / INT8 / INT4 on workloads/rnnt_beam16 with the shipped arch files: energy per utterance and per
audio second, average power, TOPS/W achieved against the configured chip peak, energy by component.
Table 2: the same against beam width and LM fusion (the shipped real-decode workloads).
Table 3: the same workload on a 700 W-class GPU, from PAPER.md's H100 measurements (RTF x board power, a bound).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from accelsim.atomic import atomic_write_text  # noqa: E402
from accelsim.cost.energy import COMPONENTS  # noqa: E402
from accelsim.sim import simulate  # noqa: E402
from accelsim.spec import load_arch  # noqa: E402
from accelsim.trace import load_workload  # noqa: E402

MODES = ("fp16", "int8", "int4")
START, END = "<!-- accelsim:energy-tables:start -->", "<!-- accelsim:energy-tables:end -->"
# PAPER.md, measured on one H100 80GB HBM3 (data/h100_oplat_calib.csv run): cuDNN 6 x 640 BiLSTM FP16 over 500
# frames about 114 ms; an eager beam-search step (prediction LSTM + 2 LMs + joint) about 0.93 ms whatever the beam.
H100_BILSTM_S_PER_FRAME = 0.114 / 500
H100_SEARCH_STEP_S = 0.93e-3
H100_BOARD_W = 700.0  # NVIDIA H100 SXM board power limit (public specification)
SWEEP = (("rnnt_beam1", 1, "dr"), ("rnnt_beam4", 4, "dr"), ("rnnt_beam16", 16, "dr"), ("rnnt_beam32", 32, "dr"),
         ("rnnt_nolm_beam16", 16, "none"))


_RUNS: dict[tuple[str, str], dict] = {}


def run(mode: str, workload) -> dict:
    """Summary of ``workload`` on ``arch/<mode>.yaml`` (each pair simulated once per process)."""
    key = (mode, str(workload.path))
    if key not in _RUNS:
        _RUNS[key] = simulate(load_arch(ROOT / "arch" / f"{mode}.yaml"), workload).summary()
    return _RUNS[key]


def headline(rows: dict[str, dict]) -> str:
    def line(label: str, fn) -> str:
        return f"| {label} | " + " | ".join(fn(rows[m]) for m in MODES) + " |"

    base = rows["fp16"]["energy_J"]
    out = ["| `rnnt_beam16` (DR fusion) | FP16 | INT8 | INT4 |", "|---|---|---|---|",
           line("RTF", lambda s: f"{s['rtf']:.4f}"),
           line("energy per utterance", lambda s: f"{s['energy_per_utt_mJ']:.1f} mJ"),
           line("**energy per audio second**", lambda s: f"**{s['energy_mJ_per_audio_s']:.1f} mJ**"),
           line("energy saving vs FP16", lambda s: f"{base / s['energy_J']:.2f}x"),
           line("average power", lambda s: f"{s['avg_power_W']:.2f} W"),
           line("TOPS/W with DRAM", lambda s: f"{s['effective_tops_per_W']:.3f}"),
           line("TOPS/W chip only / chip peak", lambda s: f"{s['chip_tops_per_W']:.2f} / {s['peak_tops_per_W']:.2f} "
                f"({s['chip_tops_per_W'] / s['peak_tops_per_W']:.0%})")]
    out.append(line("energy share encoder / LMs / rest", lambda s: " / ".join(f"{v:.0%}" for v in (
        s["energy_phase_encoder_J"] / s["energy_J"],
        (s["energy_phase_lm_target_J"] + s["energy_phase_lm_source_J"]) / s["energy_J"],
        sum(s[f"energy_phase_{p}_J"] for p in ("prediction", "joint", "search")) / s["energy_J"]))))
    for c in COMPONENTS:
        out.append(line(f"{c} (mJ per audio s, share)", lambda s, c=c: f"{s[f'energy_{c}_J'] / s['audio_s'] * 1e3:.3g}"
                        f" ({s[f'energy_{c}_J'] / s['energy_J']:.1%})"))
    return "\n".join(out)


def sweep(workloads: dict) -> str:
    out = ["| workload | beam | LM fusion | FP16 mJ/audio-s | INT8 | INT4 | FP16 -> INT4 energy | speedup | "
           "INT4 DRAM share |", "|---|---|---|---|---|---|---|---|---|"]
    for name, beam, fusion in SWEEP:
        rows = {m: run(m, workloads[name]) for m in MODES}
        a, b = rows["fp16"], rows["int4"]
        cells = " | ".join(f"{rows[m]['energy_mJ_per_audio_s']:.1f}" for m in MODES)
        out.append(f"| `{name}` | {beam} | {'DR' if fusion == 'dr' else 'none'} | {cells} | "
                   f"{a['energy_J'] / b['energy_J']:.2f}x | {a['sim_s'] / b['sim_s']:.2f}x | "
                   f"{b['energy_dram_J'] / b['energy_J']:.0%} |")
    return "\n".join(out)


def gpu_bound(workload, int4: dict) -> str:
    ops = workload.ops
    frames = workload.audio_seconds * workload.meta.audio.frame_rate_hz
    steps = len(ops[ops["phase"] == "search"].groupby(["utt", "step"], observed=True))
    gpu_s = frames * H100_BILSTM_S_PER_FRAME + steps * H100_SEARCH_STEP_S
    rtf = gpu_s / workload.audio_seconds
    mj = rtf * H100_BOARD_W * 1e3
    return "\n".join([
        "| `rnnt_beam16` | H100 bound | IBM 7 nm chip, INT4 |", "|---|---|---|",
        f"| RTF | {rtf:.4f} ({frames:.0f} encoder frames x 0.228 ms + {steps} search steps x 0.93 ms) | "
        f"{int4['rtf']:.4f} |",
        f"| power | {H100_BOARD_W:.0f} W (board limit) | {int4['avg_power_W']:.2f} W |",
        f"| energy per audio second | {mj:,.0f} mJ | {int4['energy_mJ_per_audio_s']:.1f} mJ "
        f"({mj / int4['energy_mJ_per_audio_s']:,.0f}x less) |",
    ])


def tables() -> str:
    """The Markdown that goes between the markers of docs/simulator.md's Energy section."""
    names = sorted({n for n, _, _ in SWEEP})
    workloads = {n: load_workload(ROOT / "workloads" / n) for n in names}
    rows = {m: run(m, workloads["rnnt_beam16"]) for m in MODES}
    return "\n\n".join([headline(rows), sweep(workloads), gpu_bound(workloads["rnnt_beam16"], rows["int4"])])


def write_between_markers(doc: Path, text: str) -> None:
    """Replace what lies between the energy markers of ``doc`` with ``text`` (atomic)."""
    body = doc.read_text()
    if START not in body or END not in body:
        raise SystemExit(f"{doc}: markers {START} ... {END} not found; add them where the tables go")
    head, rest = body.split(START, 1)
    _, tail = rest.split(END, 1)
    atomic_write_text(doc, f"{head}{START}\n{text}\n{END}{tail}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", metavar="DOC", type=Path, help="replace the tables between the markers of DOC")
    args = parser.parse_args()
    text = tables()
    if args.write:
        write_between_markers(args.write, text)
        print(f"wrote {args.write}")
    else:
        print(text)
