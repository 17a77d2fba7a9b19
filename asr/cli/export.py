"""`asr export`: pack a QAT model (INT4 two values per byte + FP16 scales) and print the measured compression.

Reads the folder written by `asr qat` (OUT or OUT/model), converts it to integer inference modules, writes
``model.packed.safetensors`` (+ config.yaml, recipe.yaml) into --out, re-reads the file to check that every
weight unpacks to the integer model's values, and prints the byte accounting: compression vs FP32 for the
whole model and every tensor group that stays wider than the recipe's matmul precision, with the reason.
"""

from __future__ import annotations

import argparse
import shutil
from collections import defaultdict
from pathlib import Path

from asr.errors import CheckpointError


def register(sub) -> None:
    p = sub.add_parser("export", help="write packed INT4/INT8 weights + scales; print compression vs FP32")
    p.add_argument("--from", dest="src", required=True, type=Path, help="QAT output folder (from `asr qat`)")
    p.add_argument("--out", required=True, type=Path, help="folder for model.packed.safetensors")
    p.add_argument("--verbose", action="store_true", help="list every tensor")
    p.set_defaults(func=_export)


def _group(row: dict) -> str:
    if row["name"].endswith(".codes"):
        return f"int{row['bits']} weight codes"
    return row["note"]


def _wider(rows: list[dict], matmul_bits: int | None) -> list[str]:
    """One line per weight stored wider than the recipe's matmul precision, with the reason."""
    out = []
    for row in rows:
        name = row["name"].removesuffix(".codes")
        if row["name"].endswith(".codes") and matmul_bits is not None and row["bits"] > matmul_bits:
            why = ("output layer: few parameters, its error goes straight into the softmax"
                   if name.split(".")[-2] in ("out", "output") else "see the recipe's description")
            out.append(f"{name}: int{row['bits']} ({row['params']:,} params) - kept wider by its recipe rule ({why})")
        elif row["name"].startswith("float."):
            out.append(f"{name}: FP16 ({row['params']:,} params) - no recipe rule matches it")
    return out


def _export(args: argparse.Namespace) -> int:
    from asr.model.io import CONFIG
    from asr.model.transducer import Transducer
    from asr.quant.io import RECIPE, is_qat_dir, load_qat
    from asr.quant.pack import PACKED_FILE, build_export, named_int_weights, read_packed, unpacked_weight, write_packed
    from asr.quant.prepare import convert

    src = args.src / "model" if is_qat_dir(args.src / "model") else args.src
    if not is_qat_dir(src):
        raise CheckpointError(f"{args.src}: not a QAT output folder (expected model/qat.safetensors; run `asr qat` first)")
    qmodel, cfg, recipe = load_qat(src)
    imodel = convert(qmodel, "int")
    fp32_params = Transducer(cfg).num_params()
    tensors, layout, report = build_export(imodel, fp32_params)
    args.out.mkdir(parents=True, exist_ok=True)
    out_file = args.out / PACKED_FILE
    write_packed(out_file, tensors, layout, {"recipe": recipe.name, "fp32_params": fp32_params})
    for name in (CONFIG, RECIPE):
        shutil.copyfile(src / name, args.out / name)
    # round trip: every packed weight must unpack to the integer model's dequantized weight
    back, layout2, _ = read_packed(out_file)
    worst = 0.0
    for name, w in named_int_weights(imodel).items():
        if name in layout2:
            ref = w.dequant()
            err = (unpacked_weight(back, layout2, name) - ref).abs().max() / ref.abs().max().clamp_min(1e-12)
            worst = max(worst, float(err))
    groups: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in report.rows:
        g = groups[_group(row)]
        g[0] += row["params"]
        g[1] += row["bytes"]
    file_bytes = out_file.stat().st_size
    print(f"{out_file}: recipe {recipe.name}, {fp32_params:,} parameters")
    print(f"  FP32 model:        {report.fp32_bytes:>12,} bytes")
    print(f"  packed tensors:    {report.packed_bytes:>12,} bytes  -> compression {report.ratio:.2f}x vs FP32")
    print(f"  file (with header):{file_bytes:>12,} bytes  -> {report.fp32_bytes / file_bytes:.2f}x")
    print(f"  round trip: packed weights unpack to the integer model's values (max rel. diff {worst:.1e}, FP16 scales)")
    print("  where the bytes go (what stays wider than the matmul precision, and why):")
    for name, (params, nbytes) in sorted(groups.items(), key=lambda kv: -kv[1][1]):
        share = 100 * params / fp32_params
        print(f"    {nbytes:>10,} B  {share:5.1f} % of params  {name}")
    matmul = recipe.precision.get("matmul", "")
    wider = _wider(report.rows, int(matmul[3:]) if matmul.startswith("int") else None)
    print(f"  weights stored wider than precision.matmul = {matmul}:" + ("" if wider else " none"))
    for line in wider:
        print(f"    {line}")
    print("  always wider: biases and scales (FP16, applied after the int32 accumulation in the FP16 datapath)")
    if args.verbose:
        for row in report.rows:
            print(f"    {row['name']:<50} {row['bits']:>2} bit {row['bytes']:>9,} B  {row['note']}")
    return 0
