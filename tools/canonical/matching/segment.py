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
from knowledge.glossary import (
    business_roles,
    english_name,
    expand_tokens,
    glossary,
    lookup_abbreviation,
)

_MIN_PREFIX = 4
_MIN_DROPPED = 4
_VOWELS = re.compile(r"[aeiou]")
_WORD = re.compile(r"[a-z]{3,}")


@lru_cache(maxsize=4)
def _vocabulary(version: str) -> tuple[dict[str, str], frozenset[str]]:
    counts: Counter[str] = Counter()
    for f in fields(version):
        counts.update(_WORD.findall(f"{f.path} {f.description}".lower()))
    for entry in glossary():
        for x in entry.expansions:
            counts.update(_WORD.findall(x.lower()))
    for role in business_roles():
        for x in role.synonyms:
            counts.update(_WORD.findall(x.lower()))
    prefixes: dict[str, str] = {}
    for word, _ in counts.most_common():  # the most frequent word claims a shared prefix
        for k in range(_MIN_PREFIX, len(word) + 1):
            prefixes.setdefault(word[:k].upper(), word)
    return prefixes, frozenset(w.upper() for w in counts)


@lru_cache(maxsize=4)
def _dropped(version: str) -> dict[str, tuple[str, ...]]:
    """Vowel-dropped spellings (first letter kept, then the consonants, possibly cut short:
    ``PRDCR`` producer, ``CMPNY`` company, ``OTSTN`` outstanding) -> the vocabulary word."""
    prefixes, words = _vocabulary(version)
    out: dict[str, tuple[str, ...]] = {}
    # prefixes maps every prefix to the most frequent word, so ordering by it keeps that order
    ranked = list(dict.fromkeys(prefixes[w] for w in sorted(words) if len(w) >= _MIN_PREFIX))
    counts = {w: k for k, w in enumerate(dict.fromkeys(prefixes.values()))}
    for word in sorted(ranked, key=lambda w: counts.get(w, 0)):
        squeezed = (word[0] + _VOWELS.sub("", word[1:])).upper()
        for k in range(_MIN_DROPPED, len(squeezed) + 1):
            out[squeezed[:k]] = (*out.get(squeezed[:k], ()), word)
    return out


_RAW = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+")


def _spell_out(token: str, version: str) -> str:
    if lookup_abbreviation(token) is not None or _VOWELS.search(token[1:].lower()):
        return token
    words = _dropped(version).get(token.upper(), ())
    return f"_{words[0]}_" if len(words) == 1 else token


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
    """Glossary expansion (``expand_tokens``), with unknown vowel-dropped words spelled out
    (``CMPNY`` company), unknown run-together tokens segmented and words cut short to four or
    more letters completed (``EXPI`` expiration); a name written in another
    language of ``knowledge/glossary/languages.yaml`` is read in English first."""
    out: list[list[str]] = []
    name = english_name(name)
    # A vowel-dropped word is spelled out before the glossary tokenizer would cut it into
    # abbreviations by accident (PRDCR -> PRD + CR).
    name = _RAW.sub(lambda m: _spell_out(m.group(0), version), name)
    for alts in expand_tokens(name):
        word = alts[0]
        unknown = len(alts) == 1 and word.isalpha() and lookup_abbreviation(word) is None
        dropped = _dropped(version).get(word.upper()) if unknown else None
        if dropped and not _VOWELS.search(word[1:].lower()):
            out.append(list(dropped))  # several words squeeze alike (STRT: street, start)
            continue
        if unknown and len(word) >= 5:
            split = _pieces(word.upper(), version)
            if split is not None:
                out.extend(split)
                continue
        if unknown and len(word) >= _MIN_PREFIX:
            prefixes, known = _vocabulary(version)
            if word.upper() not in known and word.upper() in prefixes:
                out.append([prefixes[word.upper()]])  # cut short: EXPI expiration, BIRT birth
                continue
        out.append(alts)
    return out
