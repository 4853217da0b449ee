"""Deterministic structural embeddings: a fixed-length vector from a column's values alone.

No model and no randomness: the same values give a bit-identical vector on every run and machine
(float64 maths in a fixed order, cast to float32 at the end; no ``hash()``). Used for schema
matching, recognising a layout across files (:mod:`knowledge.embeddings.layout`) and drift between
waves.

Vector layout (``DIMENSION`` = 59 float32 values, every one in [0, 1] except the numeric
quantiles, which are in [-1, 1]); ``BLOCKS`` names the slices:

``type`` (8)
    One-hot Arrow type class: integer, floating/decimal, string, binary, boolean, temporal,
    nested (list/struct/map), other/null.
``presence`` (5)
    Null rate (whole column), blank rate (empty or whitespace-only text), distinct ratio,
    share of values seen once, share of the most frequent value (distinct stats on the sample).
``length`` (7)
    Length of the text form in UTF-8 bytes (list length for nested columns): mean, std, min,
    median, max (each ``log1p(x) / log1p(256)``, capped at 1), share of values at the most
    common length (1.0 for fixed-length codes), and the
    Shannon entropy of the length distribution divided by ``log2(64)``.
``chars`` (20)
    Character-class pattern: for each position quarter of a value (first..last 25 % of its
    bytes), the share of upper-case letters, lower-case letters, digits, spaces and
    punctuation/other. Each quarter's 5 shares sum to 1 (0 when the column has no text).
``numeric`` (10)
    Share of values that are numbers (native or text such as ``"1234.50"``), share negative,
    share integral, then the 0/10/25/50/75/90/100 % quantiles of ``sign(x) * log10(1 + |x|) / 12``.
``date`` (9)
    Share of values in each date format: YYYY-MM-DD, YYYYMMDD, MM/DD/YYYY, DD.MM.YYYY,
    Julian YYYYDDD, IBM CYYMMDD, YYMMDD, ISO timestamp, DD-MON-YYYY. A clean date column is
    one-hot here; native date columns are compared through their ISO text form.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.errors import InputError

SAMPLE_SIZE: Final = 4096
"""Values looked at per column (evenly strided, so the vector reflects the whole column)."""

BLOCKS: Final[dict[str, slice]] = {
    "type": slice(0, 8),
    "presence": slice(8, 13),
    "length": slice(13, 20),
    "chars": slice(20, 40),
    "numeric": slice(40, 50),
    "date": slice(50, 59),
}
DIMENSION: Final = 59

TYPE_CLASSES: Final = (
    "integer",
    "floating",
    "string",
    "binary",
    "boolean",
    "temporal",
    "nested",
    "other",
)
DATE_FORMATS: Final[tuple[tuple[str, str], ...]] = (
    ("YYYY-MM-DD", r"^(19|20)\d\d-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$"),
    ("YYYYMMDD", r"^(19|20)\d\d(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])$"),
    ("MM/DD/YYYY", r"^(0?[1-9]|1[0-2])/(0?[1-9]|[12]\d|3[01])/(19|20)\d\d$"),
    ("DD.MM.YYYY", r"^(0?[1-9]|[12]\d|3[01])\.(0?[1-9]|1[0-2])\.(19|20)\d\d$"),
    ("YYYYDDD", r"^(19|20)\d\d(00[1-9]|0[1-9]\d|[12]\d\d|3[0-5]\d|36[0-6])$"),
    ("CYYMMDD", r"^[01]\d\d(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])$"),
    ("YYMMDD", r"^\d\d(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])$"),
    ("ISO-TIMESTAMP", r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d"),
    ("DD-MON-YYYY", r"(?i)^\d\d-(JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)-\d{4}$"),
)
_NUMBER_PATTERN: Final = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"
_QUANTILES: Final = (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0)
_LENGTH_SCALE: Final = math.log1p(256)
_MAX_ENTROPY_BINS: Final = 64

# Byte -> character class (0 upper, 1 lower, 2 digit, 3 space, 4 punctuation/other). Bytes >= 128
# are UTF-8 pieces of accented letters in practice, so they count as lower-case letters.
_CHAR_CLASS = np.full(256, 4, dtype=np.int64)
_CHAR_CLASS[ord("A") : ord("Z") + 1] = 0
_CHAR_CLASS[ord("a") : ord("z") + 1] = 1
_CHAR_CLASS[128:] = 1
_CHAR_CLASS[ord("0") : ord("9") + 1] = 2
_CHAR_CLASS[[ord(" "), ord("\t"), ord("\r"), ord("\n")]] = 3


def column_vector(
    values: pa.Array | pa.ChunkedArray, *, name: str | None = None, sample_size: int = SAMPLE_SIZE
) -> np.ndarray:
    """Compute the structural vector of one column.

    Args:
        values: The column's values (any Arrow type; chunked arrays are fine).
        name: The column's name, used only in error messages: the vector depends on values alone.
        sample_size: At most this many values are inspected, taken at an even stride.

    Returns:
        A float32 array of length :data:`DIMENSION`, laid out as described in the module docstring.

    Raises:
        InputError: ``values`` is not an Arrow array.
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    if not isinstance(values, pa.Array):
        raise InputError(
            f"expected an Arrow array, got {type(values).__name__}",
            where=f"column {name!r}" if name else "column_vector",
            fix="pass a pyarrow.Array or pyarrow.ChunkedArray",
        )
    vector = np.zeros(DIMENSION, dtype=np.float64)
    vector[BLOCKS["type"]] = _type_block(values.type)
    total = len(values)
    null_rate = values.null_count / total if total else 0.0
    present = pc.drop_null(_sample(values, sample_size))
    if len(present) == 0:
        vector[BLOCKS["presence"]] = (null_rate if total else 1.0, 0.0, 0.0, 0.0, 0.0)
        return vector.astype(np.float32)

    nested = _type_class(values.type) == "nested"
    text = None if nested else _as_text(present)
    strings = _decoded(text) if text is not None else None
    vector[BLOCKS["presence"]] = _presence_block(present, strings, null_rate, nested)
    if nested:
        lengths = pc.list_value_length(present).to_numpy(zero_copy_only=False).astype(np.int64)
    else:
        assert text is not None
        offsets, data = _text_buffers(text)
        lengths = np.diff(offsets)
        vector[BLOCKS["chars"]] = _chars_block(offsets, data)
        if strings is not None:
            vector[BLOCKS["numeric"]] = _numeric_block(present, strings)
            vector[BLOCKS["date"]] = _date_block(strings)
    vector[BLOCKS["length"]] = _length_block(lengths)
    return vector.astype(np.float32)


def structural_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Distance between two structural vectors, in [0, 1].

    The mean absolute difference inside each block, averaged over the blocks that are active
    (non-zero) in either vector, so that a block both columns leave empty (no dates, say) does
    not make two unrelated columns look alike.

    Args:
        a: A vector from :func:`column_vector`.
        b: Another one.

    Returns:
        0.0 for identical vectors, up to 1.0 for vectors alike in nothing.
    """
    diffs: list[float] = []
    for block in BLOCKS.values():
        left, right = a[block].astype(np.float64), b[block].astype(np.float64)
        if not left.any() and not right.any():
            continue
        scale = 2.0 if block == BLOCKS["numeric"] else 1.0
        # The type and date blocks are one-hot-like: a mismatch moves two entries by 1.
        width = 2.0 if block in (BLOCKS["type"], BLOCKS["date"]) else float(left.size)
        diffs.append(min(1.0, float(np.abs(left - right).sum()) / (width * scale)))
    return float(np.mean(diffs)) if diffs else 0.0


def type_class(vector: np.ndarray) -> str:
    """The Arrow type class recorded in a structural vector (``"string"``, ``"integer"``...)."""
    return TYPE_CLASSES[int(np.argmax(vector[BLOCKS["type"]]))]


def null_rate(vector: np.ndarray) -> float:
    """The null rate recorded in a structural vector."""
    return float(vector[BLOCKS["presence"]][0])


def _sample(values: pa.Array, size: int) -> pa.Array:
    if len(values) <= size:
        return values
    indices = (np.arange(size, dtype=np.int64) * len(values)) // size
    return values.take(pa.array(indices))


def _type_class(arrow_type: pa.DataType) -> str:
    if pa.types.is_integer(arrow_type):
        return "integer"
    if pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return "floating"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "string"
    if pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type):
        return "binary"
    if pa.types.is_fixed_size_binary(arrow_type):
        return "binary"
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_temporal(arrow_type):
        return "temporal"
    if pa.types.is_nested(arrow_type):
        return "nested"
    if pa.types.is_dictionary(arrow_type):
        return _type_class(arrow_type.value_type)
    return "other"


def _type_block(arrow_type: pa.DataType) -> np.ndarray:
    block = np.zeros(len(TYPE_CLASSES))
    block[TYPE_CLASSES.index(_type_class(arrow_type))] = 1.0
    return block


def _as_text(present: pa.Array) -> pa.Array:
    """The values' text form as large_binary (string bytes; numbers as Arrow prints them)."""
    if pa.types.is_dictionary(present.type):
        present = present.dictionary_decode()
    kind = _type_class(present.type)
    if kind == "binary":
        return present.cast(pa.large_binary())
    if kind == "temporal" and pa.types.is_timestamp(present.type):
        present = present.cast(pa.timestamp(present.type.unit))  # drop the zone: text is local
    if kind != "string":
        present = present.cast(pa.large_string())
    return present.cast(pa.large_binary())


def _text_buffers(text: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    buffers = text.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64, count=len(text) + 1, offset=text.offset * 8)
    data = (
        np.frombuffer(buffers[2], dtype=np.uint8)
        if buffers[2] is not None
        else np.zeros(0, np.uint8)
    )
    return offsets - offsets[0], data[offsets[0] : offsets[-1]]


def _decoded(text: pa.Array) -> pa.Array | None:
    """The text as large_string, or None when the bytes are not UTF-8 (undecoded EBCDIC...)."""
    try:
        return text.cast(pa.large_string())
    except pa.ArrowInvalid:
        return None


def _presence_block(
    present: pa.Array, strings: pa.Array | None, null_rate_: float, nested: bool
) -> tuple[float, ...]:
    count = len(present)
    blank = 0.0
    if strings is not None:
        trimmed = pc.utf8_trim_whitespace(strings)
        blank = pc.sum(pc.equal(pc.binary_length(trimmed), 0)).as_py() / count
    if nested:
        return (null_rate_, blank, 0.0, 0.0, 0.0)
    counts = pc.value_counts(present).field("counts").to_numpy()
    distinct = len(counts) / count
    singletons = float((counts == 1).sum()) / count
    return (null_rate_, blank, distinct, singletons, float(counts.max()) / count)


def _length_block(lengths: np.ndarray) -> np.ndarray:
    scaled = np.minimum(np.log1p(lengths.astype(np.float64)) / _LENGTH_SCALE, 1.0)
    histogram = np.bincount(np.minimum(lengths, _MAX_ENTROPY_BINS - 1), minlength=_MAX_ENTROPY_BINS)
    shares = histogram[histogram > 0] / lengths.size
    entropy = (0.0 - float((shares * np.log2(shares)).sum())) / math.log2(_MAX_ENTROPY_BINS)
    return np.array(
        [
            scaled.mean(),
            scaled.std(),
            scaled.min(),
            np.median(scaled),
            scaled.max(),
            float(histogram.max()) / lengths.size,
            entropy,
        ]
    )


def _chars_block(offsets: np.ndarray, data: np.ndarray) -> np.ndarray:
    if data.size == 0:
        return np.zeros(20)
    lengths = np.diff(offsets)
    owner = np.repeat(np.arange(lengths.size), lengths)
    position = np.arange(data.size, dtype=np.int64) - offsets[owner]
    quarter = (position * 4) // lengths[owner]
    cells = np.bincount(quarter * 5 + _CHAR_CLASS[data], minlength=20).reshape(4, 5).astype(float)
    totals = cells.sum(axis=1, keepdims=True)
    return np.divide(cells, totals, out=np.zeros_like(cells), where=totals > 0).ravel()


def _numeric_block(present: pa.Array, strings: pa.Array) -> np.ndarray:
    block = np.zeros(10)
    kind = _type_class(present.type)
    if kind in ("integer", "floating"):
        # safe=False: integers beyond +-2**53 (18-digit zoned/binary) and wide decimals round to
        # the nearest float64 instead of raising; the quantiles only need magnitudes.
        numbers = present.cast(pa.float64(), safe=False).to_numpy(zero_copy_only=False)
    elif kind == "string":
        mask = pc.match_substring_regex(strings, _NUMBER_PATTERN)
        candidates = pc.utf8_trim_whitespace(pc.filter(strings, mask))
        numbers = candidates.cast(pa.float64(), safe=False).to_numpy(zero_copy_only=False)
    else:  # raw bytes (undecoded EBCDIC, packed decimals) are not read as numbers here
        return block
    numbers = numbers[np.isfinite(numbers)]
    if numbers.size == 0:
        return block
    block[0] = numbers.size / len(present)
    block[1] = float((numbers < 0).mean())
    block[2] = float((numbers == np.floor(numbers)).mean())
    scaled = np.clip(np.sign(numbers) * np.log10(1.0 + np.abs(numbers)) / 12.0, -1.0, 1.0)
    block[3:] = np.quantile(scaled, _QUANTILES, method="inverted_cdf")
    return block


def _date_block(strings: pa.Array) -> np.ndarray:
    strings = pc.utf8_trim_whitespace(strings)
    count = len(strings)
    return np.array(
        [
            pc.sum(pc.match_substring_regex(strings, pattern)).as_py() / count
            for _, pattern in DATE_FORMATS
        ]
    )
