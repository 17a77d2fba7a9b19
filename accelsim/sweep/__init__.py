"""Design-space sweeps: a grid in (``sweeps/*.yaml``), a tidy results table out (one row per point).

spec.py (schema, loader) -> grid.py (expansion, point ids, up-front validation) -> backends.py (process pool,
Dask) -> journal.py (durable per-point records) -> results.py (Parquet/CSV table) ; runner.py ties them together,
evaluate.py runs one point through the simulator.
"""

from accelsim.sweep.backends import BACKENDS, Backend, DaskBackend, LocalBackend, call_point, make_backend
from accelsim.sweep.grid import PointTask, expand, resolve_points
from accelsim.sweep.journal import Journal, Outcome, read_journal
from accelsim.sweep.results import RESULTS_FORMAT_VERSION, build_table, read_results, write_results
from accelsim.sweep.runner import SweepReport, run_sweep
from accelsim.sweep.spec import SweepSpec, load_sweep, spec_from_dict

__all__ = [
    "BACKENDS",
    "Backend",
    "RESULTS_FORMAT_VERSION",
    "DaskBackend",
    "Journal",
    "LocalBackend",
    "Outcome",
    "PointTask",
    "SweepReport",
    "SweepSpec",
    "build_table",
    "call_point",
    "expand",
    "load_sweep",
    "make_backend",
    "read_journal",
    "read_results",
    "resolve_points",
    "run_sweep",
    "spec_from_dict",
    "write_results",
]
