"""A person edits a draft assembly: a crosswalk value and a survivorship rule are stored as its
next version through the write-ahead audit log (the edits in the entry), approval keeps them,
and a bad edit, or any edit of an approved assembly, stores nothing."""

from __future__ import annotations

import pytest
from assembly_estates import IngestedEstate
from sqlalchemy import func, select

from core.errors import InputError
from core.store.models import AssemblyRow, AuditEntry
from tools.assembly.contracts import CrosswalkEdit, SurvivorshipRule
from tools.assembly.review import edit_assembly
from tools.assembly.spec import approve_assembly, get_assembly, propose_assembly
from tools.canonical.repository import approve_mapping


def _draft(estate: IngestedEstate):  # type: ignore[no-untyped-def]
    return propose_assembly(
        estate.engine, estate.settings, estate.ids["agency_policies"], None, tenant="default"
    )


def _edits(estate: IngestedEstate) -> list[tuple[int, str, dict]]:  # type: ignore[type-arg]
    with estate.engine.connect() as conn:
        rows = conn.execute(
            select(AuditEntry.id, AuditEntry.status, AuditEntry.payload)  # type: ignore[call-overload]
            .where(AuditEntry.operation == "edit_assembly")
            .order_by(AuditEntry.id)
        ).all()
    return [tuple(r) for r in rows]


def test_edits_are_stored_as_versions(estate7: IngestedEstate) -> None:
    spec = _draft(estate7)
    # an unknown code (injected in the agency's line of business), left unmapped as proposed
    mode = next(x for x in spec.crosswalks if any(v.canonical is None for v in x.values))
    unknown = next(v for v in mode.values if v.canonical is None)
    edited = edit_assembly(
        estate7.engine,
        spec.assembly_id,
        tenant="default",
        crosswalk_edits=[
            (
                "journey",
                CrosswalkEdit(
                    source=mode.source_name,
                    column=mode.column,
                    value=unknown.value,
                    canonical=mode.allowed[-1],
                ),
            )
        ],
    )
    assert edited.version == spec.version + 1
    xw = next(x for x in edited.crosswalks if x.column == mode.column)
    value = next(v for v in xw.values if v.value == unknown.value)
    assert (value.canonical, value.confidence) == (mode.allowed[-1], 1.0)
    assert xw.unmapped_rows == mode.unmapped_rows - unknown.count
    field = spec.survivorship[0].field
    sources = list(reversed(spec.survivorship[0].sources))
    rule = SurvivorshipRule(field=field, rule="first_non_null", sources=sources)
    again = edit_assembly(
        estate7.engine, spec.assembly_id, tenant="default", survivorship=[("journey", rule)]
    )
    assert again.version == spec.version + 2
    assert again.survivorship[0] == rule  # replaced in place, the other rules kept
    assert again.survivorship[1:] == spec.survivorship[1:]
    assert next(x for x in again.crosswalks if x.column == mode.column) == xw
    assert get_assembly(estate7.engine, spec.assembly_id, tenant="default") == again
    entries = _edits(estate7)[-2:]
    assert [status for _, status, _ in entries] == ["ok", "ok"]
    assert entries[0][2]["crosswalk_edits"][0]["canonical"] == mode.allowed[-1]
    assert entries[1][2]["survivorship"][0]["rule"] == "first_non_null"
    assert [p["version"] for _, _, p in entries] == [spec.version + 1, spec.version + 2]

    approve_mapping(estate7.engine, spec.root_mapping_id, tenant="default")
    approved = approve_assembly(estate7.engine, spec.assembly_id, tenant="default")
    assert approved.survivorship[0] == rule
    assert next(x for x in approved.crosswalks if x.column == mode.column) == xw
    with pytest.raises(InputError, match="approved assemblies never change"):
        edit_assembly(
            estate7.engine, spec.assembly_id, tenant="default", survivorship=[("journey", rule)]
        )


@pytest.mark.parametrize(
    ("crosswalk", "rule", "message"),
    [
        (
            CrosswalkEdit(source="agency_policies", column="Status", value="A", canonical="weekly"),
            None,
            "'A' -> 'weekly' is not a value of policy_core.status",
        ),
        (
            CrosswalkEdit(source="agency_policies", column="NOPE", value="A", canonical="annual"),
            None,
            "no crosswalk agency_policies.NOPE in this assembly",
        ),
        (
            None,
            SurvivorshipRule(field="policy_core.nope", sources=["agency_policies"]),
            "unknown canonical field 'policy_core.nope'",
        ),
        (
            None,
            SurvivorshipRule(field="policy_core.status", sources=["ledger"]),
            "source 'ledger' is not in this assembly",
        ),
    ],
    ids=["value-outside-enum", "unknown-crosswalk", "unknown-field", "unknown-source"],
)
def test_bad_edits_store_nothing(
    estate7: IngestedEstate,
    crosswalk: CrosswalkEdit | None,
    rule: SurvivorshipRule | None,
    message: str,
) -> None:
    spec = _draft(estate7)
    with estate7.engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(AuditEntry)).scalar_one()
    with pytest.raises(InputError, match=message) as err:
        edit_assembly(
            estate7.engine,
            spec.assembly_id,
            tenant="default",
            crosswalk_edits=[("edits.yaml:3", crosswalk)] if crosswalk else None,
            survivorship=[("rules.yaml:2", rule)] if rule else None,
        )
    assert err.value.where in ("edits.yaml:3", "rules.yaml:2")
    assert get_assembly(estate7.engine, spec.assembly_id, tenant="default") == spec
    with estate7.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(AuditEntry)).scalar_one() == before
        version = conn.execute(
            select(AssemblyRow.version).where(AssemblyRow.assembly_id == spec.assembly_id)  # type: ignore[arg-type]
        ).scalar_one()
    assert version == spec.version
