"""Bounded-memory counters for the profiler: exact-then-HyperLogLog distinct counts, top values,
character-class patterns.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_PATTERN_CHARS = 40
_TOPK_CAP = 2_000
_HLL_P = 14


class HyperLogLog:
    """HyperLogLog, 2^14 registers, deterministic blake2b hashes: same input, same estimate."""

    def __init__(self) -> None:
        self.registers = np.zeros(1 << _HLL_P, dtype=np.uint8)

    def add(self, values: Iterable[str]) -> None:
        hashes = np.fromiter(
            (
                int.from_bytes(
                    hashlib.blake2b(v.encode("utf-8", "surrogatepass"), digest_size=8).digest(),
                    "big",
                )
                for v in values
            ),
            dtype=np.uint64,
        )
        if not len(hashes):
            return
        index = (hashes >> np.uint64(64 - _HLL_P)).astype(np.int64)
        rest = hashes & np.uint64((1 << (64 - _HLL_P)) - 1)
        bits = np.zeros(len(rest), dtype=np.int64)
        nonzero = rest > 0
        bits[nonzero] = np.floor(np.log2(rest[nonzero].astype(np.float64))).astype(np.int64) + 1
        rank = (64 - _HLL_P) - bits + 1
        np.maximum.at(self.registers, index, rank.astype(np.uint8))

    def estimate(self) -> int:
        m = float(len(self.registers))
        raw = 0.7213 / (1 + 1.079 / m) * m * m / float(np.sum(2.0 ** -self.registers.astype(float)))
        zeros = int(np.count_nonzero(self.registers == 0))
        if raw <= 2.5 * m and zeros:
            return round(m * np.log(m / zeros))  # linear counting for small cardinalities
        return round(raw)


class ValueCounter:
    """Exact value counts up to a cap (Arrow group-by merge), then HLL + approximate top values."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.values = pa.array([], pa.string())
        self.counts = pa.array([], pa.int64())
        self.hll: HyperLogLog | None = None
        self.top: Counter[str] = Counter()

    def add(self, counts: pa.StructArray) -> None:
        values, numbers = counts.field("values"), counts.field("counts").cast(pa.int64())
        if self.hll is None:
            table = pa.table(
                {
                    "v": pa.concat_arrays([self.values, values]),
                    "c": pa.concat_arrays([self.counts, numbers]),
                }
            )
            merged = table.group_by("v").aggregate([("c", "sum")])
            self.values = merged.column("v").combine_chunks()
            self.counts = merged.column("c_sum").combine_chunks()
            if len(self.values) > self.cap:  # switch to bounded memory
                self.hll = HyperLogLog()
                self.hll.add(self.values.to_pylist())
                self.top = Counter(dict(self._exact_top(_TOPK_CAP // 2)))
                self.values, self.counts = pa.array([], pa.string()), pa.array([], pa.int64())
            return
        self.hll.add(values.to_pylist())
        if len(numbers) > 100:
            keep = pc.select_k_unstable(pa.table({"c": numbers}), 100, [("c", "descending")])
            values, numbers = values.take(keep), numbers.take(keep)
        self.top.update(dict(zip(values.to_pylist(), numbers.to_pylist(), strict=True)))
        if len(self.top) > _TOPK_CAP:
            self.top = Counter(dict(self.top.most_common(_TOPK_CAP // 2)))

    def merge(self, other: ValueCounter) -> None:
        """Add another counter (a later range of rows). Exact counts and the distinct estimate
        are what one pass would give (HyperLogLog registers merge by maximum); top values beyond
        the exact cap stay approximate."""
        if other.hll is None:
            if len(other.values):
                self.add(
                    pa.StructArray.from_arrays([other.values, other.counts], ["values", "counts"])
                )
            return
        if self.hll is None:
            self.hll = HyperLogLog()
            self.hll.add(self.values.to_pylist())
            self.top = Counter(dict(self._exact_top(_TOPK_CAP // 2)))
            self.values, self.counts = pa.array([], pa.string()), pa.array([], pa.int64())
        np.maximum(self.hll.registers, other.hll.registers, out=self.hll.registers)
        self.top.update(other.top)
        if len(self.top) > _TOPK_CAP:
            self.top = Counter(dict(self.top.most_common(_TOPK_CAP // 2)))

    def _exact_top(self, k: int) -> list[tuple[str, int]]:
        if not len(self.values):
            return []
        order = pc.sort_indices(
            pa.table({"c": self.counts, "v": self.values}),
            [("c", "descending"), ("v", "ascending")],
        )[:k]
        return list(
            zip(
                self.values.take(order).to_pylist(),
                self.counts.take(order).to_pylist(),
                strict=True,
            )
        )

    @property
    def exact(self) -> bool:
        return self.hll is None

    def distinct(self) -> int:
        return len(self.values) if self.hll is None else self.hll.estimate()

    def most_common(self, k: int) -> list[tuple[str, int]]:
        if self.hll is None:
            return self._exact_top(k)
        return sorted(self.top.items(), key=lambda kv: (-kv[1], kv[0]))[:k]


def char_pattern(values: pa.Array) -> pa.Array:
    """Letters -> A, digits -> 9, others kept, on the first 40 characters (… marks the cut)."""
    head = pc.utf8_slice_codeunits(values, 0, _PATTERN_CHARS)
    if pa.types.is_string(head.type):
        # ASCII letters and digits by lookup table; only the values holding other characters
        # then go through the regex for their non-ASCII letters (é, ß), about 10x slower
        pattern = _ascii_pattern(head)
        other = pc.fill_null(pc.invert(pc.string_is_ascii(head)), False)
        if pc.any(other).as_py():
            letters = pc.replace_substring_regex(pc.filter(pattern, other), r"\pL", "A")
            pattern = pc.replace_with_mask(pattern, other, letters)
    else:
        pattern = pc.replace_substring_regex(head, r"[0-9]", "9")
        pattern = pc.replace_substring_regex(pattern, r"\pL", "A")
    longer = pc.greater(pc.utf8_length(values), _PATTERN_CHARS)
    return pc.if_else(longer, pc.binary_join_element_wise(pattern, "…", ""), pattern)


_ASCII_CLASSES = np.arange(256, dtype=np.uint8)
_ASCII_CLASSES[ord("0") : ord("9") + 1] = ord("9")
_ASCII_CLASSES[ord("A") : ord("Z") + 1] = ord("A")
_ASCII_CLASSES[ord("a") : ord("z") + 1] = ord("A")


def _ascii_pattern(values: pa.Array) -> pa.Array:
    """Map an all-ASCII string array byte by byte through a lookup table (same offsets)."""
    validity, offsets, data = values.buffers()[:3]
    if data is None or data.size == 0:
        return values
    mapped = _ASCII_CLASSES[np.frombuffer(data, dtype=np.uint8)]
    return pa.StringArray.from_buffers(
        len(values),
        offsets,
        pa.py_buffer(mapped.tobytes()),
        validity,
        values.null_count,
        values.offset,
    )


def compress_pattern(pattern: str) -> str:
    """Write runs of a repeated character as ``X{n}``: ``AA9999999`` -> ``A{2}9{7}``."""
    return re.sub(r"(.)\1+", lambda m: f"{m.group(1)}{{{len(m.group(0))}}}", pattern)


def json_scalar(value: Any) -> str | int | float | None:
    if value is None or isinstance(value, str | int | float):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def round4(x: float) -> float:
    return round(float(x), 4)
