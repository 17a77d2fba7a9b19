"""How much do the INT4 model's greedy hypotheses move when its stored numbers move by one FP16 step?

    python3 scripts/export_fidelity.py --packed models/multi_int4 --manifest data/multi/source_test.jsonl --limit 100
    python3 scripts/export_fidelity.py ... --qat runs/qat_multi/int4/model     # + the QAT model it was exported from

The packed export (``asr export``) stores weight scales, biases and activation ranges in float16; the QAT model
holds them in float32. From the shipped packed model alone, each of those parts is perturbed by one FP16
rounding step (every value times ``1 + s * 2^-11``, random signs ``s`` seeded by ``--seed``) and the test set
decoded greedily (the path of ``asr eval``); printed: WER and the number of hypotheses that differ from the
unperturbed model's. With ``--qat`` (not shipped: ``models/multi/COMMAND.txt`` section 5 makes it), the QAT model
is also decoded fake-quantized and as integer modules with float32-stored numbers, and each part rounded to
float16 alone. One thread, one core; about 30 s per decode of 100 utterances.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from asr.data.manifest import read_manifest  # noqa: E402
from asr.quant.integer import IntLinear, IntLSTM, IntWeight  # noqa: E402
from asr.search.decode import transcribe, word_error_rate  # noqa: E402
from asr.search.scorer import FusionWeights, build_fusion  # noqa: E402
from asr.search.setup import load_acoustic  # noqa: E402
from asr.search.step import SearchConfig  # noqa: E402

PARTS = ("weight_scales", "act_ranges", "biases")
FP16_STEP = 2.0 ** -11  # [derived] relative spacing of float16 numbers (10-bit mantissa): one rounding step


def _round_fp16(t: torch.Tensor, gen: torch.Generator | None) -> torch.Tensor:
    return t.half().float()


def _one_step(t: torch.Tensor, gen: torch.Generator | None) -> torch.Tensor:
    signs = torch.randint(0, 2, t.shape, generator=gen).float() * 2 - 1
    return t * (1 + signs * FP16_STEP)


def changed(model: torch.nn.Module, part: str, fn, seed: int) -> torch.nn.Module:
    """A copy of the integer ``model`` whose ``part`` (one of PARTS) went through ``fn(tensor, generator)``."""
    m, gen = copy.deepcopy(model), torch.Generator().manual_seed(seed)
    scalar = lambda v: float(fn(torch.tensor([v], dtype=torch.float32), gen)[0])  # noqa: E731
    # zero points are integer codes, exact in float16: only the scale moves
    act = lambda a: a if a is None or a.fmt is not None else dataclasses.replace(a, scale=scalar(a.scale))  # noqa: E731
    for mod in m.modules():
        if part == "weight_scales" and isinstance(mod, IntWeight) and mod.is_int:
            mod.scale.copy_(fn(mod.scale, gen))
        elif part == "biases":
            for name, b in mod.named_buffers(recurse=False):
                if name.startswith("bias") and b is not None:
                    b.copy_(fn(b, gen))
        elif part == "act_ranges" and isinstance(mod, IntLinear):
            mod.act = act(mod.act)
        elif part == "act_ranges" and isinstance(mod, IntLSTM):
            mod.act_in, mod.act_h = [act(a) for a in mod.act_in], [act(a) for a in mod.act_h]
    return m


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--packed", default="models/multi_int4", help="packed export (asr export's folder)")
    p.add_argument("--qat", default=None, help="the QAT model folder it was exported from (optional)")
    p.add_argument("--manifest", default="data/multi/source_test.jsonl")
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    utts = read_manifest(args.manifest)[: args.limit or None]
    cfg, fusion = SearchConfig(beam=1, algorithm="alsd"), build_fusion(FusionWeights("none"), None, None)
    print(f"{len(utts)} utterances of {args.manifest}, greedy (ALSD beam 1), one thread")

    def decode(model):
        enc, dec = transcribe(model, utts, cfg, fusion, progress=False)
        return word_error_rate(enc, dec), [d.text for d in dec]

    def report(label: str, result, ref) -> None:
        wer, hyps = result
        print(f"  {label:58s} WER {wer:6.2f} %   {sum(a != b for a, b in zip(hyps, ref)):3d} hypotheses differ")

    packed, _, _ = load_acoustic(args.packed)
    ref = decode(packed)
    print(f"shipped packed export {args.packed} (integer path): WER {ref[0]:.2f} %; each part one FP16 step off:")
    for part in PARTS:
        report(f"{part} x (1 +- 2^-11)", decode(changed(packed, part, _one_step, args.seed)), ref[1])
    if args.qat:
        from asr.quant.prepare import convert

        fq, _, _ = load_acoustic(args.qat)
        whole = convert(fq, "int").eval()
        base = decode(whole)
        print(f"QAT model {args.qat}, against its integer modules with float32-stored numbers "
              f"(WER {base[0]:.2f} %):")
        report("fake-quant (asr qat's own scoring)", decode(fq), base[1])
        for part in PARTS:
            report(f"{part} rounded to float16", decode(changed(whole, part, _round_fp16, args.seed)), base[1])
        report(f"the packed export {args.packed}", ref, base[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
