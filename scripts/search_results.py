"""WER by beam x fusion x precision on the target-domain test sets -> docs/results-search.md (+ a tidy CSV).

    python scripts/search_results.py --ckpt models/small --int4-ckpt models/small_int4 --int8-ckpt models/small_int8 \
        --extra-manifests data/multi/target_test_unseen.jsonl,data/multi/target_test_independent.jsonl \
        --extra-beams 1,16 --extra-limit 50 --limit 100

FP32 and INT4 on ``--manifest`` (the in-domain set) are decoded at every beam of ``--beams``; INT8, and every
precision on each of ``--extra-manifests`` (speech the models never heard), at ``--extra-beams`` (fewer beams:
the integer path is slow on this CPU). Each (test set, precision, fusion, beam) point decodes the same
utterances (encoder run once per precision and test set). Rows are appended to the CSV as they finish, so a
killed run resumes where it stopped (``--resume``). The Markdown page is rendered from the CSV only
(``--render-only`` re-renders without decoding).
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
from asr.train.report import speech_of  # noqa: E402

FUSIONS = ("none", "shallow", "dr")
PRECISIONS = ("fp32", "int8", "int4")
COLUMNS = ["test_set", "precision", "fusion", "beam", "wer_percent", "utterances", "audio_s", "search_cpu_s", "rtf_search_cpu",
           "lambda", "mu", "rho"]


def _save(df: pd.DataFrame, path: Path) -> None:
    atomic_write(path, lambda p: df.to_csv(p, index=False))


def read_points(csv: Path, manifest: str) -> pd.DataFrame:
    """The CSV's points; a CSV written before the ``test_set`` column holds ``manifest`` only."""
    df = pd.read_csv(csv)
    if "test_set" not in df.columns:
        df.insert(0, "test_set", manifest)
    return df


def test_sets(args: argparse.Namespace) -> list[str]:
    """The in-domain manifest first, then the extra ones."""
    return [args.manifest] + [m for m in args.extra_manifests if m != args.manifest]


def beams_for(args: argparse.Namespace, test_set: str, precision: str) -> list[int]:
    """Every beam for FP32 / INT4 on the in-domain set; ``--extra-beams`` for the rest."""
    return args.beams if test_set == args.manifest and precision in ("fp32", "int4") else args.extra_beams


def run(args: argparse.Namespace, csv: Path) -> pd.DataFrame:
    done = read_points(csv, args.manifest) if args.resume and csv.is_file() else pd.DataFrame(columns=COLUMNS)
    systems = [("fp32", args.ckpt, None, args.lm_target, args.lm_source)]
    if args.int8_ckpt:
        systems.append(("int8", args.int8_ckpt, None, args.lm_target_int8, args.lm_source_int8))
    if args.int4_ckpt:
        systems.append(("int4", args.int4_ckpt, args.recipe, args.lm_target_int4, args.lm_source_int4))
    for precision, ckpt, recipe, lm_t, lm_s in systems:
        model, path, recipe = load_acoustic(ckpt, recipe)
        integer = is_integer_model(model)
        for test_set in test_sets(args):
            beams = beams_for(args, test_set, precision)
            todo = [(f, b) for f in FUSIONS for b in beams if not len(done[(done.test_set == test_set) & (
                done.precision == precision) & (done.fusion == f) & (done.beam == b)])]
            if not todo:
                continue
            encoded = encode(model, read_utts(test_set, args.limit if test_set == args.manifest else args.extra_limit))
            audio = sum(e.seconds for e in encoded)
            for fusion_kind in FUSIONS:
                wfile = {"dr": args.weights_dr, "shallow": args.weights_shallow}.get(fusion_kind)
                weights = fusion_weights(fusion_kind, None, None, None, wfile)
                fusion, _ = load_fusion(weights, lm_t, lm_s, recipe, acoustic_dir=path, integer=integer)
                for beam in (b for f, b in todo if f == fusion_kind):
                    t0 = time.process_time()
                    decoded = decode_all(model, encoded, SearchConfig(beam=beam, algorithm=args.algorithm), fusion)
                    cpu = time.process_time() - t0
                    wer = word_error_rate(encoded, decoded)
                    row = {"test_set": test_set, "precision": precision, "fusion": fusion_kind, "beam": beam,
                           "wer_percent": round(wer, 3),
                           "utterances": len(encoded), "audio_s": round(audio, 2), "search_cpu_s": round(cpu, 2),
                           "rtf_search_cpu": round(cpu / audio, 4), "lambda": weights.lam, "mu": weights.mu,
                           "rho": weights.rho}
                    print(row, flush=True)
                    done = pd.concat([done, pd.DataFrame([row])], ignore_index=True)
                    _save(done, csv)
    return done


def _wer_table(sub: pd.DataFrame) -> list[str]:
    """Rows (precision, fusion with its weights), columns beams: WER %."""
    beams = sorted(int(b) for b in sub["beam"].unique())
    out = ["| precision | fusion (lambda, mu, rho) | " + " | ".join(f"beam {b}" for b in beams) + " |",
           "|---|---|" + "---:|" * len(beams)]
    for precision in (p for p in PRECISIONS if p in set(sub.precision)):
        for fusion in (f for f in FUSIONS if f in set(sub[sub.precision == precision].fusion)):
            pts = sub[(sub.precision == precision) & (sub.fusion == fusion)]
            w = pts.iloc[0]
            wts = "" if fusion == "none" else f" ({w['lambda']:g}, {w['mu']:g}, {w['rho']:g})"
            by_beam = dict(zip(pts.beam.astype(int), pts.wer_percent))
            out.append(f"| {precision.upper()} | {fusion}{wts} | "
                       + " | ".join(f"{by_beam[b]:.2f}" if b in by_beam else "-" for b in beams) + " |")
    return out


def _side_by_side(df: pd.DataFrame, sets: list[str]) -> list[str]:
    """Greedy and the largest beam common to every test set, one column per test set."""
    common = set.intersection(*(set(df[df.test_set == t].beam.astype(int)) for t in sets))
    if not common or len(sets) < 2:
        return []
    big = max(common)
    out = [f"## Every test set side by side (greedy = beam 1 without LM; beam {big})", "",
           "| precision | search | " + " | ".join(f"`{t}`" for t in sets) + " |", "|---|---|" + "---:|" * len(sets),
           "| | speech | " + " | ".join(speech_of(t) for t in sets) + " |"]
    rows = [("none", 1, "greedy (beam 1, no LM)")] + [(f, big, f"beam {big}, {f}") for f in FUSIONS]
    for precision in (p for p in PRECISIONS if p in set(df.precision)):
        for fusion, beam, label in rows:
            cells = []
            for t in sets:
                v = df[(df.test_set == t) & (df.precision == precision) & (df.fusion == fusion) & (df.beam == beam)]
                cells.append(f"{float(v.wer_percent.iloc[0]):.2f}" if len(v) else "-")
            out.append(f"| {precision.upper()} | {label} | " + " | ".join(cells) + " |")
        g = [gains(df[df.test_set == t]).get(big, {}).get(precision) for t in sets]
        out.append(f"| {precision.upper()} | DR gain at beam {big} (points) | "
                   + " | ".join("-" if v is None else f"{v:+.2f}" for v in g) + " |")
    return out + [""]


def render(df: pd.DataFrame, args: argparse.Namespace, command: str) -> str:
    if "test_set" not in df.columns:
        df = df.assign(test_set=args.manifest)
    df = df.astype({"beam": int, "wer_percent": float})
    main_df = df[df.test_set == args.manifest]
    extra = [t for t in test_sets(args) if t != args.manifest and (df.test_set == t).any()]
    size = lambda d: (f" (first {int(d['utterances'].iloc[0])} utterances, {float(d['audio_s'].iloc[0]):.0f} s of"  # noqa: E731
                      " audio)" if len(d) else "")
    lines = [
        "# Search results: WER by beam, LM fusion and precision",
        "",
        f"Target-domain test set `{args.manifest}`: {speech_of(args.manifest)}, the speech the acoustic model was"
        f" trained on{size(main_df)}; {args.algorithm.upper()} search"
        + ("; the same sentences spoken by voices the models never heard below" if extra else "")
        + ". Regenerate with:",
        "",
        "```",
        command,
        "```",
        "",
        "WER in % (lower is better). `none`: no LM; `shallow`: + lambda log P_target + rho |y|; `dr`: density ratio,"
        " also - mu log P_source. Fusion weights were tuned on the target dev set with `asr tune-fusion`"
        f" ({args.weights_dr}, {args.weights_shallow}) and are the same for every precision and test set.",
        "",
        f"Systems: FP32 = acoustic model `{args.ckpt}` with LMs `{args.lm_target}`, `{args.lm_source}`"
        + (f"; INT8 = `{args.int8_ckpt}` with LMs `{args.lm_target_int8}`, `{args.lm_source_int8}`"
           if args.int8_ckpt and "int8" in set(df.precision) else "")
        + f"; INT4 = `{args.int4_ckpt}` with QAT LMs `{args.lm_target_int4}`, `{args.lm_source_int4}`"
        + (" (the shipped packed exports, running the integer path: integer codes, integer-exact accumulation;"
           " the LMs converted to the same integer modules)." if args.int4_ckpt and (Path(args.int4_ckpt) /
           "model.packed.safetensors").is_file() else " (fake-quantized with the recipe stored beside each model)."),
        "",
    ]
    for precision in (p for p in PRECISIONS if p in set(main_df.precision)):
        sub = main_df[main_df.precision == precision]
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
    lines += _gains(main_df)
    if extra:
        lines += ["## Speech the models never heard", "",
                  "The same search, LMs and fusion weights on the same KJV sentences spoken by other synthesizers:"
                  " none of these voices was used to train or tune any model or weight.", ""]
    for t in extra:
        sub = df[df.test_set == t]
        lines += [f"### `{t}`", "", f"{speech_of(t)}{size(sub)}.", ""] + _wer_table(sub) + [""]
        lines += _gains(sub)[2:] + [verdict(sub), ""]
    lines += _side_by_side(df, [args.manifest] + extra)
    lines += [
        "Notes: the INT8 / INT4 CPU times measure the integer arithmetic emulated on this CPU (codes in float32",
        "BLAS, Python LSTM loops: slower than FP32 here); the speed of real integer arithmetic is the simulator's",
        "business (`accelsim compare arch/fp16.yaml arch/int4.yaml ...`).",
        "WER differences below about 2 points are within the noise of 100 utterances (about 900 words).",
        f"In-domain (`{args.manifest}`): " + verdict(main_df),
    ]
    return "\n".join(lines) + "\n"


GOAL_GAIN_POINTS = 1.5  # [published] PAPER.md: DR fusion at least 1.5 WER points better than no LM
GOAL_KEPT = 0.8  # [published] PAPER.md: INT4 keeps at least 80 % of the FP32 gain


def gains(df: pd.DataFrame) -> dict[int, dict[str, float | None]]:
    """{beam: {fp32, int8, int4}} DR-fusion gain in WER points (no LM minus DR) measured in ``df`` (None: absent)."""
    get = lambda p, f, b: df[(df.precision == p) & (df.fusion == f) & (df.beam == b)]["wer_percent"]  # noqa: E731
    out = {}
    for b in sorted(int(x) for x in df["beam"].unique()):
        g = {}
        for p in PRECISIONS:
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
    g_all = gains(df)
    int8 = any(g["int8"] is not None for g in g_all.values())
    out = ["## DR fusion gain", "", "| beam | FP32 gain (points) | " + ("INT8 gain (points) | " if int8 else "")
           + "INT4 gain (points) | INT4 keeps |", "|---:|---:|---:|" + ("---:|" if int8 else "") + "---:|"]
    fmt = lambda v: "-" if v is None else f"{v:+.2f}"  # noqa: E731
    for b, g in g_all.items():
        keeps = f"{100 * g['int4'] / g['fp32']:.0f} %" if g["int4"] is not None and g["fp32"] else "-"
        out.append(f"| {b} | {fmt(g['fp32'])} | " + (f"{fmt(g['int8'])} | " if int8 else "") + f"{fmt(g['int4'])} | {keeps} |")
    return out + [""]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ckpt", default="models/small")
    p.add_argument("--int4-ckpt", default=None, help="QAT checkpoint of the acoustic model (omit: FP32 only)")
    p.add_argument("--int8-ckpt", default=None, help="INT8 export of the acoustic model (omit: no INT8 rows)")
    p.add_argument("--lm-target-int8", default="models/lm_target/int8")
    p.add_argument("--lm-source-int8", default="models/lm_source/int8")
    p.add_argument("--recipe", default=None, help="expected recipe of --int4-ckpt (checked)")
    p.add_argument("--lm-target", default="models/lm_target")
    p.add_argument("--lm-source", default="models/lm_source")
    p.add_argument("--lm-target-int4", default="models/lm_target/int4")
    p.add_argument("--lm-source-int4", default="models/lm_source/int4")
    p.add_argument("--weights-dr", default="models/lm_target/fusion_dr.json")
    p.add_argument("--weights-shallow", default="models/lm_target/fusion_shallow.json")
    p.add_argument("--manifest", default="data/corpus/target_test.jsonl")
    p.add_argument("--extra-manifests", type=lambda s: [m for m in s.split(",") if m], default=[],
                   help="comma-separated test manifests of other speech, decoded at --extra-beams")
    p.add_argument("--limit", type=int, default=100, help="first N utterances of every test set (0: all)")
    p.add_argument("--beams", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2, 4, 8, 16, 32])
    p.add_argument("--extra-limit", type=int, default=100, help="first N utterances of every --extra-manifests set")
    p.add_argument("--extra-beams", type=lambda s: [int(x) for x in s.split(",")], default=[1, 4, 16],
                   help="beams of INT8 and of every precision on --extra-manifests")
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
    df = read_points(csv, args.manifest) if args.render_only else run(args, csv)
    command = "python scripts/search_results.py " + shlex.join(a for a in (argv or sys.argv[1:]) if a not in ("--resume", "--render-only"))
    atomic_write_text(args.out, render(df, args, command))
    print(f"wrote {args.out} ({len(df)} points)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
