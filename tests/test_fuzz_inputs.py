"""Fuzzing the input boundaries (issue 12): mutate the shipped arch files, workloads, manifests and sweep specs.

Every mutated input must end in one of two ways: exit 0 with finite results, or exit 2 (an AccelsimError) with a
message naming the file, never a traceback, never a hang (each example runs under an alarm), never a write outside
the output folder. Mutations: a numeric or text leaf set to 0, -1, huge, NaN, inf, a boolean, a string, null, a
list; a key renamed or dropped; files truncated, zeroed, replaced by random bytes or swapped for symlinks.

Everything runs in-process (the CLIs' ``main``). CI runs a few examples per target; set ``ACCELSIM_FUZZ_EXAMPLES``
(e.g. 500) for a longer local run.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import shutil
import signal
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accelsim.cli import main as accelsim_main
from accelsim.errors import AccelsimError
from accelsim.spec import load_raw

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = int(os.environ.get("ACCELSIM_FUZZ_EXAMPLES", "10"))
HANG_BOUND_S = 120  # far above any honest example; only a hang reaches it

FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize="ACCELSIM_FUZZ_EXAMPLES" not in
                os.environ, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

NASTY_VALUES = [0, -1, 10**30, 1e308, -1e-300, float("nan"), float("inf"), True, False, "x", "1e3 GB/s", None, [],
                {}, [1, 2], 2.5, "", "../../etc/passwd"]


@contextlib.contextmanager
def hang_guard(seconds: int = HANG_BOUND_S):
    def fire(signum, frame):
        raise AssertionError(f"an example ran longer than {seconds} s (a hang)")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def leaf_paths(node, prefix=()) -> list[tuple]:
    """Every path to a leaf or container of a nested dict/list (the root excluded)."""
    out = []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        out.append((*prefix, key))
        out.extend(leaf_paths(value, (*prefix, key)))
    return out


def mutate(data, doc):
    """A mutated deep copy of ``doc`` and the key it touched: a leaf replaced, a key renamed or dropped."""
    doc = copy.deepcopy(doc)
    paths = leaf_paths(doc)
    path = data.draw(st.sampled_from(paths), label="path")
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    key = path[-1]
    action = data.draw(st.sampled_from(["value", "value", "value", "rename", "drop"]), label="action")
    if action == "value" or isinstance(parent, list):
        parent[key] = data.draw(st.sampled_from(NASTY_VALUES), label="value")
    elif action == "rename":
        parent[f"{key}_x"] = parent.pop(key)
    else:
        del parent[key]
    return doc, str(key)


def snapshot(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.lstat().st_mtime_ns for p in folder.rglob("*")}


def run_accelsim(capsys, *argv) -> tuple[int, str]:
    with hang_guard():
        try:
            code = accelsim_main([str(a) for a in argv])
        except SystemExit as exc:  # argparse
            code = exc.code
    cap = capsys.readouterr()
    return code, cap.out + cap.err


def assert_outcome(code: int, out: str, names: list[str], json_path: Path | None = None) -> None:
    assert code in (0, 2), f"exit {code}: {out[-2000:]}"
    assert "Traceback" not in out
    if code == 2:
        assert any(n in out for n in names), f"the message names none of {names}: {out[-1500:]}"
        assert len(out) < 20_000, "an error message should be short"
    elif json_path is not None:
        summary = json.loads(json_path.read_text())["summary"]
        for key, value in summary.items():
            if isinstance(value, float):
                assert math.isfinite(value) and value >= 0, f"{key} = {value} in a run that exited 0"


@pytest.fixture(scope="module")
def tiny_workload(tmp_path_factory) -> Path:
    """A short synthetic workload (fast to simulate), the template every workload mutation starts from."""
    from accelsim.trace.synthetic import SyntheticConfig, write_synthetic

    out = tmp_path_factory.mktemp("fuzz_wl") / "wl"
    write_synthetic(out, SyntheticConfig(beam=2, fusion="dr", utterances=1, seconds=0.3), command="fuzz")
    return out


ARCH_FILES = ["int4.yaml", "fp16.yaml", "int8.yaml"]


@FUZZ
@given(data=st.data())
def test_fuzz_arch_files(data, tmp_path_factory, tiny_workload, capsys):
    """Mutate one field of a shipped arch file (its merged form) and run it."""
    work = tmp_path_factory.mktemp("arch")
    name = data.draw(st.sampled_from(ARCH_FILES), label="arch")
    doc, key = mutate(data, load_raw(REPO / "arch" / name))
    f = work / f"fuzz_{name}"
    f.write_text(yaml.safe_dump(doc, sort_keys=False))
    out_json = work / "out" / "r.json"
    before = snapshot(tiny_workload)
    code, out = run_accelsim(capsys, "run", f, tiny_workload, "--json", out_json)
    assert_outcome(code, out, [f.name], out_json)
    if code == 2 and "impossible results" not in out:
        assert key in out or "mapping" in out, f"the message does not name the field {key!r}: {out[-1500:]}"
    assert snapshot(tiny_workload) == before
    assert {p.name for p in work.rglob("*")} <= {f.name, "out", "r.json"}


@FUZZ
@given(data=st.data())
def test_fuzz_arch_overrides(data, tiny_workload, capsys):
    """``--set PATH=VALUE`` with a nasty value on a real field."""
    raw = load_raw(REPO / "arch" / "int4.yaml")
    paths = [".".join(map(str, p)) for p in leaf_paths(raw) if all(isinstance(x, str) for x in p)]
    path = data.draw(st.sampled_from(paths), label="path")
    value = data.draw(st.sampled_from(["0", "-1", "1e400", ".nan", ".inf", "true", "x", "~", "[]", "2.5",
                                       "1e-300 B/s", "99999999999999999999999"]), label="value")
    code, out = run_accelsim(capsys, "run", REPO / "arch" / "int4.yaml", tiny_workload, "--set", f"{path}={value}")
    assert_outcome(code, out, ["int4.yaml", "--set"])


WORKLOAD_FILE_DAMAGE = ["truncate", "zero", "random", "symlink_other", "symlink_dir", "empty"]


def damage_file(data, target: Path, other: Path) -> None:
    how = data.draw(st.sampled_from(WORKLOAD_FILE_DAMAGE), label="damage")
    content = target.read_bytes()
    target.unlink()
    if how == "truncate":
        target.write_bytes(content[: data.draw(st.integers(0, max(len(content) - 1, 0)), label="cut")])
    elif how == "zero":
        target.write_bytes(b"\0" * len(content))
    elif how == "random":
        target.write_bytes(np.random.default_rng(data.draw(st.integers(0, 99))).bytes(len(content)))
    elif how == "symlink_other":
        target.symlink_to(other)
    elif how == "symlink_dir":
        target.symlink_to(target.parent)
    else:
        target.write_bytes(b"")


@FUZZ
@given(data=st.data())
def test_fuzz_workloads(data, tmp_path_factory, tiny_workload, capsys):
    """Mutate workload.yaml (a field) or damage one of its files, then simulate it."""
    work = tmp_path_factory.mktemp("wl")
    wl = work / "wl"
    shutil.copytree(tiny_workload, wl)
    key = ""
    if data.draw(st.booleans(), label="yaml or file"):
        meta = yaml.safe_load((wl / "workload.yaml").read_text())
        meta, key = mutate(data, meta)
        (wl / "workload.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
    else:
        name = data.draw(st.sampled_from(["workload.yaml", "ops.parquet"]), label="file")
        damage_file(data, wl / name, REPO / "arch" / "int4.yaml")
    out_json = work / "out" / "r.json"
    code, out = run_accelsim(capsys, "run", REPO / "arch" / "int4.yaml", wl, "--json", out_json)
    assert_outcome(code, out, [str(wl)], out_json)
    if code == 2 and key and key not in ("ops", "sha256", "count", "file") and "impossible results" not in out:
        assert key in out or "ops" in out, f"the message does not name the field {key!r}: {out[-1500:]}"
    written = {p.relative_to(work).parts[0] for p in work.rglob("*")}
    assert written <= {"wl", "out"}


@FUZZ
@given(data=st.data())
def test_fuzz_sweep_specs(data, tmp_path_factory, tiny_workload):
    """Mutate a sweep spec (the shipped dse.yaml's shape) and validate it against the files, as a sweep does first."""
    from accelsim.sweep.grid import resolve_points
    from accelsim.sweep.spec import load_sweep

    work = tmp_path_factory.mktemp("sweep")
    spec = yaml.safe_load((REPO / "sweeps" / "dse.yaml").read_text())
    spec["root"] = "."
    spec["base"] = {"arch": str(REPO / "arch" / "int4.yaml"), "workload": str(tiny_workload)}
    doc, key = mutate(data, spec)
    f = work / "fuzz_sweep.yaml"
    f.write_text(yaml.safe_dump(doc, sort_keys=False))
    with hang_guard():
        try:
            loaded, root, _ = load_sweep(f)
            tasks = resolve_points(loaded, root, where=str(f))
        except AccelsimError as exc:
            message = str(exc)
            assert "fuzz_sweep.yaml" in message and len(message) < 20_000
            return
    assert 1 <= len(tasks) <= 27


@FUZZ
@given(data=st.data())
def test_fuzz_manifests_and_audio(data, tmp_path_factory):
    """Mutate a manifest line or damage its WAV; reading must return checked utterances or raise DataError."""
    from asr.data.manifest import Utterance, read_manifest, read_utterance_audio, write_manifest, write_wav
    from asr.errors import DataError

    work = tmp_path_factory.mktemp("manifest")
    wav = work / "a.wav"
    write_wav(wav, (0.1 * np.random.default_rng(0).standard_normal(16000)).astype(np.float32))
    m = work / "m.jsonl"
    write_manifest(m, [Utterance(wav, 1.0, "in the beginning")])
    if data.draw(st.booleans(), label="line or audio"):
        rec = json.loads(m.read_text())
        rec, _ = mutate(data, rec)
        m.write_text(json.dumps(rec) + "\n")
    else:
        damage_file(data, data.draw(st.sampled_from([wav, m]), label="file"), REPO / "README.md")
    with hang_guard():
        try:
            utts = read_manifest(m)
            samples = [read_utterance_audio(u) for u in utts]
        except DataError as exc:
            assert str(work) in str(exc) or "a.wav" in str(exc) or "/etc/passwd" in str(exc), str(exc)
            return
    for u, s in zip(utts, samples):
        assert math.isfinite(u.duration_s) and u.duration_s > 0 and abs(len(s) / 16000 - u.duration_s) <= 0.1


REPORT_VALUES = [0, -1, 1e308, float("nan"), float("inf"), "x", None, True]


@FUZZ
@given(data=st.data())
def test_fuzz_results_tables(data, tmp_path_factory, real_sweep, capsys):
    """Mutate one cell or drop one column of a real sweep's results table, then build the report from it."""
    import pandas as pd

    from accelsim.sweep.results import read_results, write_results

    df, meta = read_results(real_sweep)
    col = data.draw(st.sampled_from(sorted(df.columns)), label="column")
    if data.draw(st.booleans(), label="drop"):
        df = df.drop(columns=[col])
    else:
        row = data.draw(st.integers(0, len(df) - 1), label="row")
        value = data.draw(st.sampled_from(REPORT_VALUES), label="value")
        df[col] = df[col].astype(object)
        df.at[df.index[row], col] = value
        kinds = {type(v) for v in df[col] if v is not None and not (isinstance(v, float) and pd.isna(v))}
        if len(kinds) > 1 and not kinds <= {int, float}:  # as the sweep's table builder does
            df[col] = df[col].map(lambda v: None if v is None else str(v))
        elif kinds <= {int, float, bool}:
            df[col] = pd.to_numeric(df[col])
    work = tmp_path_factory.mktemp("report")
    shutil.copytree(real_sweep / "timelines", work / "in" / "timelines")
    try:
        write_results(work / "in", df, name=meta["sweep"], points_total=meta["points_total"])
    except Exception:  # noqa: BLE001 - pyarrow cannot store this mix: not an input we can produce
        return
    out = work / "out" / "r.html"
    code, text = run_accelsim(capsys, "report", work / "in", "-o", out)
    assert_outcome(code, text, [str(work / "in")])
    assert {p.relative_to(work).parts[0] for p in work.rglob("*")} <= {"in", "out"}
