"""WER by beam x fusion x precision on the target-domain test set -> docs/results-search.md (+ a tidy CSV).

    python scripts/search_results.py --ckpt models/small --int4-ckpt runs/qat_int4/model \
        --weights-dr models/lm_target/fusion_dr.json --weights-shallow models/lm_target/fusion_shallow.json --limit 100

Each (precision, fusion, beam) point decodes the same utterances (encoder run once per precision). Rows are
appended to the CSV as they finish, so a killed run resumes where it stopped (``--resume``). The Markdown
page is rendered from the CSV only (``--render-only`` re-renders without decoding).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from accelsim.atomic import atomic_write, atomic_write_text  # noqa: E402
from asr.cli.decode import read_utts  # noqa: E402
from asr.search.decode import decode_all, encode, word_error_rate  # noqa: E402
from asr.search.setup import fusion_weights, is_integer_model, load_acoustic, load_fusion  # noqa: E402
from asr.search.step import SearchConfig  # noqa: E402

FUSIONS = ("none", "shallow", "dr")
COLUMNS = ["precision", "fusion", "beam", "wer_percent", "utterances", "audio_s", "search_cpu_s", "rtf_search_cpu",
           "lambda", "mu", "rho"]


def _save(df: pd.DataFrame, path: Path) -> None:
    atomic_write(path, lambda p: df.to_csv(p, index=False))


def run(args: argparse.Namespace, csv: Path) -> pd.DataFrame:
    done = pd.read_csv(csv) if args.resume and csv.is_file() else pd.DataFrame(columns=COLUMNS)
    systems = [("fp32", args.ckpt, None, args.lm_target, args.lm_source)]
    if args.int4_ckpt:
        systems.append(("int4", args.int4_ckpt, args.recipe, args.lm_target_int4, args.lm_source_int4))
    utts = read_utts(args.manifest, args.limit)
    for precision, ckpt, recipe, lm_t, lm_s in systems:
        model, path, recipe = load_acoustic(ckpt, recipe)
        integer = is_integer_model(model)
        encoded = encode(model, utts)
        audio = sum(e.seconds for e in encoded)
        for fusion_kind in FUSIONS:
            wfile = {"dr": args.weights_dr, "shallow": args.weights_shallow}.get(fusion_kind)
            weights = fusion_weights(fusion_kind, None, None, None, wfile)
            fusion, _ = load_fusion(weights, lm_t, lm_s, recipe, acoustic_dir=path, integer=integer)
            for beam in args.beams:
                hit = done[(done.precision == precision) & (done.fusion == fusion_kind) & (done.beam == beam)]
                if len(hit):
                    continue
                t0 = time.process_time()
                decoded = decode_all(model, encoded, SearchConfig(beam=beam, algorithm=args.algorithm), fusion)
                cpu = time.process_time() - t0
                wer = word_error_rate(encoded, decoded)
                row = {"precision": precision, "fusion": fusion_kind, "beam": beam, "wer_percent": round(wer, 3),
                       "utterances": len(encoded), "audio_s": round(audio, 2), "search_cpu_s": round(cpu, 2),
                       "rtf_search_cpu": round(cpu / audio, 4), "lambda": weights.lam, "mu": weights.mu,
                       "rho": weights.rho}
                print(row, flush=True)
                done = pd.concat([done, pd.DataFrame([row])], ignore_index=True)
                _save(done, csv)
    return done


def render(df: pd.DataFrame, args: argparse.Namespace, command: str) -> str:
    df = df.astype({"beam": int, "wer_percent": float})
    lines = [
        "# Search results: WER by beam, LM fusion and precision",
        "",
        f"Target-domain test set `{args.manifest}` (espeak-ng synthesized speech, the project corpus's voices)"
        + (f" (first {int(df['utterances'].iloc[0])} utterances, {float(df['audio_s'].iloc[0]):.0f} s of audio)"
           if len(df) else "")
        + f", {args.algorithm.upper()} search. Regenerate with:",
        "",
        "```",
        command,
        "```",
        "",
        "WER in % (lower is better). `none`: no LM; `shallow`: + lambda log P_target + rho |y|; `dr`: density ratio,"
        " also - mu log P_source. Fusion weights were tuned on the target dev set with `asr tune-fusion`"
        f" ({args.weights_dr}, {args.weights_shallow}) and are the same for both precisions.",
        "",
        f"Systems: FP32 = acoustic model `{args.ckpt}` with LMs `{args.lm_target}`, `{args.lm_source}`; INT4 = "
        f"`{args.int4_ckpt}` with QAT LMs `{args.lm_target_int4}`, `{args.lm_source_int4}`"
        + (" (the shipped packed export, running the integer path: int4/int8 codes, integer-exact accumulation;"
           " the LMs converted to the same integer modules)." if args.int4_ckpt and (Path(args.int4_ckpt) /
           "model.packed.safetensors").is_file() else " (fake-quantized with the recipe stored beside each model)."),
        "",
    ]
    for precision in sorted(df["precision"].unique(), key=lambda p: ("fp32", "int4").index(p)):
        sub = df[df.precision == precision]
        table = sub.pivot_table(index="fusion", columns="beam", values="wer_percent").reindex(
            [f for f in FUSIONS if f in set(sub.fusion)])
        w = sub.groupby("fusion").first()
        lines += [f"## {precision.upper()}", "", "| fusion (lambda, mu, rho) | " + " | ".join(
            f"beam {b}" for b in table.columns) + " |", "|---|" + "---:|" * len(table.columns)]
        for fusion, row in table.iterrows():
            wts = "" if fusion == "none" else f" ({w.loc[fusion, 'lambda']:g}, {w.loc[fusion, 'mu']:g}, " \
                                               f"{w.loc[fusion, 'rho']:g})"
            lines.append(f"| {fusion}{wts} | " + " | ".join(f"{v:.2f}" for v in row.values) + " |")
        rtf = sub.pivot_table(index="fusion", columns="beam", values="rtf_search_cpu").reindex(table.index)
        lines += ["", "Search CPU time / audio time (one thread, `time.process_time`):", "",
                  "| fusion | " + " | ".join(f"beam {b}" for b in rtf.columns) + " |",
                  "|---|" + "---:|" * len(rtf.columns)]
        for fusion, row in rtf.iterrows():
            lines.append(f"| {fusion} | " + " | ".join(f"{v:.3f}" for v in row.values) + " |")
        lines.append("")
    lines += _gains(df)
    lines += [
        "Notes: the INT4 CPU times measure the integer arithmetic emulated on this CPU (codes in float32 BLAS,",
        "Python LSTM loops: slower than FP32 here); the speed of real INT4 arithmetic is the simulator's business",
        "(`accelsim compare arch/fp16.yaml arch/int4.yaml ...`).",
        "WER differences below about 2 points are within the noise of 100 utterances (about 900 words).",
        verdict(df),
    ]
    return "\n".join(lines) + "\n"


GOAL_GAIN_POINTS = 1.5  # [published] PAPER.md: DR fusion at least 1.5 WER points better than no LM
GOAL_KEPT = 0.8  # [published] PAPER.md: INT4 keeps at least 80 % of the FP32 gain


def gains(df: pd.DataFrame) -> dict[int, dict[str, float | None]]:
    """{beam: {fp32, int4}} DR-fusion gain in WER points (no LM minus DR) measured in ``df``."""
    get = lambda p, f, b: df[(df.precision == p) & (df.fusion == f) & (df.beam == b)]["wer_percent"]  # noqa: E731
    out = {}
    for b in sorted(int(x) for x in df["beam"].unique()):
        g = {}
        for p in ("fp32", "int4"):
            none, dr = get(p, "none", b), get(p, "dr", b)
            g[p] = float(none.iloc[0]) - float(dr.iloc[0]) if len(none) and len(dr) else None
        out[b] = g
    return out


def verdict(df: pd.DataFrame) -> str:
    """The goal sentence computed from the gains printed above (which beams meet it, which do not)."""
    met, missed = [], []
    for b, g in gains(df).items():
        if g["fp32"] is None or g["int4"] is None:
            continue
        kept = g["int4"] / g["fp32"] if g["fp32"] > 0 else 0.0
        ok = g["fp32"] >= GOAL_GAIN_POINTS and g["int4"] >= GOAL_GAIN_POINTS and kept >= GOAL_KEPT
        (met if ok else missed).append((b, g, kept))
    head = (f"The paper's goal (DR fusion at least {GOAL_GAIN_POINTS} points better than no LM; INT4 keeps at least "
            f"{100 * GOAL_KEPT:.0f} % of the gain) is ")
    if not met and not missed:
        return head + "not measured in this run (no FP32 and INT4 rows at the same beam)."
    beams = lambda rows: ", ".join(str(b) for b, _, _ in rows)  # noqa: E731
    if not missed:
        return head + f"met at every beam measured ({beams(met)})."
    detail = "; ".join(f"beam {b}: FP32 {g['fp32']:+.2f}, INT4 {g['int4']:+.2f} points, INT4 keeps {100 * k:.0f} %"
                       for b, g, k in missed)
    return head + (f"met at beams {beams(met)} and " if met else "") + f"not met at beams {beams(missed)} ({detail})."


def _gains(df: pd.DataFrame) -> list[str]:
    out = ["## DR fusion gain", "", "| beam | FP32 gain (points) | INT4 gain (points) | INT4 keeps |", "|---:|---:|---:|---:|"]
    for b, g in gains(df).items():
        keeps = f"{100 * g['int4'] / g['fp32']:.0f} %" if g["int4"] is not None and g["fp32"] else "-"
        fmt = lambda v: "-" if v is None else f"{v:+.2f}"  # noqa: E731
        out.append(f"| {b} | {fmt(g['fp32'])} | {fmt(g['int4'])} | {keeps} |")
    return out + [""]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ckpt", default="models/small")
    p.add_argument("--int4-ckpt", default=None, help="QAT checkpoint of the acoustic model (omit: FP32 only)")
    p.add_argument("--recipe", default=None, help="expected recipe of --int4-ckpt (checked)")
    p.add_argument("--lm-target", default="models/lm_target")
    p.add_argument("--lm-source", default="models/lm_source")
    p.add_argument("--lm-target-int4", default="models/lm_target/int4")
    p.add_argument("--lm-source-int4", default="models/lm_source/int4")
    p.add_argument("--weights-dr", default="models/lm_target/fusion_dr.json")
    p.add_argument("--weights-shallow", default="models/lm_target/fusion_shallow.json")
    p.add_argument("--manifest", default="data/corpus/target_test.jsonl")
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--beams", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2, 4, 8, 16, 32])
    p.add_argument("--algorithm", default="alsd", choices=("alsd", "mbs"))
    p.add_argument("--csv", default="docs/results-search.csv")
    p.add_argument("--out", default="docs/results-search.md")
    p.add_argument("--resume", action="store_true", help="keep rows already in --csv")
    p.add_argument("--render-only", action="store_true", help="re-render --out from --csv, no decoding")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    torch.set_num_threads(1)
    csv = Path(args.csv)
    df = pd.read_csv(csv) if args.render_only else run(args, csv)
    command = "python scripts/search_results.py " + shlex.join(a for a in (argv or sys.argv[1:]) if a not in ("--resume", "--render-only"))
    atomic_write_text(args.out, render(df, args, command))
    print(f"wrote {args.out} ({len(df)} points)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
