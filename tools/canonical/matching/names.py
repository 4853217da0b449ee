"""Name signals: tokens, vowel-dropped skeletons and fuzzy similarity matrices (rapidfuzz).

Generic mode knows no domain: names are split on separators and camelCase and lower-cased.
Canonical mode passes an expander (the insurance glossary) that turns ``POL_EFF_DT`` into
``policy effective date`` before the same comparisons run.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np
from rapidfuzz import fuzz, process

Expander = Callable[[str], list[list[str]]]
"""name -> one list of alternative words per token (like ``knowledge.glossary.expand_tokens``)."""

_TOKEN = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_VOWELS = re.compile(r"[aeiouy\W_]+")
_WORD = re.compile(r"[a-z0-9]+")


def generic_tokens(name: str) -> list[list[str]]:
    """Split on separators, camelCase and digits; lower-case (no abbreviation knowledge)."""
    return [[t.lower()] for t in _TOKEN.findall(name)]


def words(text: str) -> list[str]:
    """Lower-case alphanumeric words of a free text."""
    return _WORD.findall(text.lower())


def skeleton(name: str) -> str:
    """The name lower-cased without vowels, y, spaces and punctuation (``AgencyID`` -> ``gncd``).

    Schema noise in exchanged files very often drops vowels (Valentine's noisy names, COBOL
    ``PLCY``/``CNTRCT``), so two names with the same skeleton are likely the same word.
    """
    return _VOWELS.sub("", name.lower())


def phrase(tokens: list[list[str]]) -> str:
    """The most likely reading: first alternative of every token, space-joined."""
    return " ".join(alts[0] for alts in tokens if alts)


def bag(tokens: list[list[str]]) -> set[str]:
    """Every word of every alternative expansion."""
    return {w for alts in tokens for alt in alts for w in alt.split()}


def _cdist(left: Sequence[str], right: Sequence[str], scorer: Callable[..., float]) -> np.ndarray:
    if not left or not right:
        return np.zeros((len(left), len(right)))
    return process.cdist(list(left), list(right), scorer=scorer, workers=1).astype(float) / 100.0


def name_similarity(
    source_phrases: Sequence[str],
    target_phrases: Sequence[str],
    source_raw: Sequence[str],
    target_raw: Sequence[str],
    *,
    skeleton_weight: float = 0.95,
) -> np.ndarray:
    """Fuzzy similarity of names, in [0, 1], shape (sources, targets).

    The best of: token-sort ratio of the expanded phrases (word order free), a penalised
    token-set ratio (one name's words contained in the other's), and the ratio of the
    vowel-dropped skeletons of the raw names (abbreviated or noisy names), times
    ``skeleton_weight`` (0 turns skeletons off where an expander already handles abbreviations).
    """
    sort = _cdist(source_phrases, target_phrases, fuzz.token_sort_ratio)
    numbers = _number_agreement(source_raw, target_raw)
    if skeleton_weight <= 0:
        subset = 0.9 * _cdist(source_phrases, target_phrases, fuzz.token_set_ratio)
        return np.maximum(sort, subset) * numbers
    # token_set_ratio is 1.0 whenever one side's words are a subset of the other's: worth a
    # little less than an exact match so that `name` does not tie with `agent name`.
    subset = 0.9 * _cdist(source_phrases, target_phrases, fuzz.token_set_ratio)
    sk_s = [skeleton(n) for n in source_raw]
    sk_t = [skeleton(n) for n in target_raw]
    skel = _cdist(sk_s, sk_t, fuzz.ratio)
    # Skeletons of 1-2 letters match far too easily.
    short = np.array([len(s) < 3 for s in sk_s])[:, None] | np.array([len(t) < 3 for t in sk_t])
    skel = np.where(short, 0.5 * skel, skel)
    best = np.maximum(np.maximum(sort, subset), skeleton_weight * skel)
    return best * numbers


_NUMBER = re.compile(r"\d+")
NUMBER_MISMATCH = 0.85


def _number_agreement(source_raw: Sequence[str], target_raw: Sequence[str]) -> np.ndarray:
    """1 where the names' numbers agree (or either has none), less where they differ.

    Fuzzy ratios barely see one digit, so `address_line1` tied with both `line1` and `line2`
    and the assignment could swap them.
    """

    def numbers(name: str) -> frozenset[str]:
        return frozenset(n.lstrip("0") or "0" for n in _NUMBER.findall(name.rsplit(".", 1)[-1]))

    left = [numbers(n) for n in source_raw]
    right = [numbers(n) for n in target_raw]
    out = np.ones((len(left), len(right)))
    for i, a in enumerate(left):
        if not a:
            continue
        for j, b in enumerate(right):
            if b and not a & b:
                out[i, j] = NUMBER_MISMATCH
    return out


def idf_overlap(
    source_tokens: Sequence[list[list[str]]], target_texts: Sequence[str]
) -> np.ndarray:
    """IDF-weighted share of a source name's tokens found in each target's text, in [0, 1].

    Used with descriptions: `policy` appears in most canonical descriptions and says little,
    `premium` in a few and says a lot. A token counts as found when any word of any of its
    alternative expansions is in the text.
    """
    docs = [set(words(t)) for t in target_texts]
    df = Counter(w for d in docs for w in d)
    n = max(len(docs), 1)

    def idf(w: str) -> float:
        return math.log(1 + n / (1 + df.get(w, 0)))

    out = np.zeros((len(source_tokens), len(docs)))
    for i, tokens in enumerate(source_tokens):
        groups = [{w for alt in alts for w in words(alt) if len(w) > 1} for alts in tokens]
        groups = [g for g in groups if g]
        if not groups:
            continue
        weights = [max(idf(w) for w in g) for g in groups]
        total = sum(weights)
        for j, d in enumerate(docs):
            out[i, j] = sum(wt for g, wt in zip(groups, weights, strict=True) if g & d) / total
    return out
