"""The integer view of a loaded workload (accelsim.trace.coded): narrow, exact and without needless copies."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from accelsim.trace import load_workload
from accelsim.trace.coded import TEXT_COLUMNS, op_codes

REPO = Path(__file__).resolve().parents[1]


def test_codes_are_narrow_and_read_as_the_pandas_columns():
    wl = load_workload(REPO / "workloads" / "small_beam16")
    oc = op_codes(wl)
    for name in TEXT_COLUMNS:
        lab = getattr(oc, name)
        # the narrowest signed dtype that also holds the label count (a "none" code some callers use)
        assert lab.codes.dtype == np.min_scalar_type(-len(lab.names) - 1)
        col = wl.ops[name]
        assert lab.names == tuple(str(c) for c in col.cat.categories)
        assert np.array_equal(np.asarray(lab.names, dtype=object)[lab.codes], col.astype(str).to_numpy())
    # the utterance ids: narrowest dtype too (only compared); shapes int64 (multiplied); deps int32 CSR
    assert oc.utt.dtype == np.min_scalar_type(-int(oc.utt.max()) - 1)
    assert np.array_equal(oc.utt, wl.ops["utt"].to_numpy())
    assert oc.m.dtype == oc.k.dtype == oc.n.dtype == np.int64
    assert oc.dep_ptr.dtype == oc.dep_src.dtype == np.int32
    assert np.array_equal(oc.dep_ptr, wl.deps_csr()[0]) and np.array_equal(oc.dep_src, wl.deps_csr()[1])


def test_rows_of_selects_by_code_and_is_empty_for_an_absent_label():
    import numpy as np

    from accelsim.trace.coded import Labelled

    lab = Labelled(np.array([1, 0, 1, 2], dtype=np.int8), ("a", "b", "c"))
    assert lab.rows_of("b").tolist() == [True, False, True, False]
    assert not lab.rows_of("zzz").any()
