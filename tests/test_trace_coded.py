"""The integer view of a loaded workload (accelsim.trace.coded): narrow, exact and without needless copies."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from accelsim.trace import load_workload
from accelsim.trace.coded import TEXT_COLUMNS, op_codes

REPO = Path(__file__).resolve().parents[1]


def test_codes_are_int32_and_read_as_the_pandas_columns():
    wl = load_workload(REPO / "workloads" / "small_beam16")
    oc = op_codes(wl)
    for name in TEXT_COLUMNS:
        lab = getattr(oc, name)
        assert lab.codes.dtype == np.int32
        col = wl.ops[name]
        assert lab.names == tuple(str(c) for c in col.cat.categories)
        assert np.array_equal(np.asarray(lab.names, dtype=object)[lab.codes], col.astype(str).to_numpy())
    # the utterance ids are the loaded int32 column itself, not an int64 copy
    assert oc.utt.dtype == np.int32 and np.shares_memory(oc.utt, wl.ops["utt"].to_numpy())
    assert np.array_equal(oc.dep_ptr, wl.deps_csr()[0]) and np.array_equal(oc.dep_src, wl.deps_csr()[1])
