"""Calibrate arch/h100.yaml on the measured H100 op latencies; report in-sample and leave-one-shape-out error.

    python3 scripts/calibrate_h100.py [--csv ../shared/data/h100_oplat_calib.csv] [--arch arch/h100.yaml]

Fits the few free parameters (accelsim/validate/calibrate.py: kernel-node overheads, per-SM load rate, L2
bandwidth, one efficiency per GEMM family, the W4A16 dequantization rate, the LSTM cell's kernel count on
``graph_us``; the two eager launch overheads on ``median_us``), writes them into the arch YAML with a
``[fitted on FILE, COLUMN, DATE]`` tag, then refits once per held-out (K, N) shape and writes the held-out
predictions to docs/validation_h100_cv.csv (what docs/validation.md's cross-validation table is made from).
The fit starts from the values the YAML holds (so a rerun on unchanged data only polishes them).
Deterministic: same inputs (data and YAML), same files.
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from accelsim.atomic import atomic_write_text  # noqa: E402
from accelsim.spec import load_arch  # noqa: E402
from accelsim.validate.calibrate import calibrate, fitted_values, leave_one_shape_out  # noqa: E402
from accelsim.validate.measured import read_measured  # noqa: E402
from accelsim.validate.report import group_errors  # noqa: E402
from accelsim.validate.yaml_values import set_tagged_values  # noqa: E402

DEFAULT_CSV = REPO.parent / "shared" / "data" / "h100_oplat_calib.csv"


def format_value(path: str, value: float) -> str:
    """YAML text of a fitted value with its unit, 4 significant digits."""
    if path.endswith("_s"):
        return f"{value * 1e6:.4g} us"
    if path.endswith("bandwidth"):
        return f"{value / 1e12:.4g} TB/s"
    if path.endswith("lstm_pointwise"):
        return str(int(round(value)))
    return f"{value:.4g}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv", default=str(DEFAULT_CSV), help="measured table (op,dtype,M,K,N,median_us,graph_us)")
    ap.add_argument("--arch", default=str(REPO / "arch" / "h100.yaml"), help="GPU arch YAML to rewrite")
    ap.add_argument("--cv-out", default=str(REPO / "docs" / "validation_h100_cv.csv"),
                    help="held-out predictions of the leave-one-shape-out cross-validation")
    ap.add_argument("--no-cv", action="store_true", help="fit and write the YAML only")
    ap.add_argument("--date", default=datetime.date.today().isoformat(), help="date written into the tags")
    args = ap.parse_args(argv)

    arch = load_arch(args.arch)
    df = read_measured(args.csv, "graph_us")
    df = read_measured(args.csv, "median_us").assign(graph_us=df["graph_us"])
    gpu = calibrate(arch, df)
    values = fitted_values(gpu, df)
    column = {p: "median_us" if "eager" in p else "graph_us" for p in values}
    text = Path(args.arch).read_text()
    new = set_tagged_values(text, {f"gpu.{p}": (format_value(p, v), column[p]) for p, v in values.items()},
                            Path(args.csv).name, args.date)
    atomic_write_text(args.arch, new)
    print(f"wrote {len(values)} fitted values into {args.arch}")
    fitted = load_arch(args.arch)
    for mode, col in (("graph", "graph_us"), ("eager", "median_us")):
        table = group_errors(fitted, df, mode, col)
        print(f"\nin-sample, {mode} ({col}):\n{table.to_string(index=False)}")
    if args.no_cv:
        return 0
    cv = leave_one_shape_out(arch, df)
    atomic_write_text(args.cv_out, cv.to_csv(index=False, float_format="%.6g"))
    for col, pred in (("graph_us", "cv_graph_us"), ("median_us", "cv_eager_us")):
        ape = (cv[pred] - cv[col]).abs() / cv[col]
        print(f"leave-one-shape-out MAPE on {col}: {ape.mean():.1%}")
    print(f"wrote {args.cv_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
