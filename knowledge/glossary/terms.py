"""Legacy column-name abbreviations and the tokenizer that expands names like `POL_EFF_DTE`.

The glossary data lives in `abbreviations.yaml` next to this module; every entry carries a
rationale (and, where one exists, a citable source such as the OED specification).
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError

from core.errors import ConfigError

GLOSSARY_FILE = "abbreviations.yaml"
MIN_SEGMENTABLE = 5  # shorter run-together tokens (COST, PAID) are too often real words
_MIN_WORD_PIECE = 3
# camelCase / PascalCase / ALLCAPS runs / digits; '#' and '%' are words in COBOL-era names.
_TOKEN = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+|#|%")
_SYMBOLS = {"#": "NO", "%": "PCT"}


class ContextRule(BaseModel):
    """Prefer one expansion when another token of the same name matches `when_any`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    when_any: tuple[StrictStr, ...] = Field(min_length=1)
    prefer: StrictStr


class GlossaryEntry(BaseModel):
    """One abbreviation with its expansions, most likely first."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    abbreviation: StrictStr
    expansions: tuple[StrictStr, ...] = Field(min_length=1)
    rationale: StrictStr = Field(min_length=5)
    source: StrictStr | None = None
    context: tuple[ContextRule, ...] = ()

    @property
    def ambiguous(self) -> bool:
        """True when the abbreviation has more than one plausible expansion."""
        return len(self.expansions) > 1


def _read_yaml(name: str) -> Any:
    try:
        text = resources.files("knowledge.glossary").joinpath(name).read_text(encoding="utf-8")
        return yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(
            f"cannot read glossary data: {exc}",
            where=f"knowledge/glossary/{name}",
            fix="reinstall data-mash; the YAML ships inside the package",
        ) from None


@lru_cache(maxsize=1)
def _glossary() -> dict[str, GlossaryEntry]:
    raw = _read_yaml(GLOSSARY_FILE)
    entries: dict[str, GlossaryEntry] = {}
    for key, body in (raw.get("entries") or {}).items():
        try:
            # StrictStr turns YAML 1.1 surprises (NO -> False) into errors instead of "False".
            entry = GlossaryEntry.model_validate({"abbreviation": key, **body})
        except ValidationError as exc:
            raise ConfigError(
                f"bad glossary entry {key!r}: {exc.errors()[0]['msg']}",
                where=f"knowledge/glossary/{GLOSSARY_FILE}",
                fix="quote YAML keys such as NO, Y, N, ON, OFF; give expansions and a rationale",
            ) from None
        bad = [r.prefer for r in entry.context if r.prefer not in entry.expansions]
        if bad:
            raise ConfigError(
                f"glossary entry {key!r} prefers {bad[0]!r}, which is not one of its expansions",
                where=f"knowledge/glossary/{GLOSSARY_FILE}",
                fix="make every context rule prefer one of the listed expansions",
            )
        entries[key.upper()] = entry
    return entries


def glossary() -> list[GlossaryEntry]:
    """All glossary entries, in file order."""
    return list(_glossary().values())


def lookup_abbreviation(token: str) -> GlossaryEntry | None:
    """The glossary entry for one token, case-insensitive (`dte` -> DTE), or None."""
    return _glossary().get(token.upper())


@lru_cache(maxsize=1)
def _known_words() -> frozenset[str]:
    words = {w for e in _glossary().values() for x in e.expansions for w in x.upper().split()}
    return frozenset(w for w in words if len(w) >= _MIN_WORD_PIECE)


def _segment(token: str) -> list[str]:
    """Split a run-together token (POLNO, EFFDTE) into glossary pieces, if it splits fully."""
    upper = token.upper()
    if len(upper) < MIN_SEGMENTABLE or not upper.isalpha() or upper in _known_words():
        return [token]
    pieces = set(_glossary()) | _known_words()
    # best[i] = fewest pieces covering upper[:i]; ties keep the earlier (longer-first) split.
    best: list[list[str] | None] = [[]] + [None] * len(upper)
    for end in range(1, len(upper) + 1):
        for start in range(end):
            head, piece = best[start], upper[start:end]
            if head is None or len(piece) < 2 or piece not in pieces:
                continue
            if best[end] is None or len(head) + 1 < len(best[end] or []):
                best[end] = [*head, piece]
    found = best[-1]
    return found if found and len(found) > 1 else [token]


def tokenize(name: str) -> list[str]:
    """Split a legacy column name into tokens.

    Handles separators (`POL_EFF_DTE`, `INSD-NM`, `ADDR.LINE 1`), camelCase (`policyEffDate`),
    digits (`ADDR1`), `#` / `%` (`POL#` -> POL, NO) and run-together abbreviations that split
    fully into glossary entries (`POLNO` -> POL, NO).

    Args:
        name: the column name as the source writes it.

    Returns:
        Tokens in order, original spelling kept (symbols replaced by their abbreviation).
    """
    tokens: list[str] = []
    for raw in _TOKEN.findall(name):
        if raw in _SYMBOLS:
            tokens.append(_SYMBOLS[raw])
        elif lookup_abbreviation(raw) is None:
            tokens.extend(_segment(raw))
        else:
            tokens.append(raw)
    return tokens


def _matches(rule: ContextRule, neighbours: list[str]) -> bool:
    wanted = {w.upper() for w in rule.when_any}
    for token in neighbours:
        entry = lookup_abbreviation(token)
        forms = {token.upper(), *(x.upper() for x in (entry.expansions if entry else ()))}
        if forms & wanted:
            return True
    return False


def resolve(entry: GlossaryEntry, neighbours: list[str]) -> list[str]:
    """Order an entry's expansions for the other tokens of the same name (context rules).

    Args:
        entry: the glossary entry of the token.
        neighbours: the other tokens of the column name.

    Returns:
        All expansions, the one preferred by the first matching rule first.
    """
    for rule in entry.context:
        if _matches(rule, neighbours):
            return [rule.prefer, *(x for x in entry.expansions if x != rule.prefer)]
    return list(entry.expansions)


def expand_tokens(name: str) -> list[list[str]]:
    """Tokenize a legacy column name and expand each token.

    Examples: `POL_EFF_DTE` -> [["policy"], ["effective"], ["date"]];
    `PROD_NM` -> [["producer", "product"], ["name"]]; `policyEffDate` ->
    [["policy"], ["effective"], ["date"]].

    Args:
        name: the column name.

    Returns:
        One list per token: its expansions in lower case, most likely first given the rest of the
        name; a token not in the glossary expands to itself, lower-cased.
    """
    tokens = tokenize(name)
    out: list[list[str]] = []
    for i, token in enumerate(tokens):
        entry = lookup_abbreviation(token)
        if entry is None:
            out.append([token.lower()])
        else:
            out.append(resolve(entry, tokens[:i] + tokens[i + 1 :]))
    return out


def expand_name(name: str) -> str:
    """The most likely reading of a name as words (`POL_EFF_DTE` -> `policy effective date`)."""
    return " ".join(options[0] for options in expand_tokens(name))
