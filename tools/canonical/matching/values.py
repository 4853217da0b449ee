"""Value signals: a compact profile per column and vectorised similarity matrices.

A profile keeps what the matcher compares: the distinct values in a normal form (overlap),
log-scaled quantiles of numeric values (distribution), the deterministic structural vector
(``knowledge.embeddings.structural``) and a coarse kind (date, money, integer, numeric text,
code, text) that canonical mode checks against a field's expected type.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from knowledge.embeddings.structural import BLOCKS, DIMENSION, column_vector

SAMPLE = 2000
"""Non-null values profiled per column (evenly spaced over the column)."""
MAX_DISTINCT = SAMPLE
"""Distinct values kept for overlap: all of the sample's, so that a target's enumeration of
2,000 permissible values (diagnoses, anatomic sites) is compared whole."""
_QUANTILES = np.linspace(0.0, 1.0, 11)


@dataclass(frozen=True)
class ColumnProfile:
    """What the matcher knows about one column's values."""

    present: int
    """Non-null, non-blank values in the sample."""
    distinct: frozenset[str]
    """Distinct values in their :func:`value_key` form, at most MAX_DISTINCT."""
    samples: tuple[str, ...]
    """A few distinct values as written, most frequent first (for evidence and prompts)."""
    quantiles: np.ndarray | None
    """sign(x)*log10(1+|x|) quantiles when most values are numbers, else None."""
    vector: np.ndarray
    """Structural vector (``column_vector``)."""
    kind: str
    """date | money | integer | numeric_text | code | text | empty."""
    code_values: tuple[str, ...]
    """Distinct raw values when the column looks like a code (few distinct short values)."""
    words: frozenset[str] = frozenset()
    """The words (3+ letters, lower case, accents folded) of its distinct text values."""


def _sample(values: pa.Array) -> pa.Array:
    """At most SAMPLE non-null values, evenly spaced: a target listing its permissible values
    down a mostly empty column (36 stages over 4,478 rows) keeps every one of them."""
    if values.null_count:
        values = pc.drop_null(values)
    if len(values) <= SAMPLE:
        return values
    idx = (np.arange(SAMPLE, dtype=np.int64) * len(values)) // SAMPLE
    return values.take(pa.array(idx))


def _text(values: pa.Array) -> list[str]:
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    try:
        strings = values.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        strings = pa.array([None if v is None else str(v) for v in values.to_pylist()])
    out = [s.strip() for s in strings.to_pylist() if s is not None]
    return [s for s in out if s]


def profile(values: pa.Array | pa.ChunkedArray | None) -> ColumnProfile | None:
    """Profile one column (None stays None: a target without values)."""
    if values is None:
        return None
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    try:
        vector = column_vector(values).astype(np.float64)
    except Exception:  # an odd Arrow type must not stop matching: fall back to no structure
        vector = np.zeros(DIMENSION)
    sampled = _sample(values)
    if pa.types.is_nested(sampled.type):
        sampled = pc.list_flatten(sampled) if pa.types.is_list(sampled.type) else sampled
    texts = _text(sampled) if not pa.types.is_nested(sampled.type) else []
    counts: dict[str, int] = {}
    for t in texts:
        counts[t] = counts.get(t, 0) + 1
    ordered = sorted(counts, key=lambda k: (-counts[k], k))
    distinct = frozenset(value_key(t) for t in ordered[:MAX_DISTINCT])
    quantiles = _numeric_quantiles(sampled, texts)
    kind = _kind(sampled.type, vector, texts, quantiles, len(ordered))
    code_values = tuple(ordered[:60]) if kind == "code" or len(ordered) <= 60 else ()
    words = (
        frozenset(w for t in ordered[:MAX_DISTINCT] for w in value_words_of(t))
        if quantiles is None
        else frozenset()
    )
    return ColumnProfile(
        present=len(texts),
        distinct=distinct,
        samples=tuple(ordered[:8]),
        quantiles=quantiles,
        vector=vector,
        kind=kind,
        code_values=code_values,
        words=words,
    )


_QUALIFIER = re.compile(r"^[a-z](?=[A-Z])")
_SEPARATORS = re.compile(r"[\s_\-./,;:]+")
_ASIDE = re.compile(r"\s*[(\[][^()\[\]]*[)\]]\s*$")
_WORDS = re.compile(r"[a-z]{3,}")


def _fold(text: str) -> str:
    if text.isascii():
        return text
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def value_words_of(text: str) -> list[str]:
    """The words of a value: 3+ letters, lower case, accents folded (digits and codes dropped)."""
    return _WORDS.findall(_fold(text).lower())


def value_key(text: str) -> str:
    """The form two spellings of one value share, for overlap.

    A one-letter lower-case qualifier before a capitalised code is dropped (``pN0``, ``cM0``,
    ``yT2``: the pathological, clinical and post-therapy prefixes of TNM staging write the same
    category ``N0``, ``M0``, ``T2``); a closing aside in brackets is dropped (``pT1a (FIGO
    IA)``, ``N0 (i+)``: the category, then another system's name or a modifier of it); accents
    are folded, case and separators ignored (``Stage IIA`` = ``stage-iia``).
    """
    text = _QUALIFIER.sub("", text.strip())
    text = _ASIDE.sub("", text) or text
    key = _SEPARATORS.sub("", _fold(text).lower())
    return key or text.lower()


def _numeric_quantiles(values: pa.Array, texts: list[str]) -> np.ndarray | None:
    if (
        pa.types.is_integer(values.type)
        or pa.types.is_floating(values.type)
        or pa.types.is_decimal(values.type)
    ):
        # safe=False: 18-digit integers and wide decimals round instead of raising ArrowInvalid
        nums = pc.drop_null(values).cast(pa.float64(), safe=False).to_numpy(zero_copy_only=False)
    else:
        parsed = []
        for t in texts:
            try:
                parsed.append(float(t.replace(",", "")))
            except ValueError:
                continue
        if not texts or len(parsed) < 0.9 * len(texts):
            return None
        nums = np.array(parsed)
    nums = nums[np.isfinite(nums)]
    if nums.size == 0:
        return None
    scaled = np.sign(nums) * np.log10(1.0 + np.abs(nums))
    return np.quantile(scaled, _QUANTILES)


_DAY_FIRST = re.compile(r"^(0?[1-9]|[12]\d|3[01])[/.-](0?[1-9]|1[0-2])[/.-](19|20)\d\d$")


def _kind(
    arrow_type: pa.DataType,
    vector: np.ndarray,
    texts: list[str],
    quantiles: np.ndarray | None,
    n_distinct: int,
) -> str:
    if not texts:
        return "empty"
    if pa.types.is_temporal(arrow_type) or float(vector[BLOCKS["date"]].sum()) >= 0.8:
        return "date"
    if sum(bool(_DAY_FIRST.match(t)) for t in texts) >= 0.8 * len(texts):
        return "date"  # 31/01/2024: day-first slashes, the European way (the block has no slot)
    if pa.types.is_decimal(arrow_type) or pa.types.is_floating(arrow_type):
        return "money"
    if pa.types.is_integer(arrow_type):
        return "integer"
    if quantiles is not None:
        return "numeric_text"
    mean_len = sum(map(len, texts)) / len(texts)
    if n_distinct <= max(12, 0.05 * len(texts)) and mean_len <= 12:
        return "code"
    return "text"


def overlap_matrix(
    sources: list[ColumnProfile | None], targets: list[ColumnProfile | None]
) -> np.ndarray:
    """Value overlap in [0, 1]: containment of distinct text values, or numeric distribution
    similarity when both columns are numeric; NaN where either side has no values."""
    out = np.full((len(sources), len(targets)), np.nan)
    for i, s in enumerate(sources):
        if s is None or s.present == 0:
            continue
        for j, t in enumerate(targets):
            if t is None or t.present == 0:
                continue
            if s.quantiles is not None and t.quantiles is not None:
                gap = float(np.mean(np.abs(s.quantiles - t.quantiles)))
                out[i, j] = float(np.exp(-2.0 * gap))
                continue
            if s.quantiles is not None or t.quantiles is not None:
                out[i, j] = 0.0
                continue
            small = min(len(s.distinct), len(t.distinct))
            out[i, j] = len(s.distinct & t.distinct) / small if small else 0.0
    return out


def structure_matrix(
    sources: list[ColumnProfile | None], targets: list[ColumnProfile | None]
) -> np.ndarray:
    """1 - structural distance (vectorised ``structural_distance``); NaN without values."""
    si = [i for i, s in enumerate(sources) if s is not None and s.present]
    tj = [j for j, t in enumerate(targets) if t is not None and t.present]
    out = np.full((len(sources), len(targets)), np.nan)
    if not si or not tj:
        return out
    a = np.stack([sources[i].vector for i in si])  # type: ignore[union-attr]
    b = np.stack([targets[j].vector for j in tj])  # type: ignore[union-attr]
    total = np.zeros((len(si), len(tj)))
    active = np.zeros((len(si), len(tj)))
    for name, block in BLOCKS.items():
        left, right = a[:, block], b[:, block]
        on = np.asarray(left.any(axis=1))[:, None] | np.asarray(right.any(axis=1))[None, :]
        scale = 2.0 if name == "numeric" else 1.0
        width = 2.0 if name in ("type", "date") else float(left.shape[1])
        diff = np.abs(left[:, None, :] - right[None, :, :]).sum(axis=2)
        total += np.where(on, np.minimum(1.0, diff / (width * scale)), 0.0)
        active += on
    dist = np.divide(total, active, out=np.zeros_like(total), where=active > 0)
    out[np.ix_(si, tj)] = 1.0 - dist
    return out
