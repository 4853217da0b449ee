"""Code tables: legacy codes (status, line of business, payment mode, state) -> canonical values.

Each table is a YAML file `codes_<name>.yaml` in this package. Lookups ignore case, spaces and
punctuation (`semi-annual` = `SEMI ANNUAL` = `SEMIANNUAL`) and also accept the canonical value.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from importlib import resources

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError

from core.errors import ConfigError, NotFoundError
from knowledge.glossary.terms import _read_yaml

_NOT_ALNUM = re.compile(r"[^A-Z0-9]")


class CodeEntry(BaseModel):
    """One legacy code and the canonical value it means."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: StrictStr = Field(min_length=1)
    canonical: StrictStr
    rationale: StrictStr = Field(min_length=5)
    source: StrictStr | None = None
    label: StrictStr | None = None
    aliases: tuple[StrictStr, ...] = ()


class CodeTable(BaseModel):
    """A named code table and the canonical field its values feed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: StrictStr
    description: StrictStr
    target: StrictStr
    values: tuple[StrictStr, ...] | None = None
    closed: bool = False
    """True when the table lists every value its target field can hold (states, countries): a
    code column none of whose values it knows is not that field, whatever its name says. Open
    tables (line of business, status) only know common codes, so a miss proves nothing."""
    entries: tuple[CodeEntry, ...]

    def lookup(self, value: object) -> str | None:
        """The canonical value of a legacy `value`, or None when the table does not know it."""
        return _index(self.name).get(normalize_code(value))


def normalize_code(value: object) -> str:
    """Upper-case a code, fold accents and keep only letters and digits (`Semi-Annual` ->
    SEMIANNUAL, `Résilié` -> RESILIE)."""
    if value is None:
        return ""
    text = str(value)
    if not text.isascii():
        text = "".join(
            c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)
        )
    return _NOT_ALNUM.sub("", text.upper())


def _table_files() -> dict[str, str]:
    files = resources.files("knowledge.glossary")
    found = {}
    for item in files.iterdir():
        if item.name.startswith("codes_") and item.name.endswith(".yaml"):
            found[item.name.removeprefix("codes_").removesuffix(".yaml")] = item.name
    return dict(sorted(found.items()))


def list_code_tables() -> list[str]:
    """Names of all code tables (`line_of_business`, `payment_mode`, `policy_status`, ...)."""
    return list(_table_files())


@lru_cache(maxsize=32)
def code_table(name: str) -> CodeTable:
    """Load one code table.

    Raises:
        NotFoundError: no table of that name.
        ConfigError: the table's YAML is malformed.
    """
    files = _table_files()
    if name not in files:
        raise NotFoundError(
            f"unknown code table {name!r}",
            where="code table",
            fix=f"use one of: {', '.join(files)}",
        )
    raw = _read_yaml(files[name])
    default = raw.pop("default_rationale", None)
    for entry in raw.get("entries") or []:
        if default and "rationale" not in entry:
            entry["rationale"] = default
    try:
        table = CodeTable.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(
            f"bad code table {name!r} at {'.'.join(map(str, first['loc']))}: {first['msg']}",
            where=f"knowledge/glossary/{files[name]}",
            fix='quote codes in YAML ("Y", "N", "NO") and give each entry a rationale',
        ) from None
    if table.values is not None:
        stray = sorted({e.canonical for e in table.entries} - set(table.values))
        if stray:
            raise ConfigError(
                f"code table {name!r} maps to values outside its canonical set: {stray}",
                where=f"knowledge/glossary/{files[name]}",
                fix="map each code to one of the table's values",
            )
    return table


@lru_cache(maxsize=32)
def _index(name: str) -> dict[str, str]:
    table = code_table(name)
    index: dict[str, str] = {normalize_code(v): v for v in table.values or ()}
    for entry in table.entries:
        for key in (entry.code, entry.label, *entry.aliases):
            if key is None:
                continue
            normal = normalize_code(key)
            if index.get(normal, entry.canonical) != entry.canonical:
                raise ConfigError(
                    f"code {key!r} in table {name!r} maps to both {index[normal]!r} and "
                    f"{entry.canonical!r}",
                    where=f"knowledge/glossary/codes_{name}.yaml",
                    fix="a code (ignoring case and punctuation) may appear once per table",
                )
            index[normal] = entry.canonical
    return index


def lookup_code(table: str, value: object) -> str | None:
    """Translate a legacy code into its canonical value.

    Args:
        table: a code table name, e.g. `policy_status`.
        value: the legacy value (`"ACT"`, `"c"`, `"Semi-Annual"`, `"California"`).

    Returns:
        The canonical value, or None when the code is unknown (route it to data quality).

    Raises:
        NotFoundError: no table of that name.
    """
    return _index(table).get(normalize_code(value))
