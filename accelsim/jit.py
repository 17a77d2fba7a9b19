"""accelsim's compiled loops: numba kernels, run from code compiled ahead of time when it is there.

Every compiled loop of accelsim (the fast engine, the aggregation passes, the estimator, the edge builders,
the search's full-trace passes) is written once, in numba's subset of Python, and decorated with
:func:`njit` from here, which makes it a :class:`Kernel`. A call from Python runs one of two builds of that
one source:

1. **Ahead of time** (AOT): the extension modules ``accelsim/_kernels_aot*.so`` that ``python3 -m
   accelsim.aot build`` compiles with numba's ``pycc`` for the argument types listed in
   ``accelsim/aot_signatures.txt`` (``scripts/install.sh`` builds it; :mod:`accelsim.aot`). Loading it
   takes about a millisecond and imports no numba, which is what a short run needs: numba's import, its CPU
   target's initialisation and its cache loads are about 0.3 CPU s, a third of ``accelsim run
   arch/int4.yaml workloads/rnnt_beam16``. It is used only while every source file it was compiled from is
   unchanged (their SHA-256, recorded beside it in ``_kernels_aot.json``, are compared on first use), and
   only for a call whose arguments have exactly the types of an exported signature (:func:`args_key`:
   arrays by dtype, dimensions, C order and writeability; scalars bool, int64, float64): pycc's wrappers
   check no types, so the check is here.
2. **Just in time**: numba's dispatcher (``cache=True``: compiled on first use, then loaded from
   ``__pycache__``) for every other call, or for all of them with ``ACCELSIM_JIT=1``. numba is imported at
   the first such call, and its CPU target initialised without ``scipy.linalg`` (:func:`ready_numba`).

Both are the same numba compilation of the same source with the same flags (no fast-math, numba's default
error model), so their results are identical; the tests check this on every shipped workload. Kernels call
each other as numba functions: the dispatcher of a kernel is built on a copy of its module's globals in
which every kernel is replaced by its dispatcher (:func:`_jit_globals`), which numba's cache treats as the
same function (same code object, same file).

numba's BLAS probe: initialising numba's CPU target imports the registries of every numba implementation;
one of them, ``numba.np.arraymath``, probes for BLAS by importing ``scipy.linalg.cython_blas`` (about 0.15
CPU s of a short run). accelsim's kernels use no BLAS, so :func:`ready_numba` hides ``scipy.linalg`` during
that one initialisation and restores the import system afterwards; ``numba.np.arraymath._HAVE_BLAS`` is then
False for the process (``np.dot`` / ``np.vdot`` of jitted code that accelsim does not have would use numba's
loop). Nothing is hidden when ``scipy.linalg`` is already imported; ``ACCELSIM_NUMBA_BLAS=1`` keeps numba's
own start-up.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.machinery
import importlib.util
import json
import os
import sys
import types
from pathlib import Path
from typing import Any, Callable

__all__ = ["Kernel", "njit", "ready_numba", "args_key", "aot_status", "KERNELS"]

_HIDDEN = "scipy.linalg"
PACKAGE_DIR = Path(__file__).resolve().parent
AOT_MODULE = "_kernels_aot"
#: the AOT build's manifest; its extension modules are ``_kernels_aot*`` files beside it (this interpreter's
#: extension suffix): one for the kernels compiled with numba's reference counting, one for those without
AOT_MANIFEST = PACKAGE_DIR / f"{AOT_MODULE}.json"
AOT_FORMAT = 2


def aot_library(module: str) -> Path:
    """The file of one AOT extension module (``_kernels_aot`` or ``_kernels_aot_nonrt``)."""
    return PACKAGE_DIR / f"{module}{importlib.machinery.EXTENSION_SUFFIXES[0]}"


#: every kernel defined so far, by qualified name (``module.function``)
KERNELS: dict[str, "Kernel"] = {}

_SCALAR_KEYS = {bool: "b1", int: "i8", float: "f8"}


def ready_numba() -> None:
    """Import numba and initialise its CPU target now (idempotent), without its BLAS probe importing
    ``scipy.linalg``."""
    if "numba.np.arraymath" in sys.modules:  # already initialised (by us or by a jitted call)
        return
    from numba.core.registry import cpu_target

    hide = _HIDDEN not in sys.modules and os.environ.get("ACCELSIM_NUMBA_BLAS") != "1"
    if hide:
        sys.modules[_HIDDEN] = None  # ``import scipy.linalg...`` raises ImportError while this stands
    try:
        cpu_target.target_context.refresh()
    finally:
        if hide and sys.modules.get(_HIDDEN, 0) is None:
            del sys.modules[_HIDDEN]


def _array_key(a: Any) -> str | None:
    if a.ndim < 1 or not (a.flags.c_contiguous and a.flags.aligned) or a.dtype.byteorder not in "=|":
        return None
    return f"{a.dtype.str[1:]}[{a.ndim}{'w' if a.flags.writeable else 'r'}]"


def args_key(args: tuple) -> str | None:
    """The exported-signature key of a call's arguments (e.g. ``"i4[1w] f8[1r] i8 b1"``: an int32 writeable
    1-D C array, a read-only float64 one, an int, a bool), or None when one of them has no AOT form (a
    non-contiguous, byte-swapped or 0-d array, a subclass, another type). Matches numba's ``typeof`` of the
    same values: a Python int is an int64, a Python float a float64."""
    import numpy as np

    parts = []
    for a in args:
        t = type(a)
        if t is np.ndarray:
            k = _array_key(a)
        elif t in _SCALAR_KEYS:
            k = _SCALAR_KEYS[t]
            if t is int and not -(2**63) <= a < 2**63:
                k = None
        elif isinstance(a, np.generic) and a.dtype.kind in "biuf" and a.dtype.byteorder in "=|":
            k = a.dtype.str[1:] if a.dtype.kind != "b" else "b1"
        else:
            k = None
        if k is None:
            return None
        parts.append(k)
    return " ".join(parts)


class Kernel:
    """A numba-compiled loop: called from Python, it runs the AOT build for the exact argument types it was
    exported for, numba's JIT otherwise (module docstring). Called from another kernel, it is its numba
    dispatcher."""

    def __init__(self, py_func: Callable, options: dict) -> None:
        functools.update_wrapper(self, py_func)
        self.py_func = py_func
        self.options = dict(options)
        self.qualified_name = f"{py_func.__module__}.{py_func.__qualname__}"
        self.calls: set[str] = set()  # argument keys of the Python calls so far (``accelsim.aot record``)
        self._dispatcher = None
        self._aot: dict[str, Callable] | None = None
        KERNELS[self.qualified_name] = self

    def __call__(self, *args):
        key = args_key(args)
        if key is not None:
            self.calls.add(key)
            if self._aot is None:
                self._aot = _aot_table().get(self.qualified_name, {})
            fn = self._aot.get(key)
            if fn is not None:
                return fn(*args)
        return self.dispatcher(*args)

    @property
    def dispatcher(self):
        """numba's dispatcher of this kernel (imports numba at the first use)."""
        if self._dispatcher is None:
            ready_numba()
            import numba

            f = self.py_func
            jit_globals = _jit_globals(f.__globals__)  # may have built this kernel's dispatcher (a cycle)
            if self._dispatcher is None:
                func = types.FunctionType(f.__code__, jit_globals, f.__name__, f.__defaults__, f.__closure__)
                functools.update_wrapper(func, f)
                del func.__wrapped__
                self._dispatcher = numba.njit(**self.options)(func)
        return self._dispatcher

    def __repr__(self) -> str:
        return f"<Kernel {self.qualified_name}>"


_JIT_GLOBALS: dict[int, dict] = {}


def _jit_globals(module_globals: dict) -> dict:
    """A copy of a module's globals with every kernel replaced by its dispatcher (once per module)."""
    got = _JIT_GLOBALS.get(id(module_globals))
    if got is None:
        got = dict(module_globals)
        _JIT_GLOBALS[id(module_globals)] = got
        for name, value in module_globals.items():
            if isinstance(value, Kernel):
                got[name] = value.dispatcher
    return got


def njit(*args, **options):
    """Decorator: make a function a :class:`Kernel` (numba ``njit`` options, e.g. ``cache=True``,
    ``inline="always"``)."""
    if args and callable(args[0]) and len(args) == 1 and not options:
        return Kernel(args[0], {})
    if args:
        raise TypeError("accelsim.jit.njit takes numba's options as keywords only (no signatures)")
    return lambda func: Kernel(func, options)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, hex."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


@functools.lru_cache(maxsize=1)
def _aot_table() -> dict[str, dict[str, Callable]]:
    """The AOT build's functions by kernel and argument key, or {} when it is absent, stale or disabled."""
    table, _why = _load_aot()
    return table


def _load_aot() -> tuple[dict[str, dict[str, Callable]], str]:
    if os.environ.get("ACCELSIM_JIT") == "1":
        return {}, "disabled (ACCELSIM_JIT=1)"
    try:
        manifest = json.loads(AOT_MANIFEST.read_text())
    except FileNotFoundError:
        return {}, f"not built ({AOT_MANIFEST.name} is missing: python3 -m accelsim.aot build)"
    except (OSError, ValueError) as e:
        return {}, f"unreadable manifest {AOT_MANIFEST}: {e}"
    try:
        libraries = manifest.get("libraries") if manifest.get("format") == AOT_FORMAT else None
        if not libraries or any(entry["file"] != aot_library(name).name for name, entry in libraries.items()):
            return {}, "built for another format or interpreter"
        for name, entry in libraries.items():
            if aot_library(name).stat().st_size != entry["bytes"]:
                return {}, f"{entry['file']} does not match its manifest"
        for rel, digest in manifest["sources"].items():
            path = PACKAGE_DIR.parent / rel
            if not path.is_file() or file_sha256(path) != digest:
                return {}, f"stale: {rel} changed since the build (python3 -m accelsim.aot build)"
        modules = {}
        for name in libraries:
            spec = importlib.util.spec_from_file_location(f"accelsim.{name}", aot_library(name))
            modules[name] = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(modules[name])
        table: dict[str, dict[str, Callable]] = {}
        for kernel_name, key, name, symbol in manifest["exports"]:
            table.setdefault(kernel_name, {})[key] = getattr(modules[name], symbol)
    except (OSError, KeyError, TypeError, ValueError, ImportError, AttributeError) as e:
        return {}, f"unusable: {type(e).__name__}: {e}"
    return table, f"in use: {sum(len(v) for v in table.values())} signatures of {len(table)} kernels"


def aot_status() -> str:
    """One line: whether the AOT build is in use, and why not."""
    return _load_aot()[1]
