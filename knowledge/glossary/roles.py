"""Business roles around a policy (agent, carrier, insured...) and their synonyms.

The data lives in ``roles.yaml`` beside this module. :func:`role_phrase` rewrites role words of a
name's reading into the canonical catalogue's word for the role (``producer code`` ->
``agent code``, ``writing company`` -> ``carrier``), longest synonym first.
"""

from __future__ import annotations

import re
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError

from core.errors import ConfigError
from knowledge.glossary.terms import _read_yaml

ROLES_FILE = "roles.yaml"


class BusinessRole(BaseModel):
    """One role, the canonical fields it speaks for and the words used for it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: StrictStr
    canonical: StrictStr = Field(min_length=2)
    fields: tuple[StrictStr, ...] = ()
    synonyms: tuple[StrictStr, ...] = Field(min_length=1)
    source: StrictStr | None = None
    rationale: StrictStr = Field(min_length=5)


@lru_cache(maxsize=1)
def business_roles() -> tuple[BusinessRole, ...]:
    """Every role of ``roles.yaml``, in file order (ConfigError names a bad entry)."""
    raw = _read_yaml(ROLES_FILE) or {}
    out = []
    seen: dict[str, str] = {}
    for name, body in (raw.get("roles") or {}).items():
        try:
            role = BusinessRole.model_validate({"name": name, **(body or {})})
        except ValidationError as exc:
            raise ConfigError(
                f"bad business role {name!r}: {exc.errors()[0]['msg']}",
                where=f"knowledge/glossary/{ROLES_FILE}",
                fix="give canonical, synonyms (a list of words) and a rationale",
            ) from None
        for word in role.synonyms:
            other = seen.setdefault(word.lower(), name)
            if other != name:
                raise ConfigError(
                    f"synonym {word!r} is listed under roles {other!r} and {name!r}",
                    where=f"knowledge/glossary/{ROLES_FILE}",
                    fix="a word may speak for one role only; drop it from one of them",
                )
        out.append(role)
    return tuple(out)


@lru_cache(maxsize=1)
def _pattern() -> tuple[re.Pattern[str], dict[str, str]]:
    words = {s.lower(): r.canonical for r in business_roles() for s in r.synonyms}
    ordered = sorted(words, key=lambda w: (-len(w), w))
    alternation = "|".join(re.escape(w) for w in ordered)
    return re.compile(rf"\b(?:{alternation})\b"), words


def role_phrase(phrase: str) -> str:
    """``phrase`` with every role synonym replaced by its role's canonical word.

    Args:
        phrase: a name's reading in lower-case words (``policyholder name``).

    Returns:
        The rewritten phrase (``insured name``); unchanged when no role word occurs.
    """
    pattern, words = _pattern()
    return pattern.sub(lambda m: words[m.group(0)], phrase.lower())
