"""``accelsim`` imports only the chosen subcommand: ``--help`` is the whole parser's help without its imports."""

from __future__ import annotations

import subprocess
import sys

from accelsim.cli import SUBCOMMANDS, build_parser


def test_lazy_help_equals_the_whole_parsers_help():
    assert build_parser(["--help"]).format_help() == build_parser().format_help()


def test_subcommand_help_lines_match_their_modules():
    action = build_parser()._subparsers._group_actions[0]
    assert {a.dest: a.help for a in action._choices_actions} == SUBCOMMANDS


def test_help_loads_no_heavy_module():
    code = ("import sys; from accelsim.cli import build_parser; build_parser(['--help']).format_help(); "
            "print(sorted(m for m in ('pandas', 'pydantic', 'pyarrow', 'numpy', 'simpy', 'numba', 'rich') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_chosen_subcommand_still_gets_its_full_parser():
    args = build_parser(["run", "a.yaml", "wl", "--json", "x.json"]).parse_args(["run", "a.yaml", "wl", "--json", "x.json"])
    assert (args.command, args.arch, args.workload, args.json) == ("run", "a.yaml", "wl", "x.json")


def test_the_program_ends_with_its_code_streams_flushed_and_exit_handlers_run(tmp_path):
    code = ("import atexit, sys; atexit.register(lambda: print('exit handler ran')); print('buffered', end=' '); "
            "from accelsim.cli import main; sys.exit(main())")
    proc = subprocess.run([sys.executable, "-c", code, "run", str(tmp_path / "none.yaml"), str(tmp_path)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stdout == "buffered exit handler ran\n"
    assert "error:" in proc.stderr and "Traceback" not in proc.stderr


def test_imports_without_collection_pauses_the_collector_and_restores_it():
    import gc

    from accelsim.cli_dispatch import imports_without_collection

    assert gc.isenabled()
    try:
        with imports_without_collection():
            assert not gc.isenabled()
            made = [[i] for i in range(100)]
        assert gc.isenabled() and gc.get_freeze_count() >= len(made)
    finally:
        gc.unfreeze()
        gc.enable()


def test_the_program_still_waits_for_a_running_thread(tmp_path):
    code = ("import sys, threading, time; "
            "threading.Thread(target=lambda: (time.sleep(0.3), print('thread finished'))).start(); "
            "from accelsim.cli import main; sys.exit(main())")
    proc = subprocess.run([sys.executable, "-c", code, "run", str(tmp_path / "none.yaml"), str(tmp_path)],
                          capture_output=True, text=True)
    assert (proc.returncode, proc.stdout) == (2, "thread finished\n")


def _in_fresh_process(code: str, **env: str) -> str:
    import os

    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**os.environ, **env}).stdout.strip()


def test_numba_starts_without_importing_scipy_linalg_and_scipy_stays_importable():
    code = ("import sys, numpy as np; import accelsim.jit as j; from accelsim.jit import njit\n"
            "before = 'scipy.linalg' in sys.modules\n"
            "f = njit(lambda a: (a * 2).sum())\n"
            "total = f(np.arange(4))\n"
            "import scipy.linalg\n"
            "print(before, 'scipy.linalg' in sys.modules, total, sys.modules['scipy.linalg'] is not None)")
    # hidden while numba initialised and the jitted call ran; importable (and real) afterwards
    assert _in_fresh_process(code) == "False True 12 True"


def test_numba_keeps_its_own_start_up_when_asked():
    code = "import sys; import accelsim.jit as j; j.ready_numba(); print('scipy.linalg' in sys.modules)"
    assert _in_fresh_process(code, ACCELSIM_NUMBA_BLAS="1") == "True"
    assert _in_fresh_process(code) == "False"
