"""Assembly specs: for a root source, which sources feed which canonical components.

``propose_assembly`` builds the spec from the relationships (a confirmed version the caller
names, the latest confirmed set holding every source, or a fresh proposal) and each source's
mapping (its approved one, or a proposed draft), adds survivorship rules for fields several
sources supply and the code crosswalks, and stores it as a draft. ``approve_assembly`` freezes
it. Both go through the write-ahead audit log.
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Engine, and_, insert, select, update

from core.errors import InputError, NotFoundError
from core.settings import Settings
from core.statuses import AssemblyStatus, MappingStatus
from core.store.models import AssemblyRow, table_of, utcnow
from tools.assembly import keyspace
from tools.assembly.contracts import (
    AssemblySpec,
    Component,
    CrosswalkEdit,
    Relationship,
    SurvivorshipRule,
)
from tools.assembly.crosswalks import (
    allowed_for,
    apply_edits,
    below,
    check_values,
    coded_fields,
    crosswalk_for,
)
from tools.assembly.relationships import NAMESPACE, confirmed_relationships, propose_relationships
from tools.assembly.survivorship import checked_rules, default_rules, load_rules
from tools.audit import AuditLog
from tools.canonical.repository import approve_mapping, get_mapping, list_mappings
from tools.canonical.rule_checks import missing_required
from tools.canonical.spec import MappingInfo
from tools.content.sources import SourceInfo, SourceRegistry

ASSEMBLY = table_of(AssemblyRow)
ID_PATH = "policy_core.policy_id"


def _relationships(
    engine: Engine, settings: Settings, tenant: str, wanted: list[str]
) -> tuple[list[Relationship], int | None]:
    try:
        confirmed = confirmed_relationships(engine, tenant=tenant)
    except NotFoundError:
        confirmed = None
    if confirmed is not None and set(wanted) <= set(confirmed.sources):
        return confirmed.relationships, confirmed.version
    proposed = propose_relationships(engine, settings, wanted, tenant=tenant)
    return proposed.relationships, None


def _confirmed_version(engine: Engine, tenant: str, version: int, wanted: list[str]) -> Any:
    """The confirmed relationship set ``version``, which must hold every ``wanted`` source."""
    try:
        confirmed = confirmed_relationships(engine, tenant=tenant, version=version)
    except NotFoundError as exc:
        raise InputError(
            f"no confirmed relationships version {version}",
            where="--relationships",
            fix="list them with `data-mash relate SOURCE_ID... --json`, or leave the option out "
            "to use the latest",
        ) from exc
    missing = [s for s in wanted if s not in confirmed.sources]
    if missing:
        raise InputError(
            f"relationships version {version} does not hold {', '.join(missing)}",
            where="--relationships",
            fix="confirm relationships over these sources (`data-mash relate ... --confirm`), "
            "or leave them out",
        )
    return confirmed


def _mapping(
    engine: Engine, settings: Settings, info: SourceInfo, tenant: str, *, component: bool = False
) -> MappingInfo:
    """The root's approved mapping, else its latest draft, else a new proposal. A component's
    newest mapping at its latest version (a draft a person edits after an assembly approved
    the previous version is approved with the next assembly), else a new proposal."""
    mappings = list_mappings(engine, tenant=tenant, source_id=info.source_id)
    approved = [m for m in mappings if m.approved_version is not None]
    if approved and not component:
        m = approved[-1]
        return get_mapping(engine, m.mapping_id, tenant=tenant, version=m.approved_version)
    if mappings:
        return get_mapping(engine, mappings[-1].mapping_id, tenant=tenant)
    # Imported here: the matcher (scipy, the glossary) loads only when a source has no mapping
    # yet; the waves and canonical readers of assemblies never need it.
    from tools.canonical.suggest import suggest_mapping  # noqa: PLC0415

    proposal = suggest_mapping(engine, settings, info.source_id, tenant=tenant)
    return get_mapping(engine, proposal.mapping_id, tenant=tenant)


def _edge(rels: list[Relationship], root: str, source: SourceInfo) -> Component | None:
    links = [r for r in rels if {r.parent, r.child} == {root, source.source_id}]
    if not links:
        return None
    best = max(links, key=lambda r: r.confidence)
    direction: Literal["child", "lookup"] = "child" if best.parent == root else "lookup"
    # The mapping fields are filled in by the caller, so the model is built unvalidated here.
    return Component.model_construct(  # type: ignore[call-arg]
        source=source.source_id, source_name=source.name, direction=direction, relationship=best
    )


def _targets(mapping: MappingInfo) -> tuple[list[str], list[str]]:
    lists, scalars = set(), set()
    for rule in mapping.fields:
        if rule.target == ID_PATH:
            continue
        if "[]" in rule.target:
            lists.add(rule.target.split("[]", 1)[0] + "[]")
        else:
            scalars.add(rule.target)
    return sorted(lists), sorted(scalars)


def propose_assembly(
    engine: Engine,
    settings: Settings,
    root: str,
    sources: list[str] | None = None,
    *,
    tenant: str,
    survivorship: Path | list[SurvivorshipRule] | None = None,
    relationships_version: int | None = None,
) -> AssemblySpec:
    """Propose (and store as a draft) the assembly of whole policies around ``root``.

    Args:
        root: the source holding one row per policy.
        sources: the component sources; default every source related to the root.
        survivorship: rules overriding the proposed ones: a YAML file, or rule objects (an
            error then names ``survivorship[i]``).
        relationships_version: the confirmed relationship set to build on; its sources are
            then the candidates (other sources of the workspace are left out). Default: the
            latest confirmed set when it holds every source of the workspace, else a proposal.

    Raises:
        InputError: a source not related to the root (two roots), a root without a policy id,
            a bad survivorship file (line named), a relationships version that does not exist
            or lacks the root or a given source. Nothing is stored then.
    """
    registry = SourceRegistry(engine, tenant=tenant)
    root_info = registry.get(root)
    if relationships_version is not None:
        chosen = _confirmed_version(
            engine, tenant, relationships_version, [root_info.source_id, *(sources or [])]
        )
        every, rels, rel_version = chosen.sources, chosen.relationships, chosen.version
    else:
        every = [s.source_id for s in registry.list()]
        # Relationships are read over every source: a component may reach the root through a
        # crosswalk source that is not itself a component.
        rels, rel_version = _relationships(
            engine, settings, tenant, list(dict.fromkeys([root_info.source_id, *every]))
        )
    # A crosswalk source translates keys; it is not a part of the policy unless asked for.
    key_crosswalks = {
        r.key_transform.crosswalk.source
        for r in rels
        if r.key_transform is not None and r.key_transform.crosswalk is not None
    }
    wanted = sources or [s for s in every if s not in key_crosswalks]
    candidates = [registry.get(s) for s in wanted if s != root_info.source_id]
    components: list[Component] = []
    for info in candidates:
        component = _edge(rels, root_info.source_id, info)
        if component is None:
            if sources:
                raise InputError(
                    f"two roots: {info.name} is not related to the root {root_info.name}",
                    where=f"--source {info.source_id}",
                    fix="leave it out, or assemble it under its own root "
                    "(`data-mash relate` shows how sources relate)",
                )
            continue
        components.append(component)
    root_mapping = _mapping(engine, settings, root_info, tenant)
    if not any(r.target == ID_PATH for r in root_mapping.fields):
        raise InputError(
            f"the root {root_info.name} maps no column to {ID_PATH}",
            where=f"mapping {root_info.source_id}",
            fix="map its policy key to policy_core.policy_id, or choose another root",
        )
    suppliers: dict[str, list[str]] = {}
    for target in _targets(root_mapping)[1]:
        suppliers.setdefault(target, []).append(root_info.name)
    filled = []
    for comp in sorted(components, key=lambda c: (c.direction != "lookup", c.source_name)):
        info = registry.get(comp.source)
        mapping = _mapping(engine, settings, info, tenant, component=True)
        lists, scalars = _targets(mapping)
        filled.append(
            Component(
                **{k: getattr(comp, k) for k in ("source", "source_name", "direction")},
                relationship=comp.relationship,
                mapping_id=mapping.mapping_id,
                mapping_version=mapping.version,
                mapping_status=mapping.status,
                lists=lists,
                scalars=scalars,
            )
        )
        for target in scalars:
            suppliers.setdefault(target, []).append(info.name)
    names = {root_info.name, *(c.source_name for c in filled)}
    if isinstance(survivorship, Path):
        rules = load_rules(survivorship, sources=names, suppliers=suppliers)
    elif survivorship is not None:
        written = [(f"survivorship[{i}]", r) for i, r in enumerate(survivorship)]
        rules = checked_rules(written, sources=names, suppliers=suppliers)
    else:
        rules = default_rules(suppliers)
    crosswalks = _crosswalks(engine, settings, tenant, root_info, root_mapping, filled)
    spec = AssemblySpec(
        assembly_id=f"asm-{uuid.uuid4().hex[:12]}",
        version=1,
        status=AssemblyStatus.DRAFT,
        root=root_info.source_id,
        root_name=root_info.name,
        root_mapping_id=root_mapping.mapping_id,
        components=filled,
        survivorship=rules,
        crosswalks=crosswalks,
        relationships_version=rel_version,
        note=None if filled else "no source is related to the root",
    )
    store_spec(engine, tenant, spec, "propose_assembly")
    return spec


def _crosswalks(
    engine: Engine,
    settings: Settings,
    tenant: str,
    root: SourceInfo,
    root_mapping: MappingInfo,
    components: list[Component],
) -> list:  # type: ignore[type-arg]
    coded = coded_fields()
    registry = SourceRegistry(engine, tenant=tenant)
    pairs = [(root, root_mapping)] + [
        (registry.get(c.source), get_mapping(engine, c.mapping_id, tenant=tenant))
        for c in components
    ]
    out = []
    settings.home.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="assembly-", dir=settings.home) as tmp:
        con = keyspace.connect(Path(tmp))
        try:
            for info, mapping in pairs:
                for rule in mapping.fields:
                    allowed = allowed_for(rule, coded)
                    if allowed:
                        found = crosswalk_for(con, info, rule, allowed)
                        if found is not None:
                            out.append(found)
        finally:
            con.close()
    return out


def store_spec(
    engine: Engine,
    tenant: str,
    spec: AssemblySpec,
    operation: str,
    component_rules: dict[str, list[dict[str, Any]]] | None = None,
    changes: dict[str, Any] | None = None,
) -> None:
    """Insert a proposed spec, or replace a draft (an edit, the approval) under the
    write-ahead log; ``changes`` (what a person edited) goes into the audit entry's payload."""
    audit = AuditLog(engine, tenant=tenant)
    payload: dict[str, Any] = {"root": spec.root, "components": [c.source for c in spec.components]}
    if changes:
        payload |= {"version": spec.version, **changes}
    with audit.operation(NAMESPACE, operation, target=spec.assembly_id, payload=payload) as op:
        with op.atomic() as conn:
            values = {
                "version": spec.version,
                "status": spec.status,
                "spec": spec.model_dump(mode="json"),
                "min_confidence": spec.min_confidence,
                "component_rules": component_rules or {},
                "entry_id": op.entry_id,
            }
            if operation == "propose_assembly":
                conn.execute(
                    insert(ASSEMBLY).values(
                        tenant=tenant,
                        assembly_id=spec.assembly_id,
                        root=spec.root,
                        actor=audit.actor,
                        created_at=utcnow(),
                        **values,
                    )
                )
            else:
                changed = conn.execute(
                    update(ASSEMBLY)
                    .where(
                        and_(
                            ASSEMBLY.c.tenant == tenant,
                            ASSEMBLY.c.assembly_id == spec.assembly_id,
                            ASSEMBLY.c.status == AssemblyStatus.DRAFT,
                        )
                    )
                    .values(
                        approved_at=utcnow() if spec.status == AssemblyStatus.APPROVED else None,
                        **values,
                    )
                )
                if changed.rowcount != 1:  # approved meanwhile: a frozen spec never changes
                    raise InputError(
                        f"assembly {spec.assembly_id} is no longer a draft",
                        where=f"assembly {spec.assembly_id}",
                        fix="propose a new assembly to change it",
                    )
            op.outcome = {"assembly_id": spec.assembly_id, "status": spec.status}


def get_assembly(engine: Engine, assembly_id: str, *, tenant: str) -> AssemblySpec:
    """A stored assembly spec.

    Raises:
        NotFoundError: no such assembly for the tenant.
    """
    with engine.connect() as conn:
        row = conn.execute(
            select(ASSEMBLY.c.spec).where(
                and_(ASSEMBLY.c.tenant == tenant, ASSEMBLY.c.assembly_id == assembly_id)
            )
        ).first()
    if row is None:
        raise NotFoundError(
            f"no assembly '{assembly_id}'",
            where=f"tenant {tenant}",
            fix="propose one with `data-mash assembly propose --root SOURCE_ID`",
        )
    return AssemblySpec.model_validate(row[0])


def _approve_components(
    engine: Engine, assembly_id: str, components: list[Component], tenant: str
) -> list[Component]:
    """Approve the draft mapping versions the components run with (approving an assembly is
    vouching for the rules it freezes): a component fills a part of the policy, so only the
    required fields of the lists it fills must be mapped. Every draft is checked before any is
    approved; each approval is audited, naming the assembly.

    Raises:
        InputError: a component mapping lacking a required field of a list it fills, or moved
            on to a later version since the proposal. Nothing is approved then.
    """
    drafts = []
    for c in components:
        info = get_mapping(engine, c.mapping_id, tenant=tenant, version=c.mapping_version)
        if info.status == MappingStatus.APPROVED:
            continue
        missing = missing_required(info.rules, info.canonical, whole_policy=False)
        if missing or info.version != info.latest_version:
            raise InputError(
                f"the mapping of the component {c.source_name} ({c.mapping_id} "
                f"v{c.mapping_version}) "
                + (
                    f"leaves required field(s) unmapped: {', '.join(missing)}"
                    if missing
                    else f"moved on to version {info.latest_version}"
                ),
                where=f"assembly {assembly_id}",
                fix="map them (data-mash mapping set-field) or propose the assembly again",
            )
        drafts.append(c)
    for c in drafts:
        approve_mapping(engine, c.mapping_id, tenant=tenant, component_of=assembly_id)
    return [c.model_copy(update={"mapping_status": MappingStatus.APPROVED}) for c in components]


def approve_assembly(
    engine: Engine,
    assembly_id: str,
    *,
    tenant: str,
    min_confidence: float | None = None,
    crosswalk_edits: list[tuple[str, CrosswalkEdit]] | None = None,
) -> AssemblySpec:
    """Freeze an assembly: components and crosswalk values under ``min_confidence`` are left
    out; the root's mapping must be approved; each component's mapping version is approved (as
    a component, audited) and its rules are frozen with the assembly. Approving twice returns
    the approved spec.

    Raises:
        NotFoundError: no such assembly.
        InputError: the root mapping not approved, a crosswalk edit naming no crosswalk of the
            assembly or a value outside its field's values (where it was written is named), a
            component mapping lacking a required field of a list it fills. Nothing is changed
            then.
    """
    spec = get_assembly(engine, assembly_id, tenant=tenant)
    if spec.status == AssemblyStatus.APPROVED:
        return spec
    bar = min_confidence if min_confidence is not None else 0.0
    components = [c for c in spec.components if c.relationship.confidence >= bar]
    dropped = [c.source_name for c in spec.components if c not in components]
    root_mapping = get_mapping(engine, spec.root_mapping_id, tenant=tenant)
    if root_mapping.approved_version is None:
        raise InputError(
            f"the mapping of the root {spec.root_name} ({spec.root_mapping_id}) is not approved",
            where=f"assembly {assembly_id}",
            fix=f"review and approve it first: data-mash approve-mapping {spec.root_mapping_id}",
        )
    kept = {c.source for c in components} | {spec.root}
    crosswalks = [below(x, bar) for x in spec.crosswalks if x.source in kept]
    crosswalks = apply_edits(crosswalks, crosswalk_edits or [])
    check_values(crosswalks)
    components = _approve_components(engine, assembly_id, components, tenant)
    # The rules each component runs with are frozen into the approved assembly.
    frozen = {
        c.source: [
            r.model_dump(mode="json")
            for r in get_mapping(
                engine, c.mapping_id, tenant=tenant, version=c.mapping_version
            ).fields
        ]
        for c in components
    }
    approved = spec.model_copy(
        update={
            "status": AssemblyStatus.APPROVED,
            "components": components,
            "crosswalks": crosswalks,
            "min_confidence": min_confidence,
            "note": f"left out below {bar}: {', '.join(dropped)}" if dropped else spec.note,
        }
    )
    store_spec(engine, tenant, approved, "approve_assembly", component_rules=frozen)
    return approved
