"""INT8 post-training quantization of the shipped models: the INT8 point of the precision comparison.

    python3 scripts/ptq_int8.py [--data data/corpus] [--calib-utts 800]

Calibrates `recipes/int8.yaml` activation ranges (8 batches; weights need no data) of `models/small` on the first
``--calib-utts`` source-train utterances and writes the packed integer export `models/small_int8/` (loads in
`asr decode` / `asr eval` like `models/small_int4`); calibrates the same recipe on the first sentences of each LM's
own training text and writes `models/lm_target/int8`, `models/lm_source/int8`. No fine-tuning: at 8 bits
post-training quantization is already within noise of FP32 (docs/results-quant.md: PTQ 19.08 / 23.07 vs FP32
19.12 / 23.29). Deterministic (seeded batches, one thread).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from accelsim.atomic import atomic_write_text  # noqa: E402
from asr.data.dataset import SpeechDataset  # noqa: E402
from asr.lm.model import load_lm, save_lm  # noqa: E402
from asr.lm.train import quantize_for_qat, read_sentences  # noqa: E402
from asr.model.io import CONFIG, load_model  # noqa: E402
from asr.quant.pack import PACKED_FILE, build_export, write_packed  # noqa: E402
from asr.quant.prepare import convert  # noqa: E402
from asr.quant.qat import QATConfig, prepare_calibrated  # noqa: E402
from asr.quant.recipe import load_recipe  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=ROOT / "data/corpus")
    p.add_argument("--calib-utts", type=int, default=800)
    p.add_argument("--recipe", type=Path, default=ROOT / "recipes/int8.yaml")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    recipe = load_recipe(args.recipe)
    fp32, mcfg = load_model(ROOT / "models/small")
    train = SpeechDataset(args.data / "source_train.jsonl", mcfg.features, limit=args.calib_utts, min_frames=mcfg.stack)
    qmodel = prepare_calibrated(fp32, recipe, train, QATConfig(calib_batches=8))
    fp32_params = sum(p.numel() for p in fp32.parameters())
    tensors, layout, report = build_export(convert(qmodel, "int"), fp32_params)
    out = ROOT / "models/small_int8"
    out.mkdir(exist_ok=True)
    write_packed(out / PACKED_FILE, tensors, layout, {"recipe": recipe.name, "fp32_params": fp32_params})
    shutil.copyfile(ROOT / "models/small" / CONFIG, out / CONFIG)
    atomic_write_text(out / "recipe.yaml", yaml.safe_dump(recipe.to_dict(), sort_keys=False))
    command = "python3 scripts/ptq_int8.py " + " ".join(argv if argv is not None else sys.argv[1:])
    atomic_write_text(out / "PTQ_COMMAND.txt", command.strip() + "\n")
    print(f"{out}: {recipe.name} PTQ, calibrated on {len(train)} source-train utterances; compression "
          f"{report.ratio:.2f}x vs FP32")
    for role in ("target", "source"):
        lm_dir = ROOT / f"models/lm_{role}"
        lm, meta = load_lm(lm_dir)
        sentences = read_sentences(meta.get("text") and ROOT / meta["text"] or args.data / f"lm_{role}_train.txt")
        qlm, rec = quantize_for_qat(lm, args.recipe, sentences)
        save_lm(qlm, lm_dir / recipe.name, meta={**meta, "recipe": rec, "ptq": True, "command": command.strip()})
        print(f"{lm_dir / recipe.name}: {recipe.name} PTQ of {lm_dir}, calibrated on its first training sentences")
    return 0


if __name__ == "__main__":
    sys.exit(main())
