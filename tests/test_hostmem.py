"""The host memory policy (accelsim.hostmem): applied once per process, and taken by glibc on Linux."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CODE = "from accelsim.hostmem import keep_freed_memory as k; print(k(), k())"


@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                    reason="glibc's mallopt only")
def test_glibc_takes_the_policy_once_per_process():
    env = {**os.environ, "PYTHONPATH": str(REPO)}  # this checkout's accelsim, in a fresh process
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.split() == ["True", "True"]


SMALL = ("from numpy._core.multiarray import _get_madvise_hugepage as g; from accelsim.hostmem import small_pages as s;"
         " print(s(), s(), g())")


@pytest.mark.parametrize("env_value, expected", [(None, ["True", "True", "False"]), ("1", ["False", "False", "True"])])
def test_numpy_stops_asking_for_huge_pages_unless_told(env_value, expected):
    pytest.importorskip("numpy._core.multiarray").__dict__.get("_get_madvise_hugepage") or pytest.skip("old numpy")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("ACCELSIM_HUGE_PAGES", None)
    if env_value is not None:
        env["ACCELSIM_HUGE_PAGES"] = env_value
    out = subprocess.run([sys.executable, "-c", SMALL], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.split() == expected
