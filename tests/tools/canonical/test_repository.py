"""Mapping specs in the store: checks when set, versions, approval, immutability, diff, audit."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from core.errors import InputError, NotFoundError
from tests.tools.canonical.helpers import BASE_RULES, MakeSource, policy_table
from tools.audit import AuditLog
from tools.canonical import (
    approve_mapping,
    create_mapping,
    diff_mappings,
    get_mapping,
    list_mappings,
    update_field_mapping,
)


@pytest.fixture
def source_id(make_source: MakeSource) -> str:
    return make_source(policy_table(50), name="polmast")


def test_create_stores_a_draft_with_every_rule(engine: Engine, source_id: str) -> None:
    info = create_mapping(engine, source_id, BASE_RULES)
    assert (info.version, info.status, info.latest_version, info.approved_version) == (
        1,
        "draft",
        1,
        None,
    )
    assert [r.target for r in info.rules] == [r["target"] for r in BASE_RULES]
    assert info.rule_for("policy_core.effective_date").transform[0].format == "MM/DD/YYYY"
    assert get_mapping(engine, info.mapping_id) == info
    assert [m.mapping_id for m in list_mappings(engine, source_id=source_id)] == [info.mapping_id]
    entries = list(AuditLog(engine).replay(namespace="canonical"))
    assert [(e.operation, e.status) for e in entries] == [("create_mapping", "ok")]
    assert entries[0].payload["rules"][0]["source"] == "POL_NO"


def test_unknown_target_names_the_rule(engine: Engine, source_id: str) -> None:
    rules = [*BASE_RULES, {"source": "POL_NO", "target": "policy_core.policy_number"}]
    with pytest.raises(
        InputError,
        match=r"mapping rule for policy_core\.policy_number.*"
        r"not a field of canonical model",
    ):
        create_mapping(engine, source_id, rules)


def test_unknown_source_column(engine: Engine, source_id: str) -> None:
    rules = [*BASE_RULES, {"source": "NOPE", "target": "policy_core.carrier"}]
    with pytest.raises(InputError, match="source column 'NOPE' does not exist"):
        create_mapping(engine, source_id, rules)


def test_transform_failing_on_the_sample_names_value_and_column(
    engine: Engine, source_id: str
) -> None:
    rules = [r for r in BASE_RULES if r["target"] != "policy_core.effective_date"]
    rules.append(
        {
            "source": "EFF_DT",
            "target": "policy_core.effective_date",
            "transform": {"kind": "date", "format": "DD.MM.YYYY"},
        }
    )
    with pytest.raises(InputError) as info:
        create_mapping(engine, source_id, rules)
    message = str(info.value)
    assert "source column EFF_DT" in message
    assert "'01/01/2020' in column EFF_DT is not a date in format DD.MM.YYYY" in message


def test_bad_transform_spec_and_code_table(engine: Engine, source_id: str) -> None:
    with pytest.raises(InputError, match="mapping rule 0"):
        create_mapping(
            engine,
            source_id,
            [
                {
                    "source": "POL_NO",
                    "target": "policy_core.policy_id",
                    "transform": {"kind": "rot13"},
                }
            ],
        )
    with pytest.raises(InputError, match="unknown code table 'colours'"):
        create_mapping(
            engine,
            source_id,
            [
                {
                    "source": "STAT",
                    "target": "policy_core.status",
                    "transform": {"kind": "code", "table": "colours"},
                }
            ],
        )


def test_approve_refuses_listing_every_missing_mandatory_field(
    engine: Engine, source_id: str
) -> None:
    rules = [
        r
        for r in BASE_RULES
        if r["target"] not in ("policy_core.status", "coverage_sections[].coverage_type")
    ]
    rules.append({"source": "POL_NO", "target": "coverage_sections[].coverage_id"})
    info = create_mapping(engine, source_id, rules)
    with pytest.raises(InputError) as error:
        approve_mapping(engine, info.mapping_id)
    assert "policy_core.status" in str(error.value)
    assert "coverage_sections[].coverage_type" in str(error.value)
    assert get_mapping(engine, info.mapping_id).status == "draft"


def test_min_confidence_unmaps_weak_fields_and_can_refuse(engine: Engine, source_id: str) -> None:
    info = create_mapping(engine, source_id, BASE_RULES)
    with pytest.raises(
        InputError,
        match=r"policy_core\.effective_date.*min_confidence 0\.7"
        r"|min_confidence 0\.7.*policy_core\.effective_date",
    ):
        approve_mapping(engine, info.mapping_id, min_confidence=0.7)
    approved = approve_mapping(engine, info.mapping_id, min_confidence=0.5)
    assert approved.status == "approved" and approved.min_confidence == 0.5
    premium = approved.rule_for("rating_components.premium_amount")
    assert premium is not None and premium.status == "unmapped" and not premium.mapped
    assert approve_mapping(engine, info.mapping_id) == approved  # idempotent


def test_editing_an_approved_mapping_creates_a_new_draft(engine: Engine, source_id: str) -> None:
    info = create_mapping(engine, source_id, BASE_RULES)
    v1 = approve_mapping(engine, info.mapping_id)
    v2 = update_field_mapping(
        engine,
        info.mapping_id,
        "policy_core.carrier",
        transform={"kind": "constant", "value": "Northstar"},
    )
    assert (v2.version, v2.status, v2.approved_version) == (2, "draft", 1)
    assert get_mapping(engine, info.mapping_id, version=1) == v1.model_copy(
        update={"latest_version": 2}
    )  # v1 itself unchanged
    v2b = update_field_mapping(
        engine, info.mapping_id, "policy_core.insured_party.name", source=None
    )
    assert v2b.version == 2  # drafts are edited in place
    name = v2b.rule_for("policy_core.insured_party.name")
    assert name is not None and name.status == "unmapped"
    carrier = v2b.rule_for("policy_core.carrier")
    assert carrier is not None and carrier.status == "confirmed" and carrier.confidence == 1.0
    diff = diff_mappings(v1, v2b)
    assert {(c.target, c.change) for c in diff.changes} == {
        ("policy_core.carrier", "added"),
        ("policy_core.insured_party.name", "removed"),
    }
    v3 = approve_mapping(engine, info.mapping_id)
    assert (v3.version, v3.approved_version) == (2, 2)


def test_update_checks_the_new_rule(engine: Engine, source_id: str) -> None:
    info = create_mapping(engine, source_id, BASE_RULES)
    with pytest.raises(InputError, match="source column 'NOPE'"):
        update_field_mapping(engine, info.mapping_id, "policy_core.carrier", source="NOPE")
    with pytest.raises(InputError, match="not a field"):
        update_field_mapping(engine, info.mapping_id, "policy_core.carier", source="POL_NO")
    changed = update_field_mapping(
        engine,
        info.mapping_id,
        "policy_core.effective_date",
        transform={"kind": "date", "format": "M/D/YYYY".replace("M/D", "MM/DD")},
    )
    assert changed.rule_for("policy_core.effective_date").status == "confirmed"


def test_unknown_ids(engine: Engine, source_id: str) -> None:
    with pytest.raises(NotFoundError):
        get_mapping(engine, "map_nope")
    with pytest.raises(NotFoundError):
        create_mapping(engine, "src_nope", BASE_RULES)
    info = create_mapping(engine, source_id, BASE_RULES)
    with pytest.raises(NotFoundError, match="no version 7"):
        get_mapping(engine, info.mapping_id, version=7)
    assert list_mappings(engine, tenant="other") == []
