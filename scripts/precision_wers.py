"""Measure each shipped workload's WER at every precision and record it in its workload.yaml.

    python3 scripts/precision_wers.py --model models/multi workloads/*   # 10 search configs x 3 precisions, ~5 min

A workload's ``accuracy.wer_percent`` is the WER of the FP32 decode it was traced from. This script decodes the
same utterances with the same search (algorithm, beam, fusion and weights from the workload) with the FP32
model ``--model`` (the one the workloads were traced from, + `models/lm_*`), its INT8 export (``MODEL_int8`` +
`models/lm_*/int8`) and its INT4 export (``MODEL_int4`` + `models/lm_*/int4`, QAT) running the integer
path, and writes ``accuracy.wer_by_precision`` {fp32, int8, int4} and ``accuracy.speech`` (the speech of the
test set, as `asr.train.report` names it) into the workload.yaml
(nothing else changes: the ops file and its checksum are untouched). The FP32 decode must reproduce the recorded
``wer_percent``, else the script stops. The report then pairs every simulated precision with its own WER.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from accelsim.atomic import atomic_write_text  # noqa: E402
from asr.data.manifest import read_manifest  # noqa: E402
from asr.search.decode import transcribe, word_error_rate  # noqa: E402
from asr.search.scorer import FusionWeights  # noqa: E402
from asr.search.setup import is_integer_model, load_acoustic, load_fusion  # noqa: E402
from asr.search.step import SearchConfig  # noqa: E402

ESPEAK_SPEECH = "espeak-ng synthesized speech (project corpus: 7 English accents x 32 voice variants)"


def models_of(model: Path) -> dict[str, Path]:
    """{precision: model folder}: ``model`` and its packed exports ``<model>_int8``, ``<model>_int4``."""
    return {"fp32": model, "int8": model.with_name(model.name + "_int8"), "int4": model.with_name(model.name + "_int4")}


def speech_of(manifest: Path) -> str:
    """What speech the test set holds (``asr.train.report.TEST_SETS``; the espeak-ng corpus otherwise)."""
    from asr.train.report import UNKNOWN_SPEECH, speech_of as named

    path = Path(os.path.abspath(manifest))
    inside = path.is_relative_to(ROOT) and path.relative_to(ROOT).as_posix().startswith("data/corpus/")
    return named(manifest, ESPEAK_SPEECH if inside else UNKNOWN_SPEECH, root=ROOT)


def with_accuracy(text: str, accuracy: dict, where: str) -> str:
    """``text`` of a workload.yaml with its top-level ``accuracy`` mapping replaced by ``accuracy`` (one line),
    every other line as it was. The old mapping may be wrapped onto indented continuation lines."""
    line = "accuracy: " + yaml.safe_dump(accuracy, default_flow_style=True, width=10_000).strip() + "\n"
    out, n = re.subn(r"(?m)^accuracy:.*\n(?:[ \t]+\S.*\n)*", line, text, count=1)
    if n != 1:
        raise SystemExit(f"{where}: no accuracy mapping to update")
    if yaml.safe_load(out).get("accuracy") != accuracy:
        raise SystemExit(f"{where}: the rewritten accuracy mapping does not read back")
    return out


def _test_set(test_set: str) -> tuple[Path, int]:
    """(manifest, utterances) from a workload's ``accuracy.test_set`` ("PATH (first N utterances)")."""
    m = re.fullmatch(r"(\S+)(?: \(first (\d+) utterances\))?", test_set.strip())
    if m is None:
        raise SystemExit(f"cannot read the test set {test_set!r}")
    return ROOT / m.group(1), int(m.group(2) or 0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=Path("models/multi"),
                   help="FP32 model the workloads were traced from; its _int8 / _int4 exports beside it")
    p.add_argument("workloads", nargs="+", type=Path)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    model = args.model if args.model.is_absolute() else ROOT / args.model
    models = {prec: load_acoustic(path) for prec, path in models_of(model).items()}
    done: dict[tuple, float] = {}
    for wl in args.workloads:
        meta_path = wl / "workload.yaml"
        text = meta_path.read_text(encoding="utf-8")
        meta = yaml.safe_load(text)
        acc = meta.get("accuracy")
        if meta.get("synthetic") or not acc:
            print(f"{wl}: no measured accuracy (synthetic), skipped")
            continue
        manifest, limit = _test_set(acc["test_set"])
        utts = read_manifest(manifest)[: limit or None]
        s = meta["search"]
        fw = s.get("fusion_weights") or {}
        weights = FusionWeights(s["fusion"], fw.get("lambda", 0.0), fw.get("mu", 0.0), fw.get("rho", 0.0)) \
            if s["fusion"] != "none" else FusionWeights("none")
        cfg = SearchConfig(beam=int(s["beam"]), algorithm=s["algorithm"])
        by = {}
        for prec, (model, path, recipe) in models.items():
            key = (prec, str(manifest), len(utts), cfg, weights)
            if key not in done:
                fusion, _ = load_fusion(weights, None, None, recipe, acoustic_dir=path, integer=is_integer_model(model))
                encoded, decoded = transcribe(model, utts, cfg, fusion, progress=False)
                done[key] = round(word_error_rate(encoded, decoded), 3)
            by[prec] = done[key]
        if abs(by["fp32"] - float(acc["wer_percent"])) > 0.01:
            raise SystemExit(f"{meta_path}: the FP32 decode gives WER {by['fp32']} %, the workload records "
                             f"{acc['wer_percent']} %: not the same decode")
        new = dict(acc, wer_by_precision=by, speech=speech_of(manifest))
        atomic_write_text(meta_path, with_accuracy(text, new, str(meta_path)))
        print(f"{wl}: {s['algorithm']} beam {s['beam']} fusion {s['fusion']}, {len(utts)} utterances: "
              + ", ".join(f"{k} {v:.2f} %" for k, v in by.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
