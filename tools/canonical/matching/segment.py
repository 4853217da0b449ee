"""Split run-together legacy names (``CONTSTAT``, ``MATURDT``) with insurance vocabulary.

The glossary tokenizer splits names only into glossary abbreviations. Life and AS/400 systems
also glue truncated words together (``CONTR`` + ``NO``, ``MATUR`` + ``DT``). Here a piece may
also be a word of the canonical catalogue's descriptions, or a prefix (4+ letters) of one;
the split with the fewest pieces wins.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

from knowledge.canonical import fields
from knowledge.glossary import expand_tokens, glossary, lookup_abbreviation

_MIN_PREFIX = 4
_WORD = re.compile(r"[a-z]{3,}")


@lru_cache(maxsize=4)
def _vocabulary(version: str) -> tuple[dict[str, str], frozenset[str]]:
    counts: Counter[str] = Counter()
    for f in fields(version):
        counts.update(_WORD.findall(f"{f.path} {f.description}".lower()))
    for entry in glossary():
        for x in entry.expansions:
            counts.update(_WORD.findall(x.lower()))
    prefixes: dict[str, str] = {}
    for word, _ in counts.most_common():  # the most frequent word claims a shared prefix
        for k in range(_MIN_PREFIX, len(word) + 1):
            prefixes.setdefault(word[:k].upper(), word)
    return prefixes, frozenset(w.upper() for w in counts)


def _pieces(upper: str, version: str) -> list[list[str]] | None:
    prefixes, words = _vocabulary(version)
    n = len(upper)
    best: list[tuple[int, list[list[str]]] | None] = [(0, [])] + [None] * n
    for end in range(1, n + 1):
        for start in range(end):
            head = best[start]
            piece = upper[start:end]
            if head is None or len(piece) < 2:
                continue
            entry = lookup_abbreviation(piece)
            if entry is not None:
                options = list(entry.expansions)
            elif piece in words:
                options = [piece.lower()]
            elif len(piece) >= _MIN_PREFIX and piece in prefixes:
                options = [prefixes[piece]]
            else:
                continue
            cost = head[0] + 1
            if best[end] is None or cost < best[end][0]:  # type: ignore[index]
                best[end] = (cost, [*head[1], options])
    found = best[n]
    return found[1] if found and len(found[1]) > 1 else None


def insurance_tokens(name: str, version: str = "policy_v1") -> list[list[str]]:
    """Glossary expansion (``expand_tokens``), with unknown run-together tokens segmented."""
    out: list[list[str]] = []
    for alts in expand_tokens(name):
        word = alts[0]
        if (
            len(alts) == 1
            and word.isalpha()
            and len(word) >= 5
            and lookup_abbreviation(word) is None
        ):
            split = _pieces(word.upper(), version)
            if split is not None:
                out.extend(split)
                continue
        out.append(alts)
    return out
