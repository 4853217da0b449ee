"""Column names in other languages, read in English (``Numéro de police`` -> ``policy number``).

The data lives in ``languages.yaml`` beside this module. :func:`english_name` folds accents,
recognises a segment of a name written in one of the languages (an accented letter, a word only
that language's vocabulary knows, or a preposition of its noun phrases in a name written as
words), replaces its phrases and words by their English rendering and puts a noun phrase in
English order (``date de naissance`` -> ``birth date``). Names in English pass through with
their accents folded and nothing else changed.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError

from core.errors import ConfigError
from knowledge.canonical import fields, list_versions
from knowledge.glossary.roles import business_roles
from knowledge.glossary.terms import _read_yaml, glossary

LANGUAGES_FILE = "languages.yaml"
_SYMBOLS = re.compile(r"\b[Nn][°º]\s*")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_SEGMENT = re.compile(r"(\[\]|\.)")
_WORDS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_PHRASE = re.compile(r"[a-z0-9]+")


def fold(text: str) -> str:
    """``text`` without accents (``Échéance`` -> ``Echeance``; ``N°`` -> ``numero``)."""
    text = _SYMBOLS.sub("numero ", text)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _key(text: str) -> tuple[str, ...]:
    return tuple(_PHRASE.findall(fold(text).lower()))


class Language(BaseModel):
    """One language's vocabulary: phrases and words -> English, and its small words."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: StrictStr
    name: StrictStr
    joins: tuple[StrictStr, ...] = ()
    function_words: tuple[StrictStr, ...] = ()
    phrases: dict[StrictStr, StrictStr] = Field(default_factory=dict)
    words: dict[StrictStr, StrictStr] = Field(min_length=1)

    def entries(self) -> dict[tuple[str, ...], str]:
        """Every phrase and word as its folded word tuple -> English rendering."""
        return {_key(k): v for k, v in {**self.words, **self.phrases}.items()}


@lru_cache(maxsize=1)
def languages() -> tuple[Language, ...]:
    """Every language of ``languages.yaml`` (ConfigError names a bad entry)."""
    raw = _read_yaml(LANGUAGES_FILE) or {}
    out = []
    for code, body in (raw.get("languages") or {}).items():
        try:
            language = Language.model_validate({"code": code, **(body or {})})
        except ValidationError as exc:
            raise ConfigError(
                f"bad language {code!r}: {exc.errors()[0]['msg']}",
                where=f"knowledge/glossary/{LANGUAGES_FILE}",
                fix="give name, words (term: English rendering) and optional phrases",
            ) from None
        keys: dict[tuple[str, ...], str] = {}
        for term in (*language.words, *language.phrases):
            key = _key(term)
            if not key or keys.setdefault(key, term) != term:
                raise ConfigError(
                    f"term {term!r} of language {code!r} folds to the same words as "
                    f"{keys.get(key)!r}"
                    if key
                    else f"term {term!r} has no letters",
                    where=f"knowledge/glossary/{LANGUAGES_FILE}",
                    fix="list a term once (accents and case are ignored)",
                )
        out.append(language)
    return tuple(out)


@lru_cache(maxsize=4)
def _english_words() -> frozenset[str]:
    """Words that read as English already: the glossary's abbreviations and expansions, the
    role synonyms and the canonical catalogue's words (``region``, ``num``)."""
    out = {w for e in glossary() for x in e.expansions for w in x.lower().split()}
    out |= {e.abbreviation.lower() for e in glossary()}
    for version in list_versions():
        for f in fields(version.version):
            out |= set(_PHRASE.findall(f"{f.path} {f.description}".lower().replace("_", " ")))
    out |= {w for r in business_roles() for s in r.synonyms for w in s.lower().split()}
    return frozenset(out)


@lru_cache(maxsize=1)
def _tables() -> tuple[tuple[Language, dict[tuple[str, ...], str], frozenset[str]], ...]:
    english = _english_words()
    out = []
    for language in languages():
        entries = language.entries()
        own = frozenset(
            w for k in entries for w in k if w not in english and len(w) > 2 and not w.isdigit()
        )
        out.append((language, entries, own))
    return tuple(out)


def _detect(words: list[str], raw: str) -> tuple[Language, dict[tuple[str, ...], str]] | None:
    """The language a segment is written in: of those it shows a sign of (an accented letter,
    a word or phrase only that language knows, a small word of its noun phrases in a name
    written as words), the one that knows most of its words."""
    prose = " " in raw.strip() or "'" in raw or "\u2019" in raw
    best: tuple[int, Language, dict[tuple[str, ...], str]] | None = None
    for language, entries, own in _tables():
        small = set(language.joins) | set(language.function_words)
        phrases = [
            key
            for n in range(2, 6)
            for i in range(len(words) - n + 1)
            if (key := tuple(words[i : i + n])) in entries
        ]
        known = sum(bool(_lookup(w, entries)) for w in words) + sum(len(k) for k in phrases)
        signed = (
            _NON_ASCII.search(raw)
            or any(w in own for key in phrases for w in key)
            or any(w in own or _singular(w) in own for w in words)
            or (prose and any(w in small for w in words))
        )
        if known and signed and (best is None or known > best[0]):
            best = (known, language, entries)
    return None if best is None else (best[1], best[2])


def _singular(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


def _lookup(word: str, entries: dict[tuple[str, ...], str]) -> str | None:
    """A word's rendering, or its singular's (``garanties`` -> ``garantie``)."""
    return entries.get((word,)) or entries.get((_singular(word),))


def _translate(words: list[str], language: Language, entries: dict[tuple[str, ...], str]) -> str:
    longest = max((len(k) for k in entries), default=1)
    units: list[str | None] = []  # English renderings; None marks a join
    i = 0
    while i < len(words):
        for size in range(min(longest, len(words) - i), 1, -1):
            key = tuple(words[i : i + size])
            if key in entries:
                units.append(entries[key])
                i += size
                break
        else:
            word = words[i]
            if word in language.joins:
                units.append(None)
            elif word not in language.function_words:
                units.append(_lookup(word, entries) or word)
            i += 1
    # "numéro de police" -> [number] [policy] -> "policy number": the head noun comes first in
    # French, last in English.
    parts: list[list[str]] = [[]]
    for unit in units:
        if unit is None:
            parts.append([])
        else:
            parts[-1].append(unit)
    ordered = [u for part in reversed(parts) for u in part]
    return "_".join(w for u in ordered for w in u.split())


def english_name(name: str) -> str:
    """``name`` with accents folded and every segment written in a known language in English.

    Segments are the parts between ``.`` and ``[]`` of a flattened name, so
    ``Garanties[].Montant de franchise`` -> ``coverage[].deductible_amount``.

    Args:
        name: a column name as the source writes it.

    Returns:
        The name to read (unchanged but for accents when no segment is in another language).
    """
    out = []
    for segment in _SEGMENT.split(name):
        if not segment or _SEGMENT.fullmatch(segment):
            out.append(segment)
            continue
        folded = fold(segment)
        words = [w.lower() for w in _WORDS.findall(folded)]
        found = _detect(words, segment)
        out.append(folded if found is None else _translate(words, *found))
    return "".join(out)
