"""Canonical mode: rank canonical model fields for every column of one legacy source.

Built on the generic signals (:mod:`generic`), plus insurance knowledge: glossary expansion of
legacy names (``INSD_NM`` -> insured name), the legacy names and descriptions of the canonical
catalogue, the field's expected type against the column's values, and code-table hits (share
of a column's distinct values that a code table of the field knows). Scalar fields are
assigned one-to-one (Hungarian); list fields (``coverage_sections[].limits.per_occurrence``)
may take several columns and are the only choice for repeated-group columns (``X[].Y``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyarrow as pa
from rapidfuzz import fuzz, process

from knowledge.canonical import fields
from knowledge.embeddings.semantic import Embedder
from knowledge.glossary import (
    code_table,
    english_name,
    expand_tokens,
    list_code_tables,
    lookup_code,
    normalize_code,
    role_phrase,
)
from tools.canonical.matching.assign import assign
from tools.canonical.matching.calibration import (
    DEFAULT_THRESHOLD,
    Calibrator,
    evidence,
    load_calibrator,
)
from tools.canonical.matching.conditioning import (
    counter_matrix,
    group_matrix,
    is_counter,
    is_sequence,
    lone_matrix,
    role_matrix,
    shape_matrix,
    tense_matrix,
    twin_matrix,
    values_lead,
)
from tools.canonical.matching.generic import (
    candidate,
    combine,
    doc,
    flatten_columns,
    semantic_matrix,
)
from tools.canonical.matching.names import idf_overlap, name_similarity, phrase
from tools.canonical.matching.segment import insurance_tokens
from tools.canonical.matching.types import ColumnMatch, MatchResult
from tools.canonical.matching.values import ColumnProfile, profile

CANONICAL_WEIGHTS: dict[str, float] = {
    "name": 0.35,
    "description": 0.15,
    "semantic": 0.20,
    "type": 0.20,
    "code": 0.20,
    "context": 0.15,
}
MIN_SCORE = 0.35
"""Below this raw score a column gets no proposal at all (unmapped)."""
LIST_CAPACITY = 3
"""Columns one list field may take (several change-line fields feed `endorsements[].changes`)."""
TOP_K = 5
LEAF_WEIGHT = 0.95
"""Weight of a repeated group member's own name against its full reading (group included)."""
STRONG_CODE = 0.6
CONTRADICTED = 0.75
"""Score factor when a code column's values are none of a coded field's codes (Region holding
North/South/East/West is not the address state, however well the names agree)."""
MIN_CONTRADICTING_CODES = 3
"""Distinct values a code column needs before its misses count as evidence against a field."""
TIE = 1e-3
"""Scores closer than this are a tie: k tied candidates get at most 1/k confidence each."""
KEY_PATH = "policy_core.policy_id"
"""The policy key: a child file's join column, which says nothing about the file's role."""
KEY_FLOOR = 0.55
"""Score an identifier field (``*_id``) needs for the source to count as keyed."""
KEYLESS = 0.5
"""Confidence factor for a source with no key column: its rows cannot be joined to policies
(a summary sheet of premium by state), so none of its proposals is auto-accepted."""
ASSIGN_SHARPNESS = 10.0
"""The assignment maximises sum(exp(k * score)): near ties are traded for a better total, but
a clearly better pair (0.89 against 0.75) is never given up to lift two mediocre ones."""

_LEGACY = re.compile(r"Legacy names?:\s*(.+?)\.?\s*$", re.S)
_NOT_ALNUM = re.compile(r"[^A-Z0-9]")
_TYPE_FIT: dict[str, dict[str, float]] = {
    "date": {"date": 1.0, "integer": 0.1, "numeric_text": 0.1},
    "decimal": {"money": 1.0, "integer": 0.8, "numeric_text": 0.8, "date": 0.02},
    "integer": {"integer": 1.0, "numeric_text": 0.8, "money": 0.4},
    "string": {
        "text": 1.0,
        "code": 1.0,
        "numeric_text": 0.8,
        "integer": 0.6,
        "money": 0.15,
        "date": 0.1,
    },
    "boolean": {"code": 0.8},
}


@dataclass(frozen=True)
class TargetField:
    """What the matcher needs from one canonical field."""

    path: str
    type: str
    is_list: bool
    words: str
    description: str
    legacy: tuple[str, ...]
    tables: tuple[str, ...]
    allowed: tuple[str, ...]
    closed: bool
    """One of the field's own code tables lists every value it can hold (``CodeTable.closed``)."""
    component: str
    """List path for list fields (`payments.payment_history`), else the top-level component."""


@lru_cache(maxsize=8)
def target_fields(version: str) -> tuple[TargetField, ...]:
    """The canonical catalogue prepared for matching (path words, legacy names, code tables)."""
    tables: dict[str, list[str]] = {}
    subjects: dict[str, str] = {}
    for name in list_code_tables():
        tables.setdefault(code_table(name).target, []).append(name)
        subjects[name] = name.replace("_", " ")
    out = []
    for f in fields(version):
        # A table also speaks for a field whose description names its subject: the policy
        # type is described as "... line of business", so line-of-business codes fit it too.
        text = f.description.lower()
        for name, subject in subjects.items():
            if subject in text and name not in tables.get(f.path, []):
                tables.setdefault(f.path, []).append(name)
        parts = [p for p in re.split(r"[._\[\]]+", f.path) if p and p != "core"]
        found = _LEGACY.search(f.description)
        legacy = tuple(
            _NOT_ALNUM.sub("", x.upper()) for x in (found.group(1).split(",") if found else [])
        )
        out.append(
            TargetField(
                path=f.path,
                type=f.type,
                is_list=f.list_path is not None,
                words=" ".join(parts),
                description=f.description,
                legacy=tuple(x for x in legacy if x),
                tables=tuple(tables.get(f.path, ())),
                allowed=f.allowed_values or (),
                closed=any(
                    (table := code_table(n)).closed and table.target == f.path
                    for n in tables.get(f.path, ())
                ),
                component=f.list_path or f.component,
            )
        )
    return tuple(out)


def _leaf(name: str) -> str:
    return name.replace("[]", "").rsplit(".", 1)[-1]


def legacy_matrix(names: list[str], targets: tuple[TargetField, ...]) -> np.ndarray:
    """1.0 where a column's leaf name is one of a field's legacy names, fuzzy below that."""
    leaves = [_NOT_ALNUM.sub("", _leaf(n).upper()) for n in names]
    out = np.zeros((len(names), len(targets)))
    shared = ambiguous_legacy(targets)
    for j, t in enumerate(targets):
        own = [x for x in t.legacy if x not in shared]
        if not own:
            continue
        sims = process.cdist(leaves, own, scorer=fuzz.ratio, workers=1) / 100.0
        best = sims.max(axis=1)
        # Only near-identical spellings count: NAME vs FNAME (0.89) must not look like a hit.
        out[:, j] = np.where(best >= 0.999, 1.0, np.where(best >= 0.92, 0.85 * best, 0.0))
    return out


@lru_cache(maxsize=8)
def _ambiguous(targets: tuple[TargetField, ...]) -> frozenset[str]:
    owners: dict[str, set[str]] = {}
    for t in targets:
        for name in t.legacy:
            owners.setdefault(name, set()).add(t.path)
    return frozenset(name for name, paths in owners.items() if len(paths) > 1)


def ambiguous_legacy(targets: tuple[TargetField, ...]) -> frozenset[str]:
    """Legacy names the catalogue lists under several fields (``PROD_CD``: the product or the
    producer): evidence for none of them."""
    return _ambiguous(targets)


def type_matrix(
    profiles: list[ColumnProfile | None], targets: tuple[TargetField, ...]
) -> np.ndarray:
    """How well a column's kind of values fits each field's type (NaN for empty columns)."""
    out = np.full((len(profiles), len(targets)), np.nan)
    for i, p in enumerate(profiles):
        if p is None or p.kind == "empty":
            continue
        for j, t in enumerate(targets):
            out[i, j] = _TYPE_FIT.get(t.type, {}).get(p.kind, 0.05)
    return out


def code_matrix(
    profiles: list[ColumnProfile | None],
    targets: tuple[TargetField, ...],
    allowed_pairs: np.ndarray | None = None,
) -> np.ndarray:
    """Share of a column's distinct values a field's code table (or value set) knows.

    For fields without codes the signal is NaN (silent), except when the column's values are
    clearly the codes of another field it may map to (hit share >= STRONG_CODE): then 0, since
    a coverage-type code column is not a coverage id even if it is named COV_CD.
    """
    out = np.full((len(profiles), len(targets)), np.nan)
    for j, t in enumerate(targets):
        if not t.tables and not t.allowed:
            continue
        allowed = {normalize_code(v) for v in t.allowed}
        for i, p in enumerate(profiles):
            if p is None or p.kind == "empty":
                continue
            values = p.code_values
            if is_sequence(values):
                continue  # 1, 2, 3 count items; a table's numbered codes match them by accident
            if not values:
                out[i, j] = 0.0
                continue
            known = sum(
                1
                for v in values
                if normalize_code(v) in allowed or any(lookup_code(tb, v) for tb in t.tables)
            )
            out[i, j] = known / len(values)
    coded = np.array([bool(t.tables or t.allowed) for t in targets])
    hits = np.where(np.isnan(out), 0.0, out)
    if allowed_pairs is not None:
        hits = np.where(allowed_pairs, hits, 0.0)
    strong = hits.max(axis=1) >= STRONG_CODE if len(targets) else np.zeros(len(profiles), bool)
    out[np.ix_(strong, ~coded)] = 0.0
    return out


def contradiction_matrix(
    profiles: list[ColumnProfile | None], targets: tuple[TargetField, ...], code: np.ndarray
) -> np.ndarray:
    """True where a code column's values are all unknown to a field's closed code table.

    Names can agree by accident (``Region`` and the address state, which the model describes as
    "state, province or region"); a column of a handful of repeated short values of which the
    field's closed table (every state, every country) knows none is evidence against the pair.
    Open tables say nothing by a miss (``T20``/``WL1`` are life plan codes no line-of-business
    table knows, yet they are the policy type). Two values (Y/N) are too few to say.
    """
    closed = np.array([t.closed for t in targets], dtype=bool)
    is_code = np.array(
        [
            p is not None and p.kind == "code" and len(p.code_values) >= MIN_CONTRADICTING_CODES
            for p in profiles
        ],
        dtype=bool,
    )
    return is_code[:, None] & closed[None, :] & (np.nan_to_num(code, nan=1.0) == 0.0)


def is_key_field(target: TargetField) -> bool:
    """An identifier of the policy or of one of its records (``policy_id``, ``claim_id``)."""
    return _leaf(target.path).endswith("_id")


def allowed_pairs(names: list[str], targets: tuple[TargetField, ...]) -> np.ndarray:
    """Which (column, field) pairs may match.

    Repeated-group columns (``GROUP[].X``) map only to list fields. A scalar column beside a
    group that names a list component (``COVERAGES`` ~ ``coverage_sections``) describes the
    parent record, so it does not map into that component.
    """
    repeated = np.array(["[]" in n for n in names], dtype=bool)
    list_field = np.array([t.is_list for t in targets], dtype=bool)
    groups = {n.split("[]", 1)[0].rsplit(".", 1)[-1] for n in names if "[]" in n}
    owned: set[str] = set()
    for group in groups:
        words = phrase(expand_tokens(english_name(group)))
        for t in targets:
            if t.is_list and fuzz.partial_ratio(words, t.component.replace("_", " ")) >= 80:
                owned.add(t.component)
    in_owned = np.array([t.component in owned for t in targets], dtype=bool)
    return np.where(repeated[:, None], list_field[None, :], ~in_owned[None, :])


def context_matrix(scores: np.ndarray, targets: tuple[TargetField, ...]) -> np.ndarray:
    """Share of the source's other columns whose best field lies in each field's component.

    A table of coverages (one row per coverage) sends most columns to `coverage_sections`, so
    its `effective_date` is the coverage's, not the policy's. Each column's vote is weighted by
    its best score and a column never votes for itself.
    """
    rows = scores.shape[0]
    if rows < 2 or not targets:
        return np.full(scores.shape, np.nan)
    components = sorted({t.component for t in targets})
    index = {c: k for k, c in enumerate(components)}
    votes = np.zeros((rows, len(components)))
    best = scores.argmax(axis=1)
    for i in range(rows):
        votes[i, index[targets[best[i]].component]] = scores[i, best[i]]
    total = votes.sum(axis=0, keepdims=True) - votes
    share = total / np.maximum(total.sum(axis=1, keepdims=True), 1e-9)
    return share[:, [index[t.component] for t in targets]]


def _confidence(
    cal: Calibrator | None, row: np.ndarray, j: int, shown: list[int], contradicted: bool
) -> float:
    """Calibrated confidence of field ``j``: its score and its lead over the best other
    candidate shown (negative when another candidate scores higher). A pair the values
    contradict earns nothing from its lead: leading a field of poorer fits is no evidence."""
    score = float(row[j])
    if cal is None:
        return score
    others = [float(row[k]) for k in shown if k != j]
    if contradicted:
        others.append(score)
    # Candidates the matcher cannot tell apart share the chance of being right.
    tied = 1 + sum(abs(o - score) < TIE for o in others)
    return min(cal(evidence(score, score - max(others, default=0.0))), 1.0 / tied)


def suggest_matches(
    columns: Mapping[str, pa.Array | pa.ChunkedArray],
    *,
    canonical: str = "policy_v1",
    embedder: Embedder | None = None,
    source_name: str | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    calibrator: Calibrator | None = None,
    top_k: int = TOP_K,
) -> MatchResult:
    """Propose canonical fields for every column of a source, with confidence and evidence.

    Args:
        columns: source column name -> values (a record batch's columns; list<struct>
            repeated groups are flattened to ``GROUP[].FIELD``).
        canonical: canonical model version.
        embedder: optional semantic embedder; without it the lexical calibration is used.
        source_name: name of the source (evidence only).
        threshold: auto-accept confidence (default :data:`DEFAULT_THRESHOLD`).
        calibrator: score -> confidence mapping (default: the packaged one for the mode).
        top_k: candidates kept per column.

    Returns:
        A :class:`MatchResult`; ``result.accepted`` holds the auto-accepted fields.
    """
    targets = target_fields(canonical)
    sources = flatten_columns(columns)
    names = list(sources)
    tokens = [insurance_tokens(n, canonical) for n in names]
    profiles = [profile(sources[n]) for n in names]
    t_tokens = [[[w] for w in t.words.split()] for t in targets]
    allowed = allowed_pairs(names, targets)
    readings = [phrase(t) for t in tokens]
    roles = [role_phrase(r) for r in readings]
    # A repeated group's member is named for itself (``receipts[].method``): the group's word
    # conditions the list component (``group_matrix``), it is no part of the field's name.
    leaves = [
        role_phrase(phrase(insurance_tokens(n.rsplit("[].", 1)[1], canonical))) if "[]." in n else r
        for n, r in zip(names, roles, strict=True)
    ]
    role_tokens = [[[w] for w in r.split()] for r in roles]
    descriptions = [f"{t.words} {t.description}" for t in targets]
    signals = {
        "name": np.maximum.reduce(
            [
                name_similarity(
                    reading,
                    [t.words for t in targets],
                    [_leaf(n) for n in names],
                    [t.path.rsplit(".", 1)[-1] for t in targets],
                    skeleton_weight=0.0,  # the glossary and segmenter handle abbreviations
                )
                for reading in (readings, roles)
            ]
            + [
                LEAF_WEIGHT
                * name_similarity(
                    leaves,
                    [t.words for t in targets],
                    [_leaf(n) for n in names],
                    [t.path.rsplit(".", 1)[-1] for t in targets],
                    skeleton_weight=0.0,
                ),
                legacy_matrix(names, targets),
            ]
        ),
        "description": np.maximum(
            idf_overlap(tokens, descriptions), idf_overlap(role_tokens, descriptions)
        ),
        "type": type_matrix(profiles, targets),
        "code": code_matrix(profiles, targets, allowed),
        "semantic": semantic_matrix(
            embedder,
            [doc(t, p) for t, p in zip(role_tokens, profiles, strict=True)],
            [doc(tt, None, t.description) for tt, t in zip(t_tokens, targets, strict=True)],
        ),
    }
    first = np.where(allowed, combine(signals, CANONICAL_WEIGHTS), 0.0)
    signals["context"] = context_matrix(first, targets)
    scores = combine(signals, CANONICAL_WEIGHTS)
    contradicted = contradiction_matrix(profiles, targets, signals["code"])
    scores = np.where(contradicted, CONTRADICTED * scores, scores)
    scores = np.where(allowed, scores, 0.0)
    scores = (
        scores
        * role_matrix(roles, targets)
        * tense_matrix(readings, targets)
        * values_lead(signals["code"], [len(p.code_values) if p else 0 for p in profiles])
    )
    scores = scores * shape_matrix([p.samples if p else () for p in profiles], targets)
    counters = [p is not None and is_counter(p.code_values, p.present) for p in profiles]
    scores = scores * counter_matrix(counters, targets)
    keys = [bool(targets[int(j)].path == KEY_PATH) for j in first.argmax(axis=1)]
    scores = scores * twin_matrix(names, scores, targets, keys)
    scores = scores * lone_matrix(names, scores, targets, keys)
    groups = [
        role_phrase(phrase(insurance_tokens(n.rsplit("[]", 1)[0], canonical))) if "[]" in n else ""
        for n in names
    ]
    scores = scores * group_matrix(names, groups, targets, descriptions)
    # A flat file holds one list item per row: one column per list field. Only repeated groups
    # (three CHG_LINES[] fields joined into endorsements[].changes) fill a field several times.
    repeated = any("[]" in n for n in names)
    capacity = [LIST_CAPACITY if t.is_list and repeated else 1 for t in targets]
    sharp = np.exp(ASSIGN_SHARPNESS * (scores - 1.0))
    pairs = assign(
        sharp,
        capacity=capacity,
        extra_penalty=float(np.exp(-ASSIGN_SHARPNESS * 0.05) * 0.01),
        min_score=float(np.exp(ASSIGN_SHARPNESS * (MIN_SCORE - 1.0))),
        allowed=allowed,
    )
    mode = "semantic" if embedder is not None else "lexical"
    cal = calibrator or load_calibrator(mode)
    keyless = bool(names) and not any(
        is_key_field(targets[j]) and scores[i, j] >= KEY_FLOOR for i, j in pairs.items()
    )
    factor = KEYLESS if keyless else 1.0
    out: list[ColumnMatch] = []
    for i, name in enumerate(names):
        order = [int(j) for j in np.argsort(-scores[i], kind="stable") if allowed[i, j]]
        chosen = pairs.get(i)
        if chosen is not None:
            order = [chosen] + [j for j in order if j != chosen]
        cands = [
            candidate(
                targets[j].path,
                float(scores[i, j]),
                signals,
                i,
                j,
                j == chosen,
                confidence=factor
                * _confidence(cal, scores[i], j, order[:top_k], bool(contradicted[i, j])),
            )
            for j in order[:top_k]
        ]
        reason = None
        if chosen is None:
            best = cands[0] if cands else None
            if best is None or best.score < MIN_SCORE:
                reason = f"no canonical field scored {MIN_SCORE} or more" + (
                    f" (best: {best.target} {best.score:.2f})" if best else ""
                )
            else:
                reason = (
                    f"its best fields went to columns that fit them better (best: {best.target})"
                )
        column_profile = profiles[i]
        samples = list(column_profile.samples[:5]) if column_profile else []
        out.append(ColumnMatch(name, cands, samples, reason))
    note = (
        (
            "no column of this source is a key (policy, party, agent or record id) scoring "
            f"{KEY_FLOOR} or more: its rows cannot be joined to policies (a summary or lookup "
            f"table?), so confidences are scaled by {KEYLESS}; map a key column or review by hand"
        )
        if keyless
        else None
    )
    return MatchResult(
        source_name, canonical, out, threshold, mode if cal else "none", keyless, note
    )
