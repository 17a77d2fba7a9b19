"""``accelsim run ARCH WORKLOAD``: simulate one workload on one architecture and print where the time goes."""

from __future__ import annotations

import argparse
import json

from rich.console import Console
from rich.table import Table

from accelsim.atomic import atomic_write_text
from accelsim.cli.energy_tables import print_energy
from accelsim.errors import SpecError
from accelsim.map.build import weight_bytes_of
from accelsim.map.mapping import read_mapping, write_mapping
from accelsim.sim import RunResult, simulate, to_chrome_trace
from accelsim.spec import format_bytes, load_arch
from accelsim.trace import PHASES, load_workload
from accelsim.validation import check_summary

UNIT_LABELS = {"matrix": "matrix (MPE arrays)", "vector": "vector / SFU", "dma": "DMA (embeddings)"}


def parse_overrides(items: list[str] | None) -> dict[str, object]:
    """``["offchip.bandwidth=400 GB/s", "cores=2"]`` -> dict; values parsed as YAML scalars."""
    from accelsim.yamlio import parse_yaml_text

    out: dict[str, object] = {}
    for item in items or []:
        if "=" not in item:
            raise SpecError(f"--set {item!r}: expected PATH=VALUE, e.g. --set offchip.bandwidth='400 GB/s'")
        key, value = item.split("=", 1)
        out[key.strip()] = parse_yaml_text(value, f"--set {key.strip()[:80]}", SpecError)  # limits, no traceback
    return out


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", dest="overrides", action="append", metavar="PATH=VALUE",
                   help="override an architecture field by dotted path (repeatable), e.g. --set cores=2")


def run_report(result: RunResult) -> dict:
    """Everything ``--json`` writes: the summary, placement, residency and resolved architecture."""
    res = result.residency
    mapping = result.mapping
    return {
        "summary": result.summary(),
        "mapping": mapping.to_dict(res.weight_bytes) if mapping is not None else None,
        "phase_use": result.phase_use,
        "placement": result.placement,
        "resident_weights": {f"core{c}": sorted(p) for c, p in enumerate(res.pinned)},
        "weight_bytes": res.weight_bytes,
        "energy_counts": result.energy.counts if result.energy is not None else {},
        "arch": result.arch.model_dump(mode="json"),
        "workload": {"path": str(result.workload.path), "synthetic": result.workload.meta.synthetic,
                     "provenance": result.workload.meta.provenance.command},
    }


def print_summary(result: RunResult, console: Console) -> None:
    s = result.summary()
    head = Table(title=f"accelsim run: {s['workload']} on {s['arch']} ({s['precision_mode']})", show_header=False)
    head.add_column(style="bold")
    head.add_column(justify="right")
    synthetic = " (synthetic)" if result.workload.meta.synthetic else ""
    head.add_row("workload", f"beam {s['beam']}, fusion {s['fusion']}, {s['num_ops']:,} ops{synthetic}")
    head.add_row("audio", f"{s['audio_s']:.2f} s")
    head.add_row("simulated time", f"{s['sim_s'] * 1e3:.2f} ms")
    head.add_row("real-time factor (RTF)", f"{s['rtf']:.4f}")
    head.add_row("utilisation matrix / SFU / DRAM",
                 f"{s['util_matrix']:.1%} / {s['util_sfu']:.1%} / {s['util_dram']:.1%}")
    per_audio = s["dram_bytes"] / s["audio_s"] / 1e9
    head.add_row("bytes from DRAM", f"{s['dram_bytes'] / 1e9:.2f} GB ({per_audio:.2f} GB per audio s)")
    head.add_row("weights resident / streamed",
                 f"{format_bytes(s['resident_weight_bytes'])} ({s['resident_weights']}) / "
                 f"{format_bytes(s['streamed_weight_bytes'])} ({s['streamed_weights']})")
    head.add_row("streamed weights reused on chip",
                 f"{s['reuse_hits']:,} reads ({s['reuse_saved_bytes'] / 1e9:.2f} GB not fetched)")
    console.print(head)

    phases = Table(title="time by phase: critical path (sums to simulated time) | resources used (inclusive)")
    for col in ("phase", "time ms", "share", "RTF contribution", "matrix busy ms", "SFU busy ms", "DMA busy ms",
                "DRAM MB", "DRAM channel ms"):
        phases.add_column(col, justify="left" if col == "phase" else "right")
    for p in (*PHASES, "load"):
        t = s[f"phase_{p}_s"]
        use = result.phase_use[p]
        if p == "load" and t == 0 and use["dram_bytes"] == 0:
            continue
        phases.add_row(p, f"{t * 1e3:.2f}", f"{t / s['sim_s']:.1%}", f"{t / s['audio_s']:.4f}",
                       f"{use['matrix_busy_s'] * 1e3:.2f}", f"{use['vector_busy_s'] * 1e3:.2f}",
                       f"{use['dma_busy_s'] * 1e3:.2f}", f"{use['dram_bytes'] / 1e6:.1f}",
                       f"{use['channel_s'] * 1e3:.2f}")
    console.print(phases)

    units = Table(title="time by unit")
    for col in ("unit", "critical path ms", "share", "busy ms (all cores)", "busy / (cores x time)"):
        units.add_column(col, justify="left" if col == "unit" else "right")
    for u, label in UNIT_LABELS.items():
        crit = s[f"unit_{u}_s"]
        busy = s[f"busy_{u}_s"]
        units.add_row(label, f"{crit * 1e3:.2f}", f"{crit / s['sim_s']:.1%}", f"{busy * 1e3:.2f}",
                      f"{busy / (s['cores'] * s['sim_s']):.1%}")
    console.print(units)
    cores = Table(title="placement and residency")
    cores.add_column("core")
    cores.add_column("streams")
    cores.add_column("resident weights", justify="right")
    for c in range(result.arch.cores):
        if result.mapping is not None:
            streams = sorted(k for k, sm in result.mapping.streams.items() if c in sm.cores)
        else:
            streams = sorted(k for k, v in result.placement.items() if v == c)
        pinned = result.residency.pinned[c]
        nbytes = sum(result.residency.weight_bytes[w] for w in pinned)
        cores.add_row(str(c), ", ".join(streams), f"{len(pinned)} ({format_bytes(nbytes)})")
    console.print(cores)
    print_mapping(result, console)


def print_mapping(result: RunResult, console: Console) -> None:
    """Which mapping was used, which streams it split over which cores, what it pinned."""
    m = result.mapping
    if m is None:
        return
    how = f"mapping: {m.name}"
    if m.notes:
        how += " (" + ", ".join(f"{k} {v}" for k, v in m.notes.items()) + ")"
    how += f"; overlap {result.arch.scheduler.overlap}"
    console.print(how)
    split = {s: sm for s, sm in sorted(m.streams.items()) if len(sm.cores) > 1}
    if split:
        groups: dict[tuple, list[str]] = {}
        for st, sm in split.items():
            groups.setdefault((sm.cores, sm.split, bool(sm.after)), []).append(st)
        for (cs, axis, after), names in groups.items():
            what = "gather over the ring" if axis == "n" else "partial sums reduced over the ring"
            order = ", one direction after the other" if after else ""
            console.print(f"  split along {axis.upper()} over cores {list(cs)} ({what}{order}): {', '.join(names)}")
    else:
        console.print("  no op split over cores")
    wb = result.residency.weight_bytes
    whole = sorted(w for w, cs in m.pinned.items() if len(cs) == 1)
    sliced = sorted(w for w, cs in m.pinned.items() if len(cs) > 1)
    total = sum(result.residency.held_bytes or ())
    load = result.summary()["load_dram_bytes"]
    console.print(f"  pinned {len(m.pinned)} weights ({format_bytes(total)} of scratchpad"
                  f"{', loaded at start: ' + format_bytes(load) if m.charge_load else ', on chip at time 0 for free'})"
                  f": {len(whole)} whole, {len(sliced)} split in slices" + (f" ({', '.join(sliced[:6])}"
                  f"{', ...' if len(sliced) > 6 else ''})" if sliced else ""))
    streamed = len(wb) - len(m.pinned)
    console.print(f"  streamed from DRAM: {streamed} weights")


def handle(args: argparse.Namespace) -> int:
    arch = load_arch(args.arch, parse_overrides(args.overrides))
    workload = load_workload(args.workload)
    mapping = read_mapping(args.mapping, arch.cores) if args.mapping else None
    result = simulate(arch, workload, record_timeline=args.timeline is not None, mapping=mapping)
    check_summary(result.summary(), arch=args.arch, workload=args.workload, overrides=parse_overrides(args.overrides))
    print_summary(result, Console())
    print_energy(result.summary(), Console())
    if args.mapping_out:
        write_mapping(args.mapping_out, result.mapping, weight_bytes_of(arch, workload))
        print(f"wrote {args.mapping_out} (replay with --mapping {args.mapping_out})")
    if args.json:
        atomic_write_text(args.json, json.dumps(run_report(result), indent=2, sort_keys=False) + "\n")
        print(f"wrote {args.json}")
    if args.timeline:
        atomic_write_text(args.timeline, json.dumps(to_chrome_trace(result)) + "\n")
        print(f"wrote {args.timeline} (open in https://ui.perfetto.dev)")
    return 0


def register(sub) -> None:
    p = sub.add_parser("run", help="simulate a workload on an architecture; print RTF and where the time goes",
                       description=__doc__)
    p.add_argument("arch", help="architecture YAML, e.g. arch/int4.yaml")
    p.add_argument("workload", help="workload directory, e.g. workloads/rnnt_beam16")
    p.add_argument("--json", metavar="FILE", help="write the summary, placement and residency as JSON")
    p.add_argument("--timeline", metavar="FILE", help="write a Chrome trace-event JSON (opens in Perfetto)")
    p.add_argument("--mapping-out", metavar="FILE", help="write the mapping that was used (YAML, per stream and weight)")
    p.add_argument("--mapping", metavar="FILE", help="replay a mapping written by --mapping-out instead of choosing one")
    add_common(p)
    p.set_defaults(func=handle)
