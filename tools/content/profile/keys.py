"""Exact key multiplicities in compact memory: a sorted numpy byte-string array plus counts.

Each key is stored once as fixed-width bytes (UTF-8 plus a 0x01 terminator, so numpy's
stripping of trailing NULs can never merge two keys and byte order equals Arrow's string order)
with an int64 count: about ``max key length + 9`` bytes a key, merged batch by batch with binary
search and one insert. The previous Arrow group-by over all keys seen so far needed several
times that in temporary hash tables at every batch (about 170 MB at 1M keys vs 19 MB here).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_END = b"\x01"


class KeyCounter:
    """Counts how often each (non-null) key occurs, exactly, over batches."""

    def __init__(self) -> None:
        self.keys = np.empty(0, dtype="S1")
        self.counts = np.empty(0, dtype=np.int64)

    def add(self, keys: pa.Array) -> None:
        """Add one batch of keys (nulls are ignored; count them separately)."""
        counts = pc.value_counts(pc.drop_null(keys))
        if not len(counts):
            return
        values = np.array(
            [v.encode("utf-8", "surrogatepass") + _END for v in counts.field("values").to_pylist()]
        )
        numbers = counts.field("counts").to_numpy().astype(np.int64)
        order = np.argsort(values, kind="stable")
        self._insert(values[order], numbers[order])

    def merge(self, other: KeyCounter) -> None:
        """Add another counter's keys (a later range of rows): the same as adding its batches."""
        if len(other.keys):
            self._insert(other.keys, other.counts)

    def _insert(self, values: np.ndarray, numbers: np.ndarray) -> None:
        """Add sorted, unique terminated keys with their counts."""
        width = max(self.keys.dtype.itemsize, values.dtype.itemsize)
        if self.keys.dtype.itemsize < width:
            self.keys = self.keys.astype(f"S{width}")
        values = values.astype(f"S{width}")
        at = np.searchsorted(self.keys, values)
        found = at < len(self.keys)
        found[found] = self.keys[at[found]] == values[found]
        self.counts[at[found]] += numbers[found]  # batch values are unique: no repeated index
        new = ~found
        self.keys = np.insert(self.keys, at[new], values[new])
        self.counts = np.insert(self.counts, at[new], numbers[new])

    @property
    def distinct(self) -> int:
        """Number of distinct keys."""
        return len(self.keys)

    def duplicates(self, sample: int) -> tuple[int, int, list[str]]:
        """(keys occurring more than once, rows beyond the first of each, up to ``sample`` of
        those keys, most repeated first, then in ascending order)."""
        dup = self.counts > 1
        keys, counts = self.keys[dup], self.counts[dup]
        order = np.lexsort((keys, -counts))[:sample]
        names = [k[:-1].decode("utf-8", "surrogatepass") for k in keys[order].tolist()]
        return len(keys), int(counts.sum()) - len(keys), names
