"""Unit parsing: one meaning of each prefix, base units for bare numbers, clear errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accelsim.spec import format_bytes, parse_quantity


@pytest.mark.parametrize("text,kind,value", [
    ("2 MiB", "bytes", 2 * 2**20),
    ("2MiB", "bytes", 2 * 2**20),
    ("512 KB", "bytes", 512_000),
    ("512 kB", "bytes", 512_000),
    ("1 KiB", "bytes", 1024),
    ("8 GiB", "bytes", 8 * 2**30),
    ("200 GB/s", "bandwidth", 200e9),
    ("64 GiB/s", "bandwidth", 64 * 2**30),
    ("1.6 GHz", "frequency", 1.6e9),
    ("800 MHz", "frequency", 800e6),
    ("100 ns", "time", 100e-9),
    ("1.5 us", "time", 1.5e-6),
    (4096, "bytes", 4096),
    (1.5e9, "frequency", 1.5e9),
])
def test_parse(text, kind, value):
    assert parse_quantity(text, kind) == pytest.approx(value)


@pytest.mark.parametrize("text,kind", [
    ("2 Mb", "bytes"), ("200 Gb/s", "bandwidth"), ("2 MiB/s", "bytes"), ("1.6 GB", "frequency"),
    ("fast", "time"), (True, "bytes"), ([1], "bytes"), ("1e999 B", "bytes"),
])
def test_rejects(text, kind):
    with pytest.raises(ValueError, match="expected a"):
        parse_quantity(text, kind)


@given(st.integers(0, 2**40))
def test_bytes_round_trip_through_kib(n):
    assert parse_quantity(f"{n / 1024!r} KiB", "bytes") == pytest.approx(n)
    assert parse_quantity(f"{n} B", "bytes") == n


def test_format_bytes():
    assert format_bytes(2 * 2**20) == "2.00 MiB"
    assert format_bytes(10) == "10 B"
