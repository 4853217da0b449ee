"""Naming conventions of the unseen sources: phrases -> column names as other shops write them.

Abbreviations are made by rule (vowel dropping, truncation), never looked up in the glossary,
so the matcher meets spellings nobody listed for it.
"""

from __future__ import annotations

import random
import re

from evals.unseen.vocabulary import FRENCH

_VOWELS = re.compile(r"[aeiou]")
ABBREVIATION_STYLES = ("consonants", "truncate", "mixed")


def abbreviate(word: str, style: str) -> str:
    """One word in capitals, shortened by ``style`` (short words stay whole).

    ``consonants`` keeps the first letter and the consonants after it (number -> NMBR),
    ``truncate`` keeps the first four letters (premium -> PREM), ``mixed`` uses consonants for
    long words and truncation otherwise.
    """
    if len(word) <= 4 or word.isdigit():
        return word.upper()
    if style == "mixed":
        style = "consonants" if len(word) >= 8 else "truncate"
    if style == "consonants":
        squeezed = word[0] + _VOWELS.sub("", word[1:])
        return squeezed[:5].upper()
    return word[:4].upper()


def words(phrase: str) -> list[str]:
    """Lower-case words of a phrase (digits kept)."""
    return re.findall(r"[a-z0-9]+", phrase.lower())


def upper_snake(phrase: str, style: str) -> str:
    """``POLCY_NMBR``-style: abbreviated words joined by underscores."""
    return "_".join(abbreviate(w, style) for w in words(phrase))


def lower_snake(phrase: str) -> str:
    """``policy_number``: whole words."""
    return "_".join(words(phrase))


def camel(phrase: str) -> str:
    """``policyNumber``."""
    parts = words(phrase)
    return parts[0] + "".join(p.capitalize() for p in parts[1:]) if parts else ""


def pascal(phrase: str) -> str:
    """``PolicyNumber``."""
    return "".join(p.capitalize() for p in words(phrase))


def french(phrase: str) -> str:
    """The French header of a phrase (Title Case as French extracts write it)."""
    return FRENCH[phrase]


def pick(rng: random.Random, options: tuple[str, ...]) -> str:
    """One option, seeded."""
    return options[rng.randrange(len(options))]
