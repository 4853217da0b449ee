"""A person's edits of a draft assembly: crosswalk values and survivorship rules.

Each edit is checked against the assembly (a crosswalk the assembly has and a value its column
holds, a canonical value of the field; a rule naming a canonical field and the assembly's
sources) before anything is written, then stored as the draft's next version through the
write-ahead audit log, the edits themselves in the audit entry. An approved assembly is frozen:
editing it is refused. The crosswalk values the data points to (``suggested``) are offered
as edits a person may confirm (:func:`suggested_edits`); nothing applies them on its own.
"""

from __future__ import annotations

from sqlalchemy import Engine

from core.errors import InputError
from core.statuses import AssemblyStatus
from tools.assembly.contracts import AssemblySpec, CrosswalkEdit, SurvivorshipRule
from tools.assembly.crosswalks import apply_edits, check_values
from tools.assembly.spec import get_assembly, store_spec
from tools.assembly.survivorship import checked_rules


def _with_rules(
    spec: AssemblySpec, written: list[tuple[str, SurvivorshipRule]]
) -> list[SurvivorshipRule]:
    """The spec's rules with each written rule replacing the rule of its field (or added)."""
    names = {spec.root_name, *(c.source_name for c in spec.components)}
    edited = checked_rules(written, sources=names, suppliers={})
    by_field = {r.field: r for r in edited}
    out = [by_field.pop(r.field, r) for r in spec.survivorship]
    return out + list(by_field.values())


def edit_assembly(
    engine: Engine,
    assembly_id: str,
    *,
    tenant: str,
    crosswalk_edits: list[tuple[str, CrosswalkEdit]] | None = None,
    survivorship: list[tuple[str, SurvivorshipRule]] | None = None,
) -> AssemblySpec:
    """Apply a person's crosswalk edits and survivorship rules to a draft; store version + 1.

    Args:
        crosswalk_edits: ``(where it was written, edit)``: a value's canonical value, or None to
            leave it unmapped (its records are then quarantined).
        survivorship: ``(where it was written, rule)``: replaces the rule of its field.

    Raises:
        NotFoundError: no such assembly.
        InputError: nothing to edit, an approved assembly, or a bad edit (where it was written
            is named). Nothing is stored then.
    """
    spec = get_assembly(engine, assembly_id, tenant=tenant)
    if not crosswalk_edits and not survivorship:
        raise InputError(
            "no edit given",
            where=f"assembly {assembly_id}",
            fix="give crosswalk edits ({source, column, value, canonical}) or survivorship rules",
        )
    if spec.status != AssemblyStatus.DRAFT:
        raise InputError(
            f"assembly {assembly_id} is approved: approved assemblies never change",
            where=f"assembly {assembly_id}",
            fix="propose a new assembly (`data-mash assembly propose --root ...`) and edit it",
        )
    crosswalks = apply_edits(spec.crosswalks, crosswalk_edits or [])
    check_values(crosswalks)
    rules = _with_rules(spec, survivorship or []) if survivorship else spec.survivorship
    edited = spec.model_copy(
        update={"version": spec.version + 1, "crosswalks": crosswalks, "survivorship": rules}
    )
    changes = {
        "crosswalk_edits": [e.model_dump(mode="json") for _, e in crosswalk_edits or []],
        "survivorship": [r.model_dump(mode="json") for _, r in survivorship or []],
    }
    store_spec(engine, tenant, edited, "edit_assembly", changes=changes)
    return edited


def suggested_edits(spec: AssemblySpec) -> list[CrosswalkEdit]:
    """The edits that confirm every value the data points to (a crosswalk value left unmapped
    with a ``suggested`` canonical value), for a person who has read their evidence to give to
    :func:`edit_assembly`; nothing is changed here."""
    return [
        CrosswalkEdit(source=x.source_name, column=x.column, value=v.value, canonical=v.suggested)
        for x in spec.crosswalks
        for v in x.values
        if v.canonical is None and v.suggested is not None
    ]
