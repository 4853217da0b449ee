"""Rule sets as state: every routing rule-set version is stored, numbered and audited.

A rule set is stored under a name (``insurer_rules``) with a version that increases per name
(1, 2, ...). The YAML is kept exactly as written, with its SHA-256: storing the same text again
under the same name returns the version that already holds it, so registering is idempotent.
Routing decisions name the stored version that made them (``rule insurer_rules v3``).
"""

from __future__ import annotations

import hashlib
import os
import re
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import Engine, and_, func, insert, select
from sqlalchemy.exc import IntegrityError

from core.errors import InputError, NotFoundError
from core.store.models import RoutingRuleSet, as_utc, table_of, utcnow
from tools.audit import AuditLog
from tools.routing.fields import DEFAULT_CANONICAL_VERSION
from tools.routing.loader import RuleSource, _read, load_rule_set
from tools.routing.model import RuleSet

RULE_SET = table_of(RoutingRuleSet)
NAMESPACE = "routing"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
#: ``name``, ``name@3`` or ``name@v3``: how people and tools refer to a stored version.
_REF = re.compile(r"^(?P<name>[^@]+?)(?:@v?(?P<version>\d+))?$")


class RuleSetInfo(BaseModel):
    """A stored rule-set version (without its YAML)."""

    id: int
    tenant: str
    name: str
    version: int = Field(description="Version number within the name: 1, 2, ...")
    sha256: str
    rules_version: str = Field(description="The `version:` declared inside the YAML.")
    canonical: str = Field(description="Canonical model the rules route, e.g. policy_v1.")
    rule_count: int
    entry_id: int | None
    created_at: datetime

    _utc = field_validator("created_at")(as_utc)

    @property
    def label(self) -> str:
        """``name v3``: how moves and audit entries name this version."""
        return f"{self.name} v{self.version}"

    @property
    def uri(self) -> str:
        """The MCP resource address of this version."""
        return f"rules://{self.tenant}/{self.name}/{self.version}"


class StoredRuleSet(BaseModel):
    """A stored version with its YAML text."""

    info: RuleSetInfo
    yaml: str

    def load(self) -> RuleSet:
        """Parse and validate the stored YAML (it validated when stored)."""
        return load_rule_set(self.yaml)


def _info(row: object) -> RuleSetInfo:
    data = dict(row._mapping)  # type: ignore[attr-defined]
    data.pop("yaml", None)
    return RuleSetInfo.model_validate(data)


def _default_name(path_or_text: RuleSource, source: str) -> str:
    if source != "<text>":
        return Path(os.fspath(path_or_text)).stem
    return "rules"


def register_rule_set(
    engine: Engine, tenant: str, path_or_text: RuleSource, name: str | None = None
) -> RuleSetInfo:
    """Validate a rule set and store it as the next version of ``name``.

    Args:
        engine: The store.
        tenant: Tenant the rule set belongs to.
        path_or_text: A rule file path or the YAML text.
        name: Name to store under; default: the file's stem (``rules`` for text).

    Returns:
        The stored version; when this exact YAML is already stored under ``name``, that version.

    Raises:
        InputError: the YAML is malformed or the rules invalid (every problem with its line),
            or the name is not a simple identifier.
    """
    text, source = _read(path_or_text)
    rule_set = load_rule_set(text)  # raises with every problem, before anything is written
    name = name or _default_name(path_or_text, source)
    if not _NAME.match(name):
        raise InputError(
            f"rule set name {name!r} is not a simple name",
            where=source,
            fix="use letters, digits, '_', '-' or '.', at most 128 characters",
        )
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    existing = _by_digest(engine, tenant, name, digest)
    if existing is not None:
        return existing
    log = AuditLog(engine, tenant=tenant)
    payload = {
        "name": name,
        "sha256": digest,
        "source": source,
        "rules": [rule.name for rule in rule_set.rules],
    }
    with log.operation(
        NAMESPACE,
        "register_rule_set",
        target=name,
        payload=payload,
        idempotency_key=f"rule_set:{name}:{digest}",
    ) as op:
        if op.completed:
            found = _by_digest(engine, tenant, name, digest)
            if found is not None:
                return found
        try:
            with op.atomic() as conn:
                latest = conn.execute(
                    select(func.max(RULE_SET.c.version)).where(
                        and_(RULE_SET.c.tenant == tenant, RULE_SET.c.name == name)
                    )
                ).scalar()
                version = (latest or 0) + 1
                conn.execute(
                    insert(RULE_SET).values(
                        tenant=tenant,
                        name=name,
                        version=version,
                        yaml=text,
                        sha256=digest,
                        rules_version=rule_set.version,
                        canonical=rule_set.canonical or DEFAULT_CANONICAL_VERSION,
                        rule_count=len(rule_set.rules),
                        entry_id=op.entry_id,
                        created_at=utcnow(),
                    )
                )
                op.outcome = {"version": version}
        except IntegrityError:
            # A concurrent writer stored the same text first (same digest): return its version.
            found = _by_digest(engine, tenant, name, digest)
            if found is None:
                raise
            op.outcome = {"version": found.version, "stored_by_other": True}
            return found
    stored = _by_digest(engine, tenant, name, digest)
    assert stored is not None
    return stored


def _by_digest(engine: Engine, tenant: str, name: str, digest: str) -> RuleSetInfo | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(RULE_SET).where(
                and_(
                    RULE_SET.c.tenant == tenant,
                    RULE_SET.c.name == name,
                    RULE_SET.c.sha256 == digest,
                )
            )
        ).first()
    return _info(row) if row else None


def parse_ref(ref: str) -> tuple[str, int | None]:
    """Split ``name``, ``name@3`` or ``name@v3`` into (name, version or None for latest)."""
    match = _REF.match(ref.strip())
    if not match:
        raise InputError(
            f"rule set reference {ref!r} is not understood",
            fix="write NAME, NAME@VERSION or a numeric rule set id",
        )
    version = match.group("version")
    return match.group("name"), int(version) if version else None


def get_rule_set(
    engine: Engine, tenant: str, ref: int | str, version: int | None = None
) -> StoredRuleSet:
    """Fetch a stored version by id, or by name and version (latest when omitted).

    Args:
        engine: The store.
        tenant: Tenant.
        ref: The numeric id, a name, or ``name@version``.
        version: Version of a name (overrides one written in ``ref``).

    Raises:
        NotFoundError: no such rule set or version.
    """
    conditions = [RULE_SET.c.tenant == tenant]
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit() and version is None):
        conditions.append(RULE_SET.c.id == int(ref))
        wanted = f"id {ref}"
    else:
        name, in_ref = parse_ref(ref)
        version = version if version is not None else in_ref
        conditions.append(RULE_SET.c.name == name)
        if version is not None:
            conditions.append(RULE_SET.c.version == version)
        wanted = f"{name!r}" + (f" v{version}" if version is not None else "")
    with engine.connect() as conn:
        row = conn.execute(
            select(RULE_SET).where(and_(*conditions)).order_by(RULE_SET.c.version.desc()).limit(1)
        ).first()
    if row is None:
        raise NotFoundError(
            f"no stored rule set {wanted} for tenant {tenant!r}",
            fix="list them with data-mash rules list (MCP: list_stored_rule_sets), or "
            "store one with data-mash rules add RULES.yaml",
        )
    return StoredRuleSet(info=_info(row), yaml=row.yaml)


def list_rule_sets(engine: Engine, tenant: str, name: str | None = None) -> list[RuleSetInfo]:
    """Every stored version of a tenant (optionally of one name), by name then version."""
    conditions = [RULE_SET.c.tenant == tenant]
    if name:
        conditions.append(RULE_SET.c.name == name)
    with engine.connect() as conn:
        rows = conn.execute(
            select(RULE_SET).where(and_(*conditions)).order_by(RULE_SET.c.name, RULE_SET.c.version)
        ).all()
    return [_info(row) for row in rows]
