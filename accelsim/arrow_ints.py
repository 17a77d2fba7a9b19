"""Integer arrays between numpy and Arrow, zero-copy, without importing pandas.

pyarrow's own conversions (``Array.to_numpy``, ``np.asarray(array)``, ``pa.array(ndarray)``) import pandas
on first use (pyarrow's pandas shim), 0.2 s of CPU that the simulator never needs otherwise; these go through
the buffers instead.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def int_view(arr: pa.Array) -> np.ndarray:
    """A read-only numpy view of a null-free integer Arrow array (its data buffer, from the array's offset)."""
    if arr.null_count:
        raise ValueError("int_view: the array holds nulls")
    if not pa.types.is_integer(arr.type):
        raise TypeError(f"int_view: expected an integer array, got {arr.type}")
    dtype = np.dtype(str(arr.type))  # "int8" .. "uint64" name numpy's dtypes too
    if len(arr) == 0:
        return np.zeros(0, dtype=dtype)
    return np.frombuffer(arr.buffers()[1], dtype=dtype, count=arr.offset + len(arr))[arr.offset:]


def int_array(values: np.ndarray) -> pa.Array:
    """An Arrow array over a 1-d numpy integer array's memory (made contiguous first if it is not)."""
    values = np.ascontiguousarray(values)
    if values.dtype.kind not in "iu":
        raise TypeError(f"int_array: expected integers, got {values.dtype}")
    return pa.Array.from_buffers(pa.from_numpy_dtype(values.dtype), len(values), [None, pa.py_buffer(values)])
