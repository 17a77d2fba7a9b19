"""Ahead-of-time build of accelsim's numba kernels (:mod:`accelsim.jit`): record, build, status.

    python3 -m accelsim.aot build     # compile accelsim/_kernels_aot*.so (scripts/install.sh runs it)
    python3 -m accelsim.aot status    # is it in use? (else: why not)
    python3 -m accelsim.aot record    # re-list the signatures in accelsim/aot_signatures.txt

``build`` compiles, with numba's ``pycc`` and the machine's C compiler, every kernel signature listed in
``accelsim/aot_signatures.txt`` into extension modules beside this file (one for the kernels that use
numba's reference counting, one for those compiled without it, as their JIT dispatchers are), for this
machine's CPU (as numba's JIT does; ``--cpu generic`` for any CPU of the family), and writes its manifest
(``_kernels_aot.json``): the exports and the SHA-256 of every source file the kernels depend on
(:func:`source_files`: the kernels' modules, those of the kernels they call and of the constants they use,
and :mod:`accelsim.jit`). On a machine without a C compiler it fails with a message and accelsim keeps
running on numba's JIT. About 25 s on the 2-core build machine.

``record`` runs the command-line paths whose start-up matters (``accelsim run`` of every shipped workload on
``arch/int4.yaml``, ``int8`` and ``fp16``, with the search and the naive mapping, ``--timeline``, a 5 min
synthetic workload) in this process and writes the argument types each kernel was called with from Python:
that list is committed, and ``tests/test_aot.py`` fails when a run calls a kernel with types it lacks.

Why numba's ``pycc``: it compiles the very source the JIT compiles (one implementation of each loop, no
second one in C or Cython to keep identical bit for bit), and the module it writes needs neither numba nor
LLVM at run time. numba has marked ``pycc`` "pending deprecation" since 0.57 without a replacement yet; if
it goes, the build fails and every call runs on the JIT, as before this module existed.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import json
import os
import shutil
import sys
import tempfile
import time
import types
import warnings
from pathlib import Path

from accelsim import jit
from accelsim.atomic import atomic_write_text

SIGNATURES = jit.PACKAGE_DIR / "aot_signatures.txt"
REPO = jit.PACKAGE_DIR.parent


def read_signatures(path: Path = SIGNATURES) -> list[tuple[str, str]]:
    """``(kernel qualified name, argument key)`` per line of a signatures file (``name(key)``; ``#`` starts
    a comment)."""
    out = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, paren, rest = line.partition("(")
        if not paren or not rest.endswith(")") or not name.strip():
            raise ValueError(f"{path}:{number}: expected 'module.kernel(arg key)', got {line!r}")
        out.append((name.strip(), rest[:-1].strip()))
    return out


def numba_types_of(key: str) -> tuple:
    """numba argument types of an argument key (:func:`accelsim.jit.args_key`)."""
    import numpy as np
    from numba import from_dtype, types as nt

    out = []
    for part in key.split():
        code, bracket, shape = part.partition("[")
        dtype = from_dtype(np.dtype(code))
        if not bracket:
            out.append(dtype)
            continue
        ndim, flag = int(shape[:-2]), shape[-2]
        out.append(nt.Array(dtype, ndim, "C", readonly=(flag == "r")))
    return tuple(out)


def kernel_of(name: str) -> jit.Kernel:
    """The kernel of a qualified name, importing its module."""
    module, _, _ = name.rpartition(".")
    importlib.import_module(module)
    try:
        return jit.KERNELS[name]
    except KeyError:
        raise ValueError(f"{SIGNATURES.name}: no kernel {name} (re-run: python3 -m accelsim.aot record)") from None


def _global_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


def _imported_from(module: types.ModuleType) -> dict[str, str]:
    """Top-level ``from X import name [as alias]`` of a module's source: alias -> X."""
    tree = ast.parse(Path(module.__file__).read_text())
    return {alias.asname or alias.name: node.module for node in tree.body if isinstance(node, ast.ImportFrom)
            and node.module and node.level == 0 for alias in node.names}


def source_files(kernels: list[jit.Kernel]) -> list[Path]:
    """The accelsim source files whose text the compiled kernels depend on: :mod:`accelsim.jit`, each
    kernel's module and, transitively, those of the kernels it calls, the accelsim modules it reads
    attributes of, and the accelsim modules its other globals (constants) are imported from."""
    files = {Path(jit.__file__).resolve()}
    seen: set[str] = set()
    stack = list(kernels)
    while stack:
        kernel = stack.pop()
        if kernel.qualified_name in seen:
            continue
        seen.add(kernel.qualified_name)
        module = sys.modules[kernel.py_func.__module__]
        files.add(Path(module.__file__).resolve())
        imported = _imported_from(module)
        g = kernel.py_func.__globals__
        for name in _global_names(kernel.py_func.__code__):
            if name not in g:
                continue  # a builtin, or an attribute name
            value = g[name]
            if isinstance(value, jit.Kernel):
                stack.append(value)
            elif isinstance(value, types.ModuleType):
                if value.__name__.split(".")[0] == "accelsim":
                    files.add(Path(value.__file__).resolve())
            elif imported.get(name, "").split(".")[0] == "accelsim":
                files.add(Path(importlib.import_module(imported[name]).__file__).resolve())
    return sorted(files)


def build(signatures: Path = SIGNATURES, verbose: bool = False, cpu: str = "host") -> str:
    """Compile the AOT extension for ``cpu`` (LLVM's name: ``host``, as numba's JIT, or ``generic``, for any
    x86-64 / the CPU family, and for valgrind) and write its manifest; returns a one-line report."""
    warnings.filterwarnings("ignore", message=".*pycc.*")
    from numba.core.errors import NumbaPendingDeprecationWarning

    warnings.simplefilter("ignore", NumbaPendingDeprecationWarning)
    from numba.pycc import CC

    t0 = time.perf_counter()
    entries = read_signatures(signatures)
    jit.AOT_MANIFEST.unlink(missing_ok=True)  # until the new build is complete, there is none
    kernels = {name: kernel_of(name) for name, _ in entries}
    # a kernel compiled without numba's reference counting (``_nrt=False``: a loop that never allocates) goes
    # into a module built without it, as its JIT dispatcher is: pycc applies one setting to a whole module
    modules = {jit.AOT_MODULE: [], f"{jit.AOT_MODULE}_nonrt": []}
    for i, (name, key) in enumerate(entries):
        nrt = kernels[name].options.get("_nrt", True)
        modules[jit.AOT_MODULE if nrt else f"{jit.AOT_MODULE}_nonrt"].append((i, name, key))
    exports, libraries = [], {}
    for module, items in modules.items():
        if not items:
            continue
        cc = CC(module)
        cc.verbose = verbose
        cc.use_nrt = module == jit.AOT_MODULE
        cc.target_cpu = "" if cpu == "generic" else cpu  # host: as numba's JIT; the build runs where it runs
        for i, name, key in items:
            symbol = f"k{i}_{name.rsplit('.', 1)[1].lstrip('_')}"
            cc.export(symbol, numba_types_of(key))(kernels[name].dispatcher.py_func)
            exports.append([name, key, module, symbol])
        library = jit.aot_library(module)
        build_dir = Path(tempfile.mkdtemp(prefix="accelsim-aot-"))
        try:
            cc.output_dir = str(build_dir)
            cc.output_file = library.name
            cc.compile()
            tmp = library.with_name(library.name + ".tmp")
            shutil.copyfile(build_dir / library.name, tmp)
            os.replace(tmp, library)
        finally:
            shutil.rmtree(build_dir, ignore_errors=True)
        libraries[module] = {"file": library.name, "bytes": library.stat().st_size}
    import numba

    sources = {str(p.relative_to(REPO)): jit.file_sha256(p) for p in source_files(list(kernels.values()))}
    manifest = {"format": jit.AOT_FORMAT, "libraries": libraries, "cpu": cpu, "numba": numba.__version__,
                "python": sys.version.split()[0], "sources": sources, "exports": exports}
    atomic_write_text(jit.AOT_MANIFEST, json.dumps(manifest, indent=1) + "\n")
    return (f"built {', '.join(libraries)}: {len(exports)} signatures of {len(kernels)} kernels from "
            f"{len(sources)} source files in {time.perf_counter() - t0:.0f} s")


def recorded_runs(tmp: Path) -> list[list[str]]:
    """The ``accelsim`` command lines :func:`record` runs (workload paths relative to the repository)."""
    runs = []
    for arch in ("int4", "int8", "fp16"):
        for workload in sorted(p for p in (REPO / "workloads").iterdir() if (p / "workload.yaml").is_file()):
            for mapping in ("search", "naive"):
                runs.append(["run", f"arch/{arch}.yaml", str(workload.relative_to(REPO)),
                             "--set", f"scheduler.mapping={mapping}"])
    runs.append(["run", "arch/int4.yaml", "workloads/small_beam16", "--timeline", str(tmp / "timeline.json"),
                 "--json", str(tmp / "run.json")])
    synthetic = tmp / "synthetic_5min"
    runs.append(["generate", "--out", str(synthetic), "--utterances", "30", "--seconds", "10", "--beam", "16",
                 "--fusion", "dr"])
    for mapping in ("search", "naive"):
        runs.append(["run", "arch/int4.yaml", str(synthetic), "--set", f"scheduler.mapping={mapping}"])
    return runs


def record(out: Path = SIGNATURES) -> str:
    """Run :func:`recorded_runs` here and write every kernel's Python-call argument keys to ``out``."""
    import contextlib
    import io

    from accelsim.cli import main

    os.chdir(REPO)
    with tempfile.TemporaryDirectory(prefix="accelsim-aot-record-") as tmp:
        for argv in recorded_runs(Path(tmp)):
            with contextlib.redirect_stdout(io.StringIO()):
                code = main(argv)
            if code != 0:
                raise SystemExit(f"accelsim {' '.join(argv)} exited {code}")
    lines = sorted(f"{k.qualified_name}({key})" for k in jit.KERNELS.values()
                   if k.qualified_name.split(".")[0] == "accelsim" for key in k.calls)
    header = ("# Kernel signatures compiled ahead of time (python3 -m accelsim.aot build): the argument types\n"
              "# (accelsim.jit.args_key) each kernel is called with from Python by the runs of\n"
              "# accelsim.aot.recorded_runs. Generated by: python3 -m accelsim.aot record\n")
    atomic_write_text(out, header + "\n".join(lines) + "\n")
    return f"wrote {out}: {len(lines)} signatures"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m accelsim.aot", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("build", "status", "record"))
    parser.add_argument("--verbose", action="store_true", help="show the compiler's commands (build)")
    parser.add_argument("--cpu", default="host", help="build: LLVM CPU name, 'host' (default, as numba's JIT) "
                        "or 'generic' (runs on any CPU of the family, and under valgrind)")
    args = parser.parse_args(argv)
    if args.action == "status":
        print(jit.aot_status())
        return 0
    if args.action == "record":
        print(record())
        return 0
    try:
        print(build(verbose=args.verbose, cpu=args.cpu))
    except Exception as e:  # no compiler, no pycc: accelsim still runs on numba's JIT
        print(f"python3 -m accelsim.aot build: failed ({type(e).__name__}: {e}); accelsim runs its kernels on "
              "numba's JIT instead (slower start-up, same results)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
