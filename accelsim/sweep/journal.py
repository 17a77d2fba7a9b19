"""The sweep journal: an append-only JSON-lines file, one record per finished point, each flushed and fsynced.

It is the durable truth of a sweep; the Parquet/CSV tables are compacted from it. A kill -9 can at worst leave a
partial last line (a record that was never committed): reading drops it and reopening for append cuts it off, so
that point simply runs again. The first line is a header naming the journal format version; a journal from another
version, a corrupt line in the middle, or a second sweep writing the same folder raise :class:`SweepError`.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from accelsim.errors import SweepError

JOURNAL_FILE = "journal.jsonl"
JOURNAL_VERSION = 1
_MAGIC = "accelsim-sweep-journal"


@dataclass(frozen=True)
class Outcome:
    """What evaluating one point produced: a result row, or the error that stopped it."""

    point_id: str
    status: Literal["ok", "error"]
    elapsed_s: float
    result: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    traceback: str = ""


def _plain(value: Any) -> Any:
    """JSON fallback for numpy scalars and paths."""
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def _clean(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None  # JSON has no NaN/inf; the table shows a missing value
    return obj


class Journal:
    """An open journal in ``folder``; holds an exclusive lock on it until :meth:`close`."""

    def __init__(self, folder: str | Path, header: dict[str, Any] | None = None) -> None:
        self.path = Path(folder) / JOURNAL_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.path.exists() or self.path.stat().st_size == 0
        self._fh = open(self.path, "a+b")
        try:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._fh.close()
            raise SweepError(
                f"{self.path}: another sweep is writing this folder right now; wait for it or use another --out"
            ) from None
        if new:
            self._write_line({"journal": _MAGIC, "format_version": JOURNAL_VERSION, **(header or {})})
        else:
            self._cut_partial_tail()
        self.records = read_journal(self.path)
        self.header = journal_header(self.path)

    def _cut_partial_tail(self) -> None:
        self._fh.seek(0)
        data = self._fh.read()
        if data and not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1
            self._fh.truncate(keep)
            self._fh.flush()
            os.fsync(self._fh.fileno())

    def _write_line(self, obj: dict[str, Any]) -> None:
        line = json.dumps(obj, sort_keys=True, default=_plain, allow_nan=False)
        self._fh.seek(0, os.SEEK_END)
        self._fh.write(line.encode("utf-8") + b"\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def append(self, outcome: Outcome) -> None:
        """Commit one outcome durably (flush + fsync) before returning."""
        record = asdict(outcome)
        record["result"] = {k: _clean(v) for k, v in record["result"].items()}
        self._write_line(record)
        self.records[outcome.point_id] = outcome

    def close(self) -> None:
        if not self._fh.closed:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def journal_header(path: str | Path) -> dict[str, Any]:
    """The journal's first line (format version, sweep name, spec hash); {} for an empty file."""
    with open(path, "rb") as fh:
        first = fh.readline()
    try:
        return json.loads(first) if first.endswith(b"\n") else {}
    except json.JSONDecodeError:
        return {}


def read_journal(path: str | Path) -> dict[str, Outcome]:
    """Outcomes by point id (a later record of the same point replaces an earlier one: a retried error)."""
    path = Path(path)
    data = path.read_bytes()
    lines = data.split(b"\n")
    if data and not data.endswith(b"\n"):
        lines = lines[:-1]  # a partial last record was never committed: that point runs again
    lines = [ln for ln in lines if ln.strip()]
    if not lines:
        return {}
    try:
        header = json.loads(lines[0])
    except json.JSONDecodeError:
        header = None
    if not isinstance(header, dict) or header.get("journal") != _MAGIC:
        raise SweepError(f"{path}: not an accelsim sweep journal (first line is not its header)")
    version = header.get("format_version")
    if version != JOURNAL_VERSION:
        raise SweepError(
            f"{path}: journal format version {version!r}, this accelsim reads version {JOURNAL_VERSION}; "
            "start the sweep again in a new --out folder"
        )
    out: dict[str, Outcome] = {}
    for lineno, line in enumerate(lines[1:], start=2):
        try:
            rec = json.loads(line)
            outcome = Outcome(**rec)
        except (json.JSONDecodeError, TypeError) as exc:
            raise SweepError(f"{path}: line {lineno} is corrupt ({exc}); move the file away to start over") from None
        out[outcome.point_id] = outcome
    return out
