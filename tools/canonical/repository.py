"""Mappings in the store: create, edit field by field, approve, read; every change audited.

Versions: a new mapping is version 1, a draft. Drafts may be edited in place. Approving freezes a
version; editing an approved mapping creates the next version as a draft (copying the approved
rules), so what a wave ran with can always be read back unchanged.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Engine, and_, select, update

from core.errors import InputError, NotFoundError
from core.settings import DEFAULT_TENANT
from core.statuses import MappingStatus, RuleStatus
from core.store.models import MappingRow, MappingVersionRow, table_of, utcnow
from tools.audit import AuditLog
from tools.canonical.rule_checks import check_rules, missing_required, parse_rules
from tools.canonical.spec import FieldRule, MappingInfo, MappingSummary, Step
from tools.content.sources import SourceRegistry

NAMESPACE = "canonical"
MAPPING = table_of(MappingRow)
VERSION = table_of(MappingVersionRow)


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


def _rules_json(rules: Iterable[FieldRule]) -> list[dict[str, Any]]:
    return [r.model_dump(mode="json", exclude_defaults=False) for r in rules]


def _info(mapping: Any, version: Any) -> MappingInfo:
    return MappingInfo(
        mapping_id=mapping.mapping_id,
        tenant=mapping.tenant,
        source_id=mapping.source_id,
        canonical=mapping.canonical,
        version=version.version,
        status=version.status,
        rules=parse_rules(version.rules),
        latest_version=mapping.latest_version,
        approved_version=mapping.approved_version,
        min_confidence=version.min_confidence,
        created_at=version.created_at,
        approved_at=version.approved_at,
    )


def _load(conn: Connection, tenant: str, mapping_id: str, version: int | None) -> MappingInfo:
    mapping = conn.execute(
        select(MAPPING).where(and_(MAPPING.c.tenant == tenant, MAPPING.c.mapping_id == mapping_id))
    ).first()
    if mapping is None:
        raise NotFoundError(
            f"no mapping '{mapping_id}' for tenant '{tenant}'",
            fix="list them with: data-mash mapping list",
        )
    wanted = mapping.latest_version if version is None else version
    row = conn.execute(
        select(VERSION).where(
            and_(
                VERSION.c.tenant == tenant,
                VERSION.c.mapping_id == mapping_id,
                VERSION.c.version == wanted,
            )
        )
    ).first()
    if row is None:
        raise NotFoundError(
            f"mapping '{mapping_id}' has no version {wanted}",
            fix=f"versions run from 1 to {mapping.latest_version}",
        )
    return _info(mapping, row)


def get_mapping(
    engine: Engine, mapping_id: str, *, tenant: str = DEFAULT_TENANT, version: int | None = None
) -> MappingInfo:
    """One version of a mapping (the latest when `version` is None).

    Raises:
        NotFoundError: no such mapping or version.
    """
    with engine.connect() as conn:
        return _load(conn, tenant, mapping_id, version)


def approved_mapping(
    engine: Engine, mapping_id: str, *, tenant: str = DEFAULT_TENANT, version: int | None = None
) -> MappingInfo:
    """The approved version to run (the latest approved one unless `version` is given).

    Raises:
        NotFoundError: no such mapping or version.
        InputError: the mapping (or that version) is not approved.
    """
    info = get_mapping(engine, mapping_id, tenant=tenant)
    wanted = version if version is not None else info.approved_version
    if wanted is None:
        raise InputError(
            f"mapping '{mapping_id}' has no approved version",
            where="mapping",
            fix=f"approve it first: data-mash approve-mapping {mapping_id}",
        )
    found = get_mapping(engine, mapping_id, tenant=tenant, version=wanted)
    if found.status != MappingStatus.APPROVED:
        raise InputError(
            f"version {wanted} of mapping '{mapping_id}' is a draft",
            where="mapping",
            fix="approve it or run an approved version",
        )
    return found


def list_mappings(
    engine: Engine, *, tenant: str = DEFAULT_TENANT, source_id: str | None = None
) -> list[MappingSummary]:
    """Every mapping of a tenant (optionally of one source), oldest first."""
    cond = [MAPPING.c.tenant == tenant]
    if source_id is not None:
        cond.append(MAPPING.c.source_id == source_id)
    with engine.connect() as conn:
        rows = conn.execute(select(MAPPING).where(and_(*cond)).order_by(MAPPING.c.id)).all()
        out = []
        for row in rows:
            info = _load(conn, tenant, row.mapping_id, None)
            out.append(
                MappingSummary(
                    mapping_id=row.mapping_id,
                    source_id=row.source_id,
                    canonical=row.canonical,
                    latest_version=row.latest_version,
                    approved_version=row.approved_version,
                    status=info.status,
                    mapped_fields=len(info.fields),
                )
            )
    return out


def create_mapping(
    engine: Engine,
    source_id: str,
    rules: Iterable[FieldRule | dict[str, Any]],
    canonical: str = "policy_v1",
    *,
    tenant: str = DEFAULT_TENANT,
) -> MappingInfo:
    """Store a proposed mapping as version 1 (draft) after checking every rule.

    Args:
        engine: the store.
        source_id: an ingested source.
        rules: field rules (FieldRule or dicts of the spec).
        canonical: the canonical model version targeted.
        tenant: the tenant.

    Raises:
        NotFoundError: unknown source or canonical version.
        InputError: a rule names an unknown target or column, or its transform fails the sample.
    """
    parsed = parse_rules(rules)
    source = SourceRegistry(engine, tenant=tenant).get(source_id)
    check_rules(parsed, source, canonical)
    mapping_id = f"map_{uuid.uuid4().hex[:12]}"
    audit = AuditLog(engine, tenant=tenant)
    payload = {"source_id": source_id, "canonical": canonical, "rules": _rules_json(parsed)}
    with audit.operation(NAMESPACE, "create_mapping", target=mapping_id, payload=payload) as op:
        now = utcnow()
        op.outcome = {"mapping_id": mapping_id, "version": 1}
        with op.atomic() as conn:
            conn.execute(
                MAPPING.insert().values(
                    tenant=tenant,
                    mapping_id=mapping_id,
                    source_id=source_id,
                    canonical=canonical,
                    latest_version=1,
                    approved_version=None,
                    entry_id=op.entry_id,
                    created_at=now,
                    updated_at=now,
                )
            )
            conn.execute(
                VERSION.insert().values(
                    tenant=tenant,
                    mapping_id=mapping_id,
                    version=1,
                    status=MappingStatus.DRAFT,
                    rules=payload["rules"],
                    actor=audit.actor,
                    entry_id=op.entry_id,
                    created_at=now,
                )
            )
    return get_mapping(engine, mapping_id, tenant=tenant)


def update_field_mapping(
    engine: Engine,
    mapping_id: str,
    target: str,
    *,
    source: str | None = UNSET,
    transform: Step | list[Step] | dict[str, Any] | list[dict[str, Any]] | None = UNSET,
    tenant: str = DEFAULT_TENANT,
) -> MappingInfo:
    """Set the source column and/or transform of one canonical field (a human edit).

    Editing an approved mapping creates the next version as a draft. The edited rule becomes
    `confirmed` with confidence 1.0, or `unmapped` when it no longer fills the field.

    Raises:
        NotFoundError: unknown mapping.
        InputError: unknown target or column, or a transform failing on the source sample.
    """
    current = get_mapping(engine, mapping_id, tenant=tenant)
    old = current.rule_for(target)
    base: dict[str, Any] = old.model_dump() if old else {"target": target}
    if source is not UNSET:
        base["source"] = source
    if transform is not UNSET:
        base["transform"] = transform if transform is not None else ()
    actor = AuditLog(engine, tenant=tenant).actor
    base.update(
        confidence=1.0,
        status=RuleStatus.CONFIRMED,
        evidence=f"set by {actor}",
        confirmed_by=actor,
        confirmed_at=utcnow(),
    )
    rule = parse_rules([base])[0]
    if not rule.mapped:
        rule = rule.model_copy(update={"status": RuleStatus.UNMAPPED})
    rules = [rule if r.target == target else r for r in current.rules]
    if old is None:
        rules.append(rule)
    check_rules(
        [rule], SourceRegistry(engine, tenant=tenant).get(current.source_id), current.canonical
    )
    new_version = (
        current.version + 1 if current.status == MappingStatus.APPROVED else current.version
    )
    audit = AuditLog(engine, tenant=tenant)
    payload = {"version": new_version, "target": target, "rule": rule.model_dump(mode="json")}
    with audit.operation(
        NAMESPACE, "update_field_mapping", target=mapping_id, payload=payload
    ) as op:
        op.outcome = {"version": new_version}
        now = utcnow()
        with op.atomic() as conn:
            if new_version == current.version:
                conn.execute(
                    update(VERSION)
                    .where(
                        and_(
                            VERSION.c.tenant == tenant,
                            VERSION.c.mapping_id == mapping_id,
                            VERSION.c.version == new_version,
                            VERSION.c.status == MappingStatus.DRAFT,
                        )
                    )
                    .values(rules=_rules_json(rules), entry_id=op.entry_id)
                )
            else:
                conn.execute(
                    VERSION.insert().values(
                        tenant=tenant,
                        mapping_id=mapping_id,
                        version=new_version,
                        status=MappingStatus.DRAFT,
                        rules=_rules_json(rules),
                        actor=audit.actor,
                        entry_id=op.entry_id,
                        created_at=now,
                    )
                )
            conn.execute(
                update(MAPPING)
                .where(
                    and_(
                        MAPPING.c.tenant == tenant,
                        MAPPING.c.mapping_id == mapping_id,
                    )
                )
                .values(latest_version=new_version, updated_at=now)
            )
    return get_mapping(engine, mapping_id, tenant=tenant)


def approve_mapping(
    engine: Engine,
    mapping_id: str,
    *,
    tenant: str = DEFAULT_TENANT,
    min_confidence: float | None = None,
    component_of: str | None = None,
) -> MappingInfo:
    """Approve the latest version; rules below `min_confidence` become unmapped first.

    Approving an already approved latest version returns it unchanged. With ``component_of``
    (an assembly being approved, whose component this mapping is), the mapping fills a part of
    the policy: only the required fields of the lists it fills must be mapped, and the audit
    entry names the assembly.

    Raises:
        NotFoundError: unknown mapping.
        InputError: mandatory canonical fields would be left unmapped (all of them are listed).
    """
    if min_confidence is not None and not 0.0 <= min_confidence <= 1.0:
        raise InputError(
            f"min_confidence {min_confidence} is outside 0..1",
            where="--min-confidence",
            fix="give a number between 0 and 1",
        )
    current = get_mapping(engine, mapping_id, tenant=tenant)
    if current.status == MappingStatus.APPROVED:
        return current
    audit = AuditLog(engine, tenant=tenant)
    approved_at = utcnow()
    rules = [
        r.model_copy(update={"status": RuleStatus.UNMAPPED})
        if min_confidence is not None and r.mapped and r.confidence < min_confidence
        else r
        for r in current.rules
    ]
    # Approving is vouching for every field it keeps: the person and the time are recorded on
    # each field nobody confirmed before, and the mapping_confidence gate counts them confirmed.
    rules = [
        r.model_copy(update={"confirmed_by": audit.actor, "confirmed_at": approved_at})
        if r.mapped and r.confirmed_by is None
        else r
        for r in rules
    ]
    missing = missing_required(rules, current.canonical, whole_policy=component_of is None)
    if missing:
        below = "" if min_confidence is None else f" at min_confidence {min_confidence}"
        raise InputError(
            f"cannot approve: mandatory canonical field(s) unmapped{below}: {', '.join(missing)}",
            where=f"mapping {mapping_id} v{current.version}",
            fix="map them with: data-mash mapping set-field MAPPING_ID FIELD --source COLUMN "
            "(MCP: update_field_mapping; a column, constant or default), or lower --min-confidence",
        )
    payload = {
        "version": current.version,
        "min_confidence": min_confidence,
        "approved_by": audit.actor,
        **({"component_of": component_of} if component_of else {}),
        "unmapped": [
            r.target for r, o in zip(rules, current.rules, strict=True) if o.mapped and not r.mapped
        ],
    }
    with audit.operation(
        NAMESPACE,
        "approve_mapping",
        target=mapping_id,
        payload=payload,
        idempotency_key=f"approve:{mapping_id}:{current.version}",
    ) as op:
        if not op.completed:
            op.outcome = {"version": current.version, "fields": sum(r.mapped for r in rules)}
            now = utcnow()
            with op.atomic() as conn:
                conn.execute(
                    update(VERSION)
                    .where(
                        and_(
                            VERSION.c.tenant == tenant,
                            VERSION.c.mapping_id == mapping_id,
                            VERSION.c.version == current.version,
                        )
                    )
                    .values(
                        status=MappingStatus.APPROVED,
                        rules=_rules_json(rules),
                        min_confidence=min_confidence,
                        approved_at=now,
                        entry_id=op.entry_id,
                    )
                )
                conn.execute(
                    update(MAPPING)
                    .where(and_(MAPPING.c.tenant == tenant, MAPPING.c.mapping_id == mapping_id))
                    .values(approved_version=current.version, updated_at=now)
                )
    return get_mapping(engine, mapping_id, tenant=tenant)
