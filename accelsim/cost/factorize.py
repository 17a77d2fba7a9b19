"""Dense codes of int64 keys in order of first appearance: one compiled pass over an open-addressing hash
table (what ``pandas.factorize`` and Arrow's ``dictionary_encode`` return, without importing either: the
short runs' start-up skips ``pyarrow.compute``, about 25 ms). The table holds the distinct keys only (it
doubles when half full), so coding a 10 M-op trace's few thousand op classes takes tens of KiB."""

from __future__ import annotations

import numpy as np

from accelsim.jit import njit

_GOLDEN = 0x9E3779B97F4A7C15  # Fibonacci hashing: the key times 2**64 / golden ratio, top bits


@njit(cache=True)
def _slot(key, bits):  # pragma: no cover - compiled
    return (np.uint64(key) * np.uint64(_GOLDEN)) >> np.uint64(64 - bits)


@njit(cache=True)
def factorize_int64(values):  # pragma: no cover - compiled
    """(codes, uniques) of an int64 array: ``uniques`` in order of first appearance, ``codes[i]`` (int64)
    the position of ``values[i]`` in it."""
    n = len(values)
    codes = np.empty(n, dtype=np.int64)
    uniques = np.empty(16, dtype=np.int64)
    bits = 5
    table = np.full(1 << bits, -1, dtype=np.int64)  # slot -> index into uniques, -1: empty
    mask = (1 << bits) - 1
    count = 0
    for i in range(n):
        v = values[i]
        s = _slot(v, bits)
        while True:
            u = table[s]
            if u < 0 or uniques[u] == v:
                break
            s = (s + np.uint64(1)) & np.uint64(mask)
        if u >= 0:
            codes[i] = u
            continue
        if count == len(uniques):
            grown = np.empty(2 * count, dtype=np.int64)
            grown[:count] = uniques
            uniques = grown
        uniques[count] = v
        table[s] = count
        codes[i] = count
        count += 1
        if 2 * count > (1 << bits):  # half full: double the table and re-insert the keys
            bits += 1
            mask = (1 << bits) - 1
            table = np.full(1 << bits, -1, dtype=np.int64)
            for j in range(count):
                t = _slot(uniques[j], bits)
                while table[t] >= 0:
                    t = (t + np.uint64(1)) & np.uint64(mask)
                table[t] = j
    return codes, uniques[:count].copy()
