"""Parse quantities with units ("2 MiB", "200 GB/s", "1.6 GHz", "100 ns") into SI base units, once, at the edge.

One meaning per prefix: decimal prefixes are powers of 1000 (``KB`` = ``kB`` = 1000 bytes, ``MB`` = 1e6,
``GB/s`` = 1e9 bytes/s), binary prefixes are powers of 1024 (``KiB`` = 1024, ``MiB`` = 2**20, ``GiB/s``).
Bits are never accepted where bytes are meant. A bare number is taken as already in base units (bytes,
bytes/s, Hz, s), which is what :meth:`pydantic.BaseModel.model_dump` writes back.
"""

from __future__ import annotations

import math
import re

_DECIMAL = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
_BINARY = {"Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40}
_TIME = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9, "ps": 1e-12}

_NUM = r"(?P<num>[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)"
_BYTES_RE = re.compile(_NUM + r"\s*(?P<prefix>Ki|Mi|Gi|Ti|k|K|M|G|T)?(?P<unit>B)$")
_BW_RE = re.compile(_NUM + r"\s*(?P<prefix>Ki|Mi|Gi|Ti|k|K|M|G|T)?B/s$")
_FREQ_RE = re.compile(_NUM + r"\s*(?P<prefix>k|K|M|G)?Hz$")
_TIME_RE = re.compile(_NUM + r"\s*(?P<unit>s|ms|us|µs|ns|ps)$")

EXAMPLES = {"bytes": "'2 MiB' or '512 KB'", "bandwidth": "'200 GB/s' or '64 GiB/s'", "frequency": "'1.6 GHz'",
            "time": "'100 ns' or '1.5 us'"}


def _prefix_factor(prefix: str | None) -> float:
    prefix = prefix or ""
    return _BINARY[prefix] if prefix in _BINARY else _DECIMAL[prefix]


def parse_quantity(value: object, kind: str) -> float:
    """Return ``value`` in SI base units for ``kind`` in bytes | bandwidth | frequency | time.

    Raises ValueError with the expected form when the value is not a number or a string with the right unit.
    """
    if kind not in EXAMPLES:
        raise KeyError(f"unknown quantity kind {kind!r}")
    if isinstance(value, bool):
        raise ValueError(f"expected a {kind} such as {EXAMPLES[kind]}, got a boolean")
    if isinstance(value, (int, float)):
        out = float(value)
    elif isinstance(value, str):
        text = value.strip()
        pattern = {"bytes": _BYTES_RE, "bandwidth": _BW_RE, "frequency": _FREQ_RE, "time": _TIME_RE}[kind]
        match = pattern.match(text)
        if match is None:
            raise ValueError(f"expected a {kind} such as {EXAMPLES[kind]} (KB = 1000, KiB = 1024), got {value!r}")
        num = float(match.group("num"))
        if kind == "time":
            out = num * _TIME[match.group("unit")]
        else:
            out = num * _prefix_factor(match.group("prefix"))
    else:
        raise ValueError(f"expected a {kind} such as {EXAMPLES[kind]}, got {type(value).__name__}")
    if not math.isfinite(out):
        raise ValueError(f"expected a finite {kind}, got {value!r}")
    return out


def format_bytes(n: float) -> str:
    """Human-readable binary size: ``format_bytes(2 * 2**20) == '2.00 MiB'``."""
    for unit, factor in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(n) >= factor:
            return f"{n / factor:.2f} {unit}"
    return f"{n:.0f} B"
