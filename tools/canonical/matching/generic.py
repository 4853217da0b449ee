"""Generic schema matching: rank the columns of any target schema for each source column.

No domain knowledge: names, optional target descriptions, values (overlap, distribution,
structure) and, with an embedder, semantic similarity. The canonical (insurance) mode in
:mod:`tools.canonical.matching.canonical` is this plus glossary expansion and code tables.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pyarrow as pa

from knowledge.embeddings.semantic import Embedder
from tools.canonical.matching.assign import assign
from tools.canonical.matching.conditioning import values_lead
from tools.canonical.matching.names import (
    Expander,
    generic_tokens,
    idf_overlap,
    name_similarity,
    phrase,
)
from tools.canonical.matching.types import Candidate, RankResult
from tools.canonical.matching.values import (
    ColumnProfile,
    overlap_matrix,
    profile,
    structure_matrix,
    value_words_of,
)

GENERIC_WEIGHTS: dict[str, float] = {
    "name": 0.40,
    "semantic": 0.30,
    "description": 0.15,
    "values": 0.20,
    "structure": 0.10,
}
"""Default weights; a signal that does not apply to a pair (NaN) drops out of its mean."""
AGREE = 0.6
MAX_CATEGORIES = 60
VOCABULARY = 0.8
"""Weight of shared value words against shared values (``head`` among ``Head of pancreas``)."""
"""Distinct values up to which a column is categorical (``values.profile`` keeps them)."""


def flatten_columns(columns: Mapping[str, pa.Array | pa.ChunkedArray]) -> dict[str, pa.Array]:
    """Flatten struct columns to dotted names and list<struct> to ``NAME[].field`` columns.

    Repeated groups (COBOL OCCURS, JSON arrays) arrive as list<struct>; each struct field
    becomes its own column over all list items, named as mapping specs write list paths.
    """
    out: dict[str, pa.Array] = {}
    for name, values in columns.items():
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
        _flatten(name, values, out)
    return out


def _flatten(name: str, values: pa.Array, out: dict[str, pa.Array]) -> None:
    kind = values.type
    if pa.types.is_struct(kind):
        for k in range(kind.num_fields):
            _flatten(f"{name}.{kind.field(k).name}", values.field(k), out)
    elif (pa.types.is_list(kind) or pa.types.is_large_list(kind)) and pa.types.is_struct(
        kind.value_type
    ):
        items = values.flatten()
        for k in range(items.type.num_fields):
            _flatten(f"{name}[].{items.type.field(k).name}", items.field(k), out)
    elif pa.types.is_list(kind) or pa.types.is_large_list(kind):
        out[f"{name}[]"] = values.flatten()
    else:
        out[name] = values


def semantic_matrix(
    embedder: Embedder | None, source_docs: list[str], target_docs: list[str]
) -> np.ndarray:
    """Cosine similarity of embedded documents clipped to [0, 1]; NaN without an embedder."""
    if embedder is None or not source_docs or not target_docs:
        return np.full((len(source_docs), len(target_docs)), np.nan)
    vectors = embedder.embed(list(source_docs) + list(target_docs))
    a, b = vectors[: len(source_docs)], vectors[len(source_docs) :]
    return np.clip(a @ b.T, 0.0, 1.0).astype(float)


def combine(signals: Mapping[str, np.ndarray], weights: Mapping[str, float]) -> np.ndarray:
    """Weighted mean of the signals that apply to each pair (NaN entries drop out)."""
    total = None
    norm = None
    for name, matrix in signals.items():
        w = weights.get(name, 0.0)
        if w <= 0:
            continue
        present = ~np.isnan(matrix)
        part = np.where(present, matrix, 0.0) * w
        total = part if total is None else total + part
        norm = present * w if norm is None else norm + present * w
    if total is None or norm is None:
        raise ValueError("no signal with a positive weight")
    return np.divide(total, norm, out=np.zeros_like(total), where=norm > 0)


def categories(prof: ColumnProfile | None) -> frozenset[str]:
    """The distinct values of a categorical column (a code or a short list of labels), else
    none: numbers compare by distribution, free text and identifiers by overlap alone."""
    if prof is None or prof.quantiles is not None or prof.kind in ("date", "empty"):
        return frozenset()
    if not prof.code_values or len(prof.distinct) > MAX_CATEGORIES:
        return frozenset()
    return prof.distinct


def vocabulary_matrix(
    sources: list[ColumnProfile | None], targets: list[ColumnProfile | None]
) -> np.ndarray:
    """How much of a categorical column's values each target's values say in words.

    Labels are often words of a standard's longer permissible values (``Endometrioid`` of
    ``Endometrioid adenocarcinoma, NOS``, ``head`` of ``Head of pancreas``). Per value, the
    IDF-weighted share of its words the target's values use; values weigh what their rarest
    word says (``unknown`` is in most targets' values, ``pancreas`` in few), and a value
    without words (a number) is never found. NaN for targets without text values and for
    sources that are not categorical.
    """
    out = np.full((len(sources), len(targets)), np.nan)
    rows = [i for i, p in enumerate(sources) if categories(p)]
    cols = [j for j, t in enumerate(targets) if t is not None and t.words]
    if not rows or not cols:
        return out
    masks: dict[str, np.ndarray] = {}
    for k, j in enumerate(cols):
        for w in targets[j].words:  # type: ignore[union-attr]
            masks.setdefault(w, np.zeros(len(cols), dtype=bool))[k] = True
    unseen = math.log(1 + len(cols))

    def idf(word: str) -> float:
        return math.log(1 + len(cols) / (1 + int(masks[word].sum()))) if word in masks else unseen

    for i in rows:
        total, found = 0.0, np.zeros(len(cols))
        for value in sources[i].code_values:  # type: ignore[union-attr]
            weights = {w: idf(w) for w in value_words_of(value)}
            if not weights:
                total += unseen
                continue
            share = sum(wt * masks[w] for w, wt in weights.items() if w in masks)
            total += max(weights.values())
            found += max(weights.values()) * share / sum(weights.values())
        out[i, cols] = found / total
    return out


def doc(tokens: list[list[str]], prof: ColumnProfile | None, extra: str = "") -> str:
    """The text embedded for a column: its words, a description, a few sample values."""
    text = phrase(tokens)
    if extra:
        text = f"{text}: {extra}"
    if prof is not None and prof.samples:
        text = f"{text} (values: {', '.join(s[:30] for s in prof.samples[:4])})"
    return text


def rank_targets(
    source_columns: Mapping[str, pa.Array | pa.ChunkedArray],
    target_columns: Mapping[str, pa.Array | pa.ChunkedArray | None],
    *,
    target_descriptions: Mapping[str, str] | None = None,
    embedder: Embedder | None = None,
    top_k: int = 5,
    expander: Expander | None = None,
    weights: Mapping[str, float] | None = None,
) -> RankResult:
    """Rank every target column for every source column (generic target-schema mode).

    Args:
        source_columns: source column name -> values (list<struct> columns are flattened).
        target_columns: target column name -> values, or None for a target known by name only.
        target_descriptions: optional target name -> description text.
        embedder: optional semantic embedder (``knowledge.embeddings``); off when None.
        top_k: candidates kept per source column.
        expander: name tokenizer/expander (default: generic split, no abbreviations).
        weights: signal weights (default :data:`GENERIC_WEIGHTS`).

    Returns:
        A :class:`RankResult`: scores, the one-to-one assignment and per-source rankings.
    """
    sources = flatten_columns(source_columns)
    s_names = list(sources)
    t_names = list(target_columns)
    expand = expander or generic_tokens
    s_tok = [expand(n) for n in s_names]
    t_tok = [expand(n) for n in t_names]
    s_prof = [profile(sources[n]) for n in s_names]
    t_prof = [profile(target_columns[n]) for n in t_names]
    descriptions = target_descriptions or {}
    signals: dict[str, np.ndarray] = {
        "name": name_similarity(
            [phrase(t) for t in s_tok], [phrase(t) for t in t_tok], s_names, t_names
        ),
        "values": np.fmax(
            overlap_matrix(s_prof, t_prof), VOCABULARY * vocabulary_matrix(s_prof, t_prof)
        ),
        "structure": structure_matrix(s_prof, t_prof),
    }
    if descriptions:
        texts = [descriptions.get(n, "") for n in t_names]
        desc = idf_overlap(s_tok, texts)
        desc[:, [j for j, t in enumerate(texts) if not t]] = np.nan
        signals["description"] = desc
    signals["semantic"] = semantic_matrix(
        embedder,
        [doc(t, p) for t, p in zip(s_tok, s_prof, strict=True)],
        [
            doc(t, p, descriptions.get(n, ""))
            for n, t, p in zip(t_names, t_tok, t_prof, strict=True)
        ],
    )
    scores = combine(signals, weights or GENERIC_WEIGHTS)
    scores = scores * values_lead(signals["values"], [len(categories(p)) for p in s_prof])
    pairs = assign(scores)
    assigned = {s_names[i]: t_names[j] for i, j in pairs.items()}
    rankings = build_rankings(s_names, t_names, scores, signals, assigned, top_k)
    return RankResult(s_names, t_names, scores, assigned, signals, rankings)


def build_rankings(
    s_names: list[str],
    t_names: list[str],
    scores: np.ndarray,
    signals: Mapping[str, np.ndarray],
    assigned: Mapping[str, str],
    top_k: int,
) -> dict[str, list[Candidate]]:
    """Per source: the assigned target first, then the rest by score, ``top_k`` kept."""
    index = {t: j for j, t in enumerate(t_names)}
    out: dict[str, list[Candidate]] = {}
    for i, s in enumerate(s_names):
        order = [int(j) for j in np.argsort(-scores[i], kind="stable")]
        if s in assigned:
            first = index[assigned[s]]
            order = [first] + [j for j in order if j != first]
        out[s] = [
            candidate(t_names[j], float(scores[i, j]), signals, i, j, t_names[j] == assigned.get(s))
            for j in order[:top_k]
        ]
    return out


def candidate(
    target: str,
    score: float,
    signals: Mapping[str, np.ndarray],
    i: int,
    j: int,
    is_assigned: bool,
    confidence: float | None = None,
) -> Candidate:
    """A :class:`Candidate` with the per-signal evidence of pair (i, j)."""
    evidence = {k: round(float(m[i, j]), 4) for k, m in signals.items() if not np.isnan(m[i, j])}
    return Candidate(
        target=target,
        score=round(score, 4),
        confidence=round(score if confidence is None else confidence, 4),
        signals=evidence,
        agreed=tuple(k for k, v in evidence.items() if v >= AGREE),
        assigned=is_assigned,
    )
