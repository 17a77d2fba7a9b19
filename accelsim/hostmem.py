"""Host memory policy of a simulating process: keep freed memory for reuse instead of handing it back.

A long workload's plan is a few dozen arrays of tens of millions of rows each; they are built, freed and built
again phase after phase (costs, plan, engine state, result, summary). glibc's default serves every allocation
above 32 MiB with its own ``mmap`` and returns it to the OS on ``free``, so each new array faults in fresh
pages -- on virtual machines the dominant cost (measured on the build VM: about 10 us of system time per 4 KiB
page, more than half the CPU time of a 1 h run). :func:`keep_freed_memory` tells glibc to serve large blocks
from its heap too (``M_MMAP_MAX = 0``) and never to trim it (``M_TRIM_THRESHOLD = -1``), so a freed array's
pages serve the next one. The process's resident memory then stays at its peak until it exits; results do not
change. Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD = -1  # glibc mallopt parameters (malloc.h)
M_MMAP_MAX = -4

_applied: bool | None = None


def keep_freed_memory() -> bool:
    """Once per process: keep freed heap memory for reuse (module docstring); True when glibc took it."""
    global _applied
    if _applied is None:
        _applied = _apply()
    return _applied


def _apply() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl has no mallopt)
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, -1))
