"""numba for accelsim's compiled loops, started without importing ``scipy.linalg``.

Every ``@njit`` function of accelsim (the fast engine, the aggregation passes, the estimator, the edge
builders) is decorated with :data:`njit` from here. Importing this module imports numba and initialises its
CPU target once (:func:`ready_numba`): the registries of every numba implementation load then, as they
would at the first call of any jitted function. One of them, ``numba.np.arraymath``, probes for BLAS at
import by importing ``scipy.linalg.cython_blas`` (about 0.15 CPU s of a 1.5 s short run on the build
machine); accelsim's kernels use no BLAS. :func:`ready_numba` therefore hides ``scipy.linalg`` during that
one initialisation and restores the import system afterwards, so the probe reports "no BLAS" and costs
nothing. What that changes in numba: ``numba.np.arraymath._HAVE_BLAS`` is False for the process, so
``np.dot`` / ``np.vdot`` of jitted code that accelsim does not have would use numba's loop instead of BLAS
for 1-D inner products; every other linear-algebra function still imports scipy when it is compiled
(``numba.np.linalg.ensure_blas``). Nothing is hidden when ``scipy.linalg`` is already imported.
``ACCELSIM_NUMBA_BLAS=1`` keeps numba's own start-up.
"""

from __future__ import annotations

import os
import sys

from numba import njit

__all__ = ["njit", "ready_numba"]

_HIDDEN = "scipy.linalg"


def ready_numba() -> None:
    """Initialise numba's CPU target now (idempotent), without its BLAS probe importing ``scipy.linalg``."""
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


ready_numba()
