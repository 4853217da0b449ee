"""The conflict policy: which strategy decides a field both sides changed, per field group.

Written in YAML, modelled on SymmetricDS's conflict settings (resolve type per group, ping-back)::

    default: manual            # fields no group names
    ping_back: true            # push the merged values back to the side that lost
    groups:
      status:
        fields: [policy_core.status]
        resolve: state_machine
        precedence: [cancelled, expired, inactive, pending, active]   # earlier beats later
      premium:
        fields: [rating_components]
        resolve: owner_wins
        fallback: manual       # when the policy is owned by both (dual)
      address:
        fields: [policy_core.insured_party.address]
        resolve: newest_wins   # by hybrid logical clock

A field names a canonical v1 path (``coverage_sections[].limits``) or a component holding
several; the most specific group wins. Every mistake is one error naming its line.

The same file holds the ownership rules that are not derived from waves: an on-renewal
conversion moves a policy to the new platform at its renewal date (Guidewire-style)::

    ownership:
      on_renewal:
        to: new                              # the owner at renewal (default new)
        from: [legacy, dual]                 # owners that convert (default legacy, dual)
        date: policy_core.expiration_date    # the renewal date (default)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import InputError
from knowledge.canonical.catalogue import fields as canonical_fields
from tools.routing.yaml_lines import LINE_KEY, load_yaml_with_lines
from tools.sync.contracts import Owner, Strategy
from tools.sync.paths import pattern_of

STRATEGIES = ", ".join(s.value for s in Strategy)
_TOP_KEYS = {"default", "ping_back", "groups", "ownership"}
_RENEWAL_KEYS = {"to", "from", "date"}
RENEWAL_DATE = "policy_core.expiration_date"
_GROUP_KEYS = {"fields", "resolve", "precedence", "fallback"}
#: The group a path falls in when no group names it.
DEFAULT_GROUP = "default"

DEFAULT_POLICY_YAML = """\
default: manual
ping_back: true
groups:
  status:
    fields: [policy_core.status]
    resolve: state_machine
    precedence: [cancelled, expired, inactive, pending, active]
  premium:
    fields: [rating_components]
    resolve: owner_wins
    fallback: manual
  contact:
    fields: [policy_core.insured_party.address, policy_core.insured_party.email,
             policy_core.insured_party.phone]
    resolve: newest_wins
"""


@dataclass(frozen=True)
class FieldGroup:
    """One group of fields and how their conflicts are decided."""

    name: str
    fields: tuple[str, ...]
    resolve: Strategy
    precedence: tuple[str, ...] = ()
    fallback: Strategy = Strategy.MANUAL
    line: int | None = None


@dataclass(frozen=True)
class RenewalRule:
    """On-renewal conversion: policies owned by ``owners`` move to ``to`` at their renewal."""

    to: Owner = Owner.NEW
    owners: tuple[Owner, ...] = (Owner.LEGACY, Owner.DUAL)
    date: str = RENEWAL_DATE
    line: int | None = None


@dataclass(frozen=True)
class ConflictPolicy:
    """A validated conflict policy (and the ownership rules that sit beside it)."""

    groups: tuple[FieldGroup, ...]
    default: Strategy = Strategy.MANUAL
    ping_back: bool = True
    renewal: RenewalRule | None = None
    _by_field: dict[str, FieldGroup] = field(default_factory=dict, compare=False, repr=False)

    def group_for(self, path: str) -> FieldGroup:
        """The most specific group naming ``path`` (a flattened path), else the default."""
        pattern = pattern_of(path)
        candidates = [pattern]
        while True:
            cut = max(pattern.rfind("."), pattern.rfind("[]"))
            if cut <= 0:
                break
            pattern = pattern[:cut]
            candidates.append(pattern)
        for candidate in candidates:
            for spelling in (candidate, candidate.removesuffix("[]")):
                if spelling in self._by_field:
                    return self._by_field[spelling]
        return FieldGroup(name=DEFAULT_GROUP, fields=(), resolve=self.default)


def known_paths() -> set[str]:
    """Every canonical policy_v1 path and path prefix, with and without a trailing ``[]``."""
    return _known_prefixes()


def _known_prefixes() -> set[str]:
    known: set[str] = set()
    for entry in canonical_fields("policy_v1"):
        parts = entry.path.split(".")
        for end in range(1, len(parts) + 1):
            prefix = ".".join(parts[:end])
            known.add(prefix)
            known.add(prefix.removesuffix("[]"))
    return known


def _fail(where: str, line: int | None, message: str, fix: str) -> InputError:
    located = f"{where}, line {line}" if line is not None else where
    return InputError(message, where=located, fix=fix)


def _strategy(value: Any, where: str, line: int | None, key: str) -> Strategy:
    try:
        return Strategy(value)
    except ValueError:
        raise _fail(
            where, line, f"unknown strategy {value!r} in '{key}'", f"use one of: {STRATEGIES}"
        ) from None


def parse_policy(text: str, *, where: str = "conflict policy") -> ConflictPolicy:
    """Validate a conflict policy written in YAML.

    Args:
        text: The YAML document.
        where: How to name the document in errors (usually its file path).

    Raises:
        InputError: malformed YAML, an unknown key, field, group setting or strategy, or a field
            two groups both claim; the message names the line.
    """
    data, issues = load_yaml_with_lines(text)
    if issues:
        first = issues[0]
        raise _fail(where, first.line, first.message, "fix the YAML at that line")
    if not isinstance(data, dict):
        raise _fail(where, 1, "is not a mapping", "start with 'default:' and 'groups:'")
    top_line = data.pop(LINE_KEY, 1)
    for key in data:
        if key not in _TOP_KEYS:
            raise _fail(where, top_line, f"unknown key {key!r}", f"use {sorted(_TOP_KEYS)}")
    default = _strategy(data.get("default", "manual"), where, top_line, "default")
    if default is Strategy.STATE_MACHINE:
        raise _fail(where, top_line, "default cannot be state_machine", "use another strategy")
    ping_back = data.get("ping_back", True)
    if not isinstance(ping_back, bool):
        raise _fail(where, top_line, "ping_back must be true or false", "write true or false")
    raw_groups = data.get("groups") or {}
    if not isinstance(raw_groups, dict):
        raise _fail(where, top_line, "'groups' is not a mapping", "map group names to settings")
    groups_line = raw_groups.pop(LINE_KEY, top_line)
    known = _known_prefixes()
    groups: list[FieldGroup] = []
    by_field: dict[str, FieldGroup] = {}
    for name, spec in raw_groups.items():
        group = _group(str(name), spec, known, where, groups_line)
        for path in group.fields:
            if path in by_field:
                raise _fail(
                    where,
                    group.line,
                    f"field {path!r} of group {group.name!r} is already in group "
                    f"{by_field[path].name!r}",
                    "name each field in one group only",
                )
            by_field[path] = group
        groups.append(group)
    return ConflictPolicy(
        groups=tuple(groups),
        default=default,
        ping_back=ping_back,
        renewal=_ownership(data.get("ownership"), known, where, top_line),
        _by_field=by_field,
    )


def _owner(value: Any, where: str, line: int, key: str) -> Owner:
    try:
        return Owner(value)
    except ValueError:
        owners = ", ".join(o.value for o in Owner)
        raise _fail(where, line, f"unknown owner {value!r} in '{key}'", f"use {owners}") from None


def _ownership(spec: Any, known: set[str], where: str, parent_line: int) -> RenewalRule | None:
    """The ``ownership:`` section: today only ``on_renewal``."""
    if spec is None:
        return None
    if not isinstance(spec, dict):
        raise _fail(where, parent_line, "'ownership' is not a mapping", "give it 'on_renewal:'")
    line = spec.pop(LINE_KEY, parent_line)
    for key in spec:
        if key != "on_renewal":
            raise _fail(where, line, f"unknown key {key!r} in 'ownership'", "use ['on_renewal']")
    rule = spec.get("on_renewal")
    if rule is None:
        return None
    if not isinstance(rule, dict):
        raise _fail(where, line, "'on_renewal' is not a mapping", "give it 'to:' and 'from:'")
    line = rule.pop(LINE_KEY, line)
    for key in rule:
        if key not in _RENEWAL_KEYS:
            raise _fail(
                where, line, f"unknown key {key!r} in 'on_renewal'", f"use {sorted(_RENEWAL_KEYS)}"
            )
    to = _owner(rule.get("to", "new"), where, line, "on_renewal.to")
    raw = rule.get("from", ["legacy", "dual"])
    raw = [raw] if isinstance(raw, str) else raw
    if not isinstance(raw, list) or not raw:
        raise _fail(where, line, "'from' is not a list of owners", "write [legacy, dual]")
    owners = tuple(_owner(o, where, line, "on_renewal.from") for o in raw)
    if to in owners:
        raise _fail(
            where, line, f"owner {to.value!r} is both 'to' and in 'from'", "drop it from 'from'"
        )
    date = rule.get("date", RENEWAL_DATE)
    if not isinstance(date, str) or date not in known or "[]" in date:
        raise _fail(
            where,
            line,
            f"unknown renewal date field {date!r}",
            f"name a policy-level canonical date such as {RENEWAL_DATE}",
        )
    return RenewalRule(to=to, owners=owners, date=date, line=line)


def _group(name: str, spec: Any, known: set[str], where: str, parent_line: int) -> FieldGroup:
    if not isinstance(spec, dict):
        raise _fail(where, parent_line, f"group {name!r} is not a mapping", "give it 'fields:'")
    line = spec.pop(LINE_KEY, parent_line)
    for key in spec:
        if key not in _GROUP_KEYS:
            raise _fail(
                where, line, f"unknown key {key!r} in group {name!r}", f"use {sorted(_GROUP_KEYS)}"
            )
    raw_fields = spec.get("fields")
    if isinstance(raw_fields, str):
        raw_fields = [raw_fields]
    if not raw_fields or not isinstance(raw_fields, list):
        raise _fail(where, line, f"group {name!r} names no fields", "add 'fields: [path, ...]'")
    for path in raw_fields:
        if not isinstance(path, str) or path.removesuffix(".*") not in known:
            raise _fail(
                where,
                line,
                f"unknown field {path!r} in group {name!r}",
                "name a canonical policy_v1 path such as policy_core.status or "
                "coverage_sections[].limits (see data-mash fields)",
            )
    resolve = _strategy(spec.get("resolve"), where, line, f"groups.{name}.resolve")
    fallback = _strategy(spec.get("fallback", "manual"), where, line, f"groups.{name}.fallback")
    if fallback in (Strategy.OWNER_WINS, Strategy.STATE_MACHINE):
        raise _fail(
            where, line, f"fallback {fallback.value!r} cannot decide", "use newest_wins or manual"
        )
    precedence = spec.get("precedence") or []
    if resolve is Strategy.STATE_MACHINE and not precedence:
        raise _fail(
            where,
            line,
            f"group {name!r} resolves by state_machine without 'precedence'",
            "list the values, the one that beats all others first",
        )
    if not isinstance(precedence, list) or not all(isinstance(v, str) for v in precedence):
        raise _fail(where, line, "'precedence' is not a list of values", "write [a, b, c]")
    return FieldGroup(
        name=name,
        fields=tuple(p.removesuffix(".*").removesuffix("[]") for p in raw_fields),
        resolve=resolve,
        precedence=tuple(precedence),
        fallback=fallback,
        line=line,
    )


def load_policy(path: Path | None = None) -> ConflictPolicy:
    """Read a conflict policy file, or the built-in default when ``path`` is None."""
    if path is None:
        return parse_policy(DEFAULT_POLICY_YAML, where="built-in conflict policy")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(
            f"cannot read the conflict policy: {exc}", where=str(path), fix="check the path"
        ) from None
    return parse_policy(text, where=str(path))
