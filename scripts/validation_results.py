"""Regenerate the tables of docs/validation.md (between its ``<!-- BEGIN NAME -->`` / ``<!-- END NAME -->`` markers).

    python3 scripts/validation_results.py           # rewrite the tables in docs/validation.md
    python3 scripts/validation_results.py --check   # exit 1 when a table in the doc is stale

Tables: ``h100-per-op`` (accelsim validate on h100_oplat_calib.csv, in sample, and the leave-one-shape-out
predictions scripts/calibrate_h100.py wrote to docs/validation_h100_cv.csv), ``h100-e2e`` (PAPER.md's
whole-model H100 measurements vs the simulated traces of accelsim/validate/e2e.py), ``side-by-side``
(workloads/rnnt_beam16 on the modelled IBM chip and on the H100). Deterministic.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import pandas as pd  # noqa: E402

from accelsim.atomic import atomic_write_text  # noqa: E402
from accelsim.sim import simulate  # noqa: E402
from accelsim.spec import load_arch  # noqa: E402
from accelsim.trace import load_workload  # noqa: E402
from accelsim.validate import e2e  # noqa: E402
from accelsim.validate.measured import read_measured  # noqa: E402
from accelsim.validate.predict import predict_plain  # noqa: E402
from accelsim.validate.report import ape, with_mode  # noqa: E402

DOC = REPO / "docs" / "validation.md"
CSV = REPO.parent / "shared" / "data" / "h100_oplat_calib.csv"
CV_CSV = REPO / "docs" / "validation_h100_cv.csv"


def markdown(df: pd.DataFrame) -> str:
    """A GitHub markdown table of ``df`` (cells as given)."""
    head = "| " + " | ".join(df.columns) + " |"
    rule = "|" + "|".join("---" if i == 0 else "---:" for i in range(len(df.columns))) + "|"
    body = ["| " + " | ".join(str(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def per_op_table(csv: Path = CSV, cv_csv: Path = CV_CSV) -> str:
    arch = load_arch(REPO / "arch" / "h100.yaml")
    df = read_measured(csv, "graph_us")
    df = read_measured(csv, "median_us").assign(graph_us=df["graph_us"])
    cv = pd.read_csv(cv_csv)
    err = {
        "graph_in": ape(predict_plain(df, with_mode(arch, "graph")) * 1e6, df["graph_us"]),
        "graph_cv": ape(cv["cv_graph_us"], cv["graph_us"]),
        "eager_in": ape(predict_plain(df, with_mode(arch, "eager")) * 1e6, df["median_us"]),
        "eager_cv": ape(cv["cv_eager_us"], cv["median_us"]),
    }
    frame = df.assign(**err)
    rows = []
    for (op, dtype), g in [*frame.groupby(["op", "dtype"], sort=True), (("all", ""), frame)]:
        rows.append([op, dtype, len(g), *(_pct(g[c].mean()) for c in err)])
    return markdown(pd.DataFrame(rows, columns=["op", "dtype", "rows", "graph MAPE % (in sample)",
                                                "graph MAPE % (held-out shape)", "eager MAPE % (in sample)",
                                                "eager MAPE % (held-out shape)"]))


def e2e_table() -> str:
    graph = load_arch(REPO / "arch" / "h100.yaml")
    eager = load_arch(REPO / "arch" / "h100_eager.yaml")
    rows = []
    steps = 10
    with tempfile.TemporaryDirectory() as tmp:
        w = e2e.write_case(e2e.encoder_trace(), Path(tmp) / "enc", "bilstm_6x640_t500", 500,
                           "6x640 BiLSTM encoder, 500 frames, B=1")
        sim = simulate(graph, w).sim_s
        rows.append(["6x640 BiLSTM encoder, T=500, B=1 (cuDNN)", "graph", f"{e2e.MEASURED_ENCODER_S * 1e3:.1f} ms",
                     f"{sim * 1e3:.1f} ms", f"{100 * (sim / e2e.MEASURED_ENCODER_S - 1):+.1f}"])
        for hidden in (1024, 2048):
            for beam in (1, 4, 16, 64):
                w = e2e.write_case(e2e.beam_step_trace(beam, hidden, steps), Path(tmp) / f"s{hidden}_{beam}",
                                   f"beam_step_b{beam}_lm{hidden}", steps, "beam-search steps", beam)
                case = f"beam step, 2 LMs 2x{hidden}, beam {beam}"
                t_e = simulate(eager, w).sim_s / steps
                rows.append([case, "eager", f"{e2e.MEASURED_STEP_EAGER_S * 1e6:.0f} us", f"{t_e * 1e6:.0f} us",
                             f"{100 * (t_e / e2e.MEASURED_STEP_EAGER_S - 1):+.1f}"])
                if beam == 16:
                    t_g = simulate(graph, w).sim_s / steps
                    rows.append([case, "graph", f"{e2e.MEASURED_STEP_GRAPH_S * 1e6:.0f} us", f"{t_g * 1e6:.0f} us",
                                 f"{100 * (t_g / e2e.MEASURED_STEP_GRAPH_S - 1):+.1f}"])
    return markdown(pd.DataFrame(rows, columns=["case", "launches", "measured (PAPER.md)", "simulated", "error %"]))


def side_by_side_table() -> str:
    workload = load_workload(REPO / "workloads" / "rnnt_beam16")
    rows = []
    for path, what in (("arch/fp16.yaml", "IBM 7 nm 4-core chip, FP16 (modelled)"),
                       ("arch/int4.yaml", "IBM 7 nm 4-core chip, INT4 (modelled)"),
                       ("arch/h100.yaml", "NVIDIA H100 SXM, FP16, CUDA graph (calibrated)"),
                       ("arch/h100_eager.yaml", "NVIDIA H100 SXM, FP16, eager (calibrated)")):
        s = simulate(load_arch(REPO / path), workload).summary()
        rows.append([what, f"`{path}`", f"{s['sim_s'] * 1e3:.1f}", f"{s['rtf']:.4f}",
                     f"{s['phase_encoder_s'] * 1e3:.1f}", f"{(s['sim_s'] - s['phase_encoder_s']) * 1e3:.1f}"])
    return markdown(pd.DataFrame(rows, columns=["device", "arch", "simulated ms", "RTF", "encoder ms",
                                                "decoder (pred, joint, LMs, search) ms"]))


def tables() -> dict[str, str]:
    return {"h100-per-op": per_op_table(), "h100-e2e": e2e_table(), "side-by-side": side_by_side_table()}


def replace_tables(text: str, new: dict[str, str]) -> str:
    for name, table in new.items():
        pattern = re.compile(rf"(<!-- BEGIN {re.escape(name)} -->\n).*?(<!-- END {re.escape(name)} -->)", re.S)
        if not pattern.search(text):
            raise SystemExit(f"{DOC}: no <!-- BEGIN {name} --> ... <!-- END {name} --> markers")
        text = pattern.sub(lambda m: m.group(1) + table + "\n" + m.group(2), text)
    return text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 when docs/validation.md is stale")
    args = ap.parse_args(argv)
    text = DOC.read_text()
    new = replace_tables(text, tables())
    if args.check:
        if new != text:
            print(f"{DOC} is stale: run python3 scripts/validation_results.py")
            return 1
        print(f"{DOC} is up to date")
        return 0
    atomic_write_text(DOC, new)
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
