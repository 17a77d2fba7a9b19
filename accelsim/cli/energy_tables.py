"""Energy tables of ``accelsim run`` and ``accelsim compare`` (from the summary's ``energy_*`` keys)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from accelsim.cost.energy import COMPONENTS
from accelsim.trace import PHASES

COMPONENT_LABELS = {"mac": "MAC (matrix arrays)", "sfu": "SFU / vector", "sram": "scratchpad (SRAM)",
                    "dram": "DRAM (+ DMA descriptors)", "ring": "ring (cross-core)",
                    "static": "static (leakage + clock)"}


def print_energy(s: dict, console: Console) -> None:
    """Energy per utterance and audio second, power, TOPS/W, by component and by phase; nothing without energy."""
    if "energy_J" not in s:
        console.print("energy: the architecture has no energy: section (see arch/base_ibm7nm.yaml)")
        return
    head = Table(title="energy", show_header=False)
    head.add_column(style="bold")
    head.add_column(justify="right")
    head.add_row("energy", f"{s['energy_J'] * 1e3:.2f} mJ ({s['energy_per_utt_mJ']:.2f} mJ per utterance)")
    head.add_row("energy per audio second", f"{s['energy_mJ_per_audio_s']:.2f} mJ")
    head.add_row("average power", f"{s['avg_power_W']:.3f} W")
    head.add_row("TOPS/W with DRAM / chip only / chip peak",
                 f"{s['effective_tops_per_W']:.3f} / {s['chip_tops_per_W']:.3f} / {s['peak_tops_per_W']:.2f}")
    console.print(head)
    table = Table(title="energy by component and by phase (static split along the critical path)")
    for col in ("component", "mJ", "share", "phase", "mJ ", "share "):
        table.add_column(col, justify="left" if col in ("component", "phase") else "right")
    total = s["energy_J"] or 1.0
    for i in range(max(len(COMPONENTS), len(PHASES))):
        left = ["", "", ""]
        right = ["", "", ""]
        if i < len(COMPONENTS):
            c = COMPONENTS[i]
            v = s[f"energy_{c}_J"]
            left = [COMPONENT_LABELS[c], f"{v * 1e3:.3f}", f"{v / total:.1%}"]
        if i < len(PHASES):
            p = PHASES[i]
            v = s[f"energy_phase_{p}_J"]
            right = [p, f"{v * 1e3:.3f}", f"{v / total:.1%}"]
        table.add_row(*left, *right)
    console.print(table)


def energy_comparison(a: dict, b: dict) -> dict:
    """Energy ``A -> B``: ``energy_ratio`` = energy_A / energy_B (how many times less B spends) and per
    component; empty when either run has no energy."""
    if "energy_J" not in a or "energy_J" not in b:
        return {}
    def ratio(x: float, y: float) -> float | None:
        return x / y if y > 0 else None
    out = {"energy_a_J": a["energy_J"], "energy_b_J": b["energy_J"],
           "energy_ratio": ratio(a["energy_J"], b["energy_J"])}
    for c in COMPONENTS:
        out[f"energy_ratio_{c}"] = ratio(a[f"energy_{c}_J"], b[f"energy_{c}_J"])
    return out


def add_energy_rows(table: Table, a: dict, b: dict, cmp: dict) -> None:
    """Rows of the compare table: mJ per audio second of A and B, the energy ratio, by component."""
    if "energy_ratio" not in cmp:
        return
    fmt = lambda x: "-" if x is None else f"{x:.2f}x"  # noqa: E731
    table.add_row("energy mJ/audio-s", f"{a['energy_mJ_per_audio_s']:.2f}", f"{b['energy_mJ_per_audio_s']:.2f}",
                  fmt(cmp["energy_ratio"]), style="bold")
    for c in COMPONENTS:
        table.add_row(f"  {c}", f"{a[f'energy_{c}_J'] / a['audio_s'] * 1e3:.2f}",
                      f"{b[f'energy_{c}_J'] / b['audio_s'] * 1e3:.2f}", fmt(cmp[f"energy_ratio_{c}"]))
