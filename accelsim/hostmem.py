"""Host memory policy of a simulating process: keep freed memory for reuse instead of handing it back.

A long workload's plan is a few dozen arrays of tens of millions of rows each; they are built, freed and built
again phase after phase (costs, plan, engine state, result, summary). glibc's default serves every allocation
above 32 MiB with its own ``mmap`` and returns it to the OS on ``free``, so each new array faults in fresh
pages -- on virtual machines the dominant cost (measured on the build VM: about 10 us of system time per 4 KiB
page, more than half the CPU time of a 1 h run). :func:`keep_freed_memory` tells glibc to serve large blocks
from its heap too (``M_MMAP_MAX = 0``) and never to trim it (``M_TRIM_THRESHOLD = -1``), so a freed array's
pages serve the next one. The process's resident memory then stays at its peak until it exits; results do not
change. Elsewhere than glibc it does nothing.

:func:`small_pages` turns off numpy's request for transparent huge pages (``madvise(MADV_HUGEPAGE)`` on every
array of 4 MiB or more). Where the kernel compacts memory on such a fault (``defrag = madvise``, the default of
many distributions and of the build VM), each huge page costs a compaction: measured on the build VM, loading
and simulating a 1 h workload (10 M ops) took 7.4 s of system time with them and 2.6 s without, for 0.3 s more
user time (TLB misses), 13.6 -> 10.5 s in all. ``ACCELSIM_HUGE_PAGES=1`` keeps numpy's default.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_TRIM_THRESHOLD = -1  # glibc mallopt parameters (malloc.h)
M_MMAP_MAX = -4

_applied: bool | None = None
_small_pages: bool | None = None
HUGE_PAGES_ENV = "ACCELSIM_HUGE_PAGES"


def small_pages() -> bool:
    """Once per process: numpy stops asking for transparent huge pages (module docstring), unless
    ``$ACCELSIM_HUGE_PAGES`` is ``1``; True when numpy took it."""
    global _small_pages
    if _small_pages is None:
        _small_pages = False
        if os.environ.get(HUGE_PAGES_ENV, "").strip() != "1":
            try:
                from numpy._core.multiarray import _set_madvise_hugepage
            except ImportError:  # a numpy without the switch: nothing to do
                pass
            else:
                _set_madvise_hugepage(False)
                _small_pages = True
    return _small_pages


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
