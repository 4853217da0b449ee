"""Assembly specs: components from relationships and mappings, survivorship, crosswalks,
two roots and bad rules refused, approval frozen."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from assembly_estates import IngestedEstate, ingest_estate
from sqlalchemy import func, select

from core.errors import InputError
from core.statuses import AssemblyStatus, MappingStatus
from core.store.models import AssemblyRow, AuditEntry
from tools.assembly import confirm_relationships
from tools.assembly.contracts import CodeCrosswalk, CrosswalkValue
from tools.assembly.crosswalks import check_values, load_edits
from tools.assembly.spec import approve_assembly, get_assembly, propose_assembly
from tools.canonical.repository import approve_mapping, get_mapping


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> IngestedEstate:
    return ingest_estate(tmp_path_factory.mktemp("spec"), policies=1000, seed=7)


def _propose(estate: IngestedEstate, root: str, *sources: str, **kw: object):  # type: ignore[no-untyped-def]
    return propose_assembly(
        estate.engine,
        estate.settings,
        estate.ids[root],
        [estate.ids[s] for s in sources],
        tenant="default",
        **kw,  # type: ignore[arg-type]
    )


def test_components_come_from_relationships_and_mappings(estate: IngestedEstate) -> None:
    spec = _propose(estate, "acquired_policy")
    by_name = {c.source_name: c for c in spec.components}
    assert set(by_name) >= {
        "acquired_coverage",
        "acquired_party",
        "billing",
        "claims_links",
        "correspondence",
    }
    assert "policy_master" not in by_name and "agency_policies" not in by_name
    assert by_name["acquired_party"].direction == "lookup"
    assert by_name["acquired_coverage"].direction == "child"
    assert "coverage_sections[]" in by_name["acquired_coverage"].lists
    assert "claims_links[]" in by_name["claims_links"].lists
    billing = by_name["billing"].relationship.key_transform
    assert billing is not None and billing.kind == "crosswalk"
    # a field two sources supply gets a rule, the root or a lookup first
    assert spec.survivorship and all(len(r.sources) > 1 for r in spec.survivorship)
    lookups = {"acquired_policy"} | {n for n, c in by_name.items() if c.direction == "lookup"}
    assert all(r.sources[0] in lookups for r in spec.survivorship)
    stored = get_assembly(estate.engine, spec.assembly_id, tenant="default")
    assert stored == spec and stored.status == "draft"


def _injected(estate: IngestedEstate, source: str) -> Counter[str]:
    path = estate.root / "ground_truth" / "problems.jsonl"
    problems = [json.loads(line) for line in path.read_text().splitlines()]
    return Counter(
        p["field"] for p in problems if p["source"] == source and p["kind"] == "inconsistent_code"
    )


def test_injected_unknown_codes_are_reported_with_their_counts(estate: IngestedEstate) -> None:
    spec = _propose(estate, "life")
    mode = next(x for x in spec.crosswalks if x.source_name == "life" and x.column == "PREMMODE")
    unknown = {v.value: v.count for v in mode.values if v.canonical is None}
    injected = _injected(estate, "life")["PREMMODE"]
    assert unknown == {"X": injected} and mode.unmapped_rows == injected > 0
    annual = next(v for v in mode.values if v.value == "A")
    assert annual.canonical == "annual" and "code table" in annual.evidence
    # every distinct value is listed with its count: they add up to the source's rows
    assert sum(v.count for v in mode.values) == spec_rows(estate, "life")
    # without a code table, a canonical value in another case is still proposed
    master = _propose(estate, "policy_master", "claims_links")
    status = next(x for x in master.crosswalks if x.source_name == "claims_links")
    by_value = {v.value: v for v in status.values}
    assert by_value["REOPENED"].canonical == "reopened" and by_value["REOPENED"].confidence < 1
    assert by_value["REOPND"].canonical is None
    assert by_value["REOPND"].count == _injected(estate, "claims_links")["claim.status"]


def spec_rows(estate: IngestedEstate, name: str) -> int:
    from tools.content.sources import SourceRegistry

    return SourceRegistry(estate.engine, tenant="default").get(estate.ids[name]).records


def _written(estate: IngestedEstate) -> tuple[int, int, list[str]]:
    """Assembly rows, assembly audit entries, and the status of every assembly."""
    with estate.engine.connect() as conn:
        rows = conn.execute(select(AssemblyRow.status)).scalars().all()  # type: ignore[call-overload]
        entries = conn.execute(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.namespace == "assembly")  # type: ignore[arg-type]
        ).scalar_one()
    return len(rows), entries, sorted(rows)


def test_a_source_not_related_to_the_root_is_a_second_root(estate: IngestedEstate) -> None:
    before = _written(estate)
    with pytest.raises(InputError, match="two roots: agency_policies is not related"):
        _propose(estate, "policy_master", "billing", "agency_policies")
    assert _written(estate) == before


def test_a_named_relationships_version_is_used_whatever_else_the_workspace_holds(
    estate: IngestedEstate,
) -> None:
    pair = [estate.ids["acquired_policy"], estate.ids["acquired_coverage"]]
    confirmed = confirm_relationships(estate.engine, estate.settings, pair, tenant="default")
    spec = _propose(estate, "acquired_policy", relationships_version=confirmed.version)
    assert spec.relationships_version == confirmed.version
    assert [c.source_name for c in spec.components] == ["acquired_coverage"]
    before = _written(estate)
    with pytest.raises(InputError, match="does not hold " + estate.ids["policy_master"]):
        _propose(estate, "policy_master", relationships_version=confirmed.version)
    with pytest.raises(InputError, match="no confirmed relationships version 999"):
        _propose(estate, "acquired_policy", relationships_version=999)
    assert _written(estate) == before


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        (
            "rules:\n  - field: policy_core.insured_party.address.city\n"
            "    sources: [acquired_policy, billing]\n"
            "  - field: policy_core.no_such_field\n    sources: [billing]\n",
            ":4: unknown canonical field 'policy_core.no_such_field'",
        ),
        (
            "rules:\n  - field: payments.outstanding_balance\n    sources: [billing, ledger]\n",
            ":2: source 'ledger' is not in this assembly",
        ),
        ("rules:\n  - field: [unclosed\n", ":3: malformed YAML"),
    ],
    ids=["unknown-field", "unknown-source", "malformed"],
)
def test_bad_survivorship_rules_name_the_line(
    estate: IngestedEstate, tmp_path: Path, yaml_text: str, message: str
) -> None:
    rules = tmp_path / "survivorship.yaml"
    rules.write_text(yaml_text)
    before = _written(estate)
    with pytest.raises(InputError) as err:
        _propose(estate, "acquired_policy", "billing", survivorship=rules)
    assert message in f"{err.value.where}: {err.value.message}"
    assert str(rules) in str(err.value.where)
    assert _written(estate) == before  # nothing stored, nothing audited


def test_approval_needs_approved_mappings_and_freezes(estate: IngestedEstate) -> None:
    spec = _propose(estate, "acquired_policy", "acquired_coverage", "acquired_party")
    with pytest.raises(InputError, match="the root acquired_policy .* is not approved"):
        approve_assembly(estate.engine, spec.assembly_id, tenant="default")
    assert get_assembly(estate.engine, spec.assembly_id, tenant="default").status == "draft"
    approve_mapping(estate.engine, spec.root_mapping_id, tenant="default")
    approved = approve_assembly(
        estate.engine, spec.assembly_id, tenant="default", min_confidence=0.99
    )
    assert approved.status == "approved" and approved.min_confidence == 0.99
    assert all(c.relationship.confidence >= 0.99 for c in approved.components)
    for xw in approved.crosswalks:
        assert all(v.canonical is None or v.confidence >= 0.99 for v in xw.values)
    assert get_assembly(estate.engine, spec.assembly_id, tenant="default") == approved
    with estate.engine.connect() as conn:
        frozen = conn.execute(
            select(AssemblyRow.component_rules).where(  # type: ignore[call-overload]
                AssemblyRow.assembly_id == spec.assembly_id
            )
        ).scalar_one()
    assert set(frozen) == {c.source for c in approved.components}
    assert all(frozen[c.source] for c in approved.components)
    with estate.engine.connect() as conn:
        status, stored = conn.execute(
            select(AssemblyRow.status, AssemblyRow.spec).where(  # type: ignore[call-overload]
                AssemblyRow.assembly_id == spec.assembly_id
            )
        ).one()
    stored = json.loads(stored) if isinstance(stored, str) else stored
    # stored as the enums' plain values, which parse back into them
    assert type(status) is str and AssemblyStatus(status) is AssemblyStatus.APPROVED
    assert AssemblyStatus(stored["status"]) is AssemblyStatus.APPROVED
    assert {MappingStatus(c["mapping_status"]) for c in stored["components"]} <= set(MappingStatus)
    again = approve_assembly(estate.engine, spec.assembly_id, tenant="default", min_confidence=0)
    assert again == approved  # frozen


def test_a_crosswalk_value_outside_the_enum_is_refused() -> None:
    bad = CodeCrosswalk(
        source="s1",
        source_name="billing",
        column="Freq",
        field="payments.billing_frequency",
        allowed=["annual", "monthly"],
        values=[CrosswalkValue(value="7", count=3, canonical="weekly", confidence=1, evidence="")],
        unmapped_rows=0,
    )
    with pytest.raises(InputError, match="'7' -> 'weekly' is not a value of"):
        check_values([bad])


def _crosswalk_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "crosswalks.yaml"
    path.write_text(text)
    return path


def test_crosswalk_edits_map_unknown_codes_and_refuse_values_outside_the_enum(
    estate: IngestedEstate, tmp_path: Path
) -> None:
    spec = _propose(estate, "policy_master", "claims_links")
    if get_mapping(estate.engine, spec.root_mapping_id, tenant="default").approved_version is None:
        approve_mapping(estate.engine, spec.root_mapping_id, tenant="default")
    bad = _crosswalk_file(
        tmp_path,
        "crosswalks:\n"
        "  - {source: claims_links, column: claim.status, value: REOPND, canonical: reopened}\n"
        "  - {source: claims_links, column: claim.status, value: DENIED, canonical: refused}\n",
    )
    before = _written(estate)
    with pytest.raises(InputError) as err:
        approve_assembly(
            estate.engine, spec.assembly_id, tenant="default", crosswalk_edits=load_edits(bad)
        )
    assert "'DENIED' -> 'refused' is not a value of claims_links[].status" in err.value.message
    assert err.value.where == f"{bad}:3" and "reopened" in (err.value.fix or "")
    assert _written(estate) == before  # still a draft, nothing audited
    unknown = _crosswalk_file(
        tmp_path, "crosswalks:\n  - {source: ledger, column: Freq, value: '7', canonical: annual}\n"
    )
    with pytest.raises(InputError, match="no crosswalk ledger.Freq in this assembly"):
        approve_assembly(
            estate.engine, spec.assembly_id, tenant="default", crosswalk_edits=load_edits(unknown)
        )
    good = _crosswalk_file(
        tmp_path,
        "crosswalks:\n"
        "  - {source: claims_links, column: claim.status, value: REOPND, canonical: reopened}\n",
    )
    approved = approve_assembly(
        estate.engine, spec.assembly_id, tenant="default", crosswalk_edits=load_edits(good)
    )
    status = next(x for x in approved.crosswalks if x.column == "claim.status")
    edited = next(v for v in status.values if v.value == "REOPND")
    assert (edited.canonical, status.unmapped_rows) == ("reopened", 0)
    assert f"{good}:2" in edited.evidence


def test_a_malformed_crosswalk_edit_names_its_line(tmp_path: Path) -> None:
    path = _crosswalk_file(tmp_path, "crosswalks:\n  - {source: life, value: X}\n")
    with pytest.raises(InputError) as err:
        load_edits(path)
    assert err.value.where == f"{path}:2" and "column" in err.value.message
