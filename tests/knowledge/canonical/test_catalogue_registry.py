from __future__ import annotations

import json

import pytest

from core.errors import InputError, NotFoundError
from knowledge.canonical import (
    CanonicalPolicyV1,
    field_by_path,
    fields,
    get_model,
    json_schema,
    list_versions,
    mandatory_paths,
    register_model,
)

SECTION_8_PATHS = [
    "policy_core.policy_id",
    "policy_core.status",
    "policy_core.effective_date",
    "policy_core.expiration_date",
    "policy_core.issue_date",
    "policy_core.policy_type",
    "policy_core.carrier",
    "policy_core.insured_party.party_id",
    "policy_core.insured_party.name",
    "policy_core.insured_party.first_name",
    "policy_core.insured_party.last_name",
    "policy_core.insured_party.date_of_birth",
    "policy_core.insured_party.address.line1",
    "policy_core.insured_party.address.line2",
    "policy_core.insured_party.address.city",
    "policy_core.insured_party.address.state",
    "policy_core.insured_party.address.postal_code",
    "policy_core.insured_party.address.country",
    "policy_core.insured_party.email",
    "policy_core.insured_party.phone",
    "policy_core.agent_info.agent_id",
    "policy_core.agent_info.name",
    "policy_core.agent_info.agency",
    "coverage_sections[].coverage_id",
    "coverage_sections[].coverage_type",
    "coverage_sections[].limits.per_occurrence",
    "coverage_sections[].limits.aggregate",
    "coverage_sections[].deductibles.amount",
    "coverage_sections[].effective_date",
    "coverage_sections[].expiration_date",
    "rating_components.premium_amount",
    "rating_components.premium_frequency",
    "rating_components.last_rated_date",
    "payments.payment_plan",
    "payments.billing_frequency",
    "payments.outstanding_balance",
    "endorsements[].endorsement_id",
    "endorsements[].endorsement_type",
    "endorsements[].effective_date",
    "endorsements[].changes",
]


def test_catalogue_has_every_section_8_field() -> None:
    paths = {f.path for f in fields("policy_v1")}
    assert set(SECTION_8_PATHS) <= paths
    prefixes = (
        "rating_components.rating_factors[].",
        "rating_components.calculations[].",
        "payments.payment_history[].",
        "correspondence.documents[].",
        "correspondence.communications[].",
        "correspondence.notices[].",
        "claims_links[].",
    )
    for prefix in prefixes:
        assert any(p.startswith(prefix) for p in paths), prefix


def test_catalogue_entries_are_described_and_typed() -> None:
    for field in fields("policy_v1"):
        assert len(field.description) > 30, field.path
    policy_id = field_by_path("policy_core.policy_id")
    assert policy_id is not None and policy_id.mandatory and "POL NBR" in policy_id.description
    occ = field_by_path("coverage_sections[].limits.per_occurrence")
    assert occ is not None
    assert (occ.type, occ.list_path, occ.relative_path) == (
        "decimal",
        "coverage_sections",
        "limits.per_occurrence",
    )
    assert occ.component == "coverage_sections" and occ.decimal_places == 2
    status = field_by_path("policy_core.status")
    assert status is not None and status.allowed_values == (
        "active",
        "inactive",
        "pending",
        "cancelled",
        "expired",
    )
    coverage_type = field_by_path("coverage_sections[].coverage_type")
    assert coverage_type is not None and coverage_type.required and not coverage_type.mandatory
    assert coverage_type.allowed_values is not None and "other" in coverage_type.allowed_values
    assert field_by_path("policy_core.nope") is None


def test_registry_lists_and_fetches_versions() -> None:
    assert [v.version for v in list_versions()][:2] == ["policy_v1", "policy_v2"]
    assert get_model("policy_v1") is CanonicalPolicyV1
    with pytest.raises(NotFoundError, match="policy_v9"):
        get_model("policy_v9")
    with pytest.raises(InputError, match="already registered"):
        register_model("policy_v1", get_model("policy_v2"), schema_id="x", title="x")
    # registering the same class again is a harmless no-op
    register_model("policy_v1", CanonicalPolicyV1, schema_id="canonical://policy/v1", title="t")
    assert mandatory_paths("policy_v2") == mandatory_paths("policy_v1")


def test_json_schema_export_has_id_and_mandatory_fields() -> None:
    schema = json_schema("policy_v1")
    assert schema["$id"] == "canonical://policy/v1"
    assert schema["$schema"].endswith("2020-12/schema")
    assert schema["required"] == ["policy_core"]
    core = schema["$defs"]["PolicyCore"]
    assert core["required"] == ["policy_id", "status", "effective_date"]
    assert core["additionalProperties"] is False
    assert core["properties"]["status"]["enum"] == [
        "active",
        "inactive",
        "pending",
        "cancelled",
        "expired",
    ]
    json.dumps(schema)  # serialisable as-is
    assert json_schema("policy_v2")["$id"] == "canonical://policy/v2"


def test_v2_catalogue_evolves_v1() -> None:
    v1 = {f.path for f in fields("policy_v1")}
    v2 = {f.path for f in fields("policy_v2")}
    assert v2 - v1 == {"policy_core.channel", "rating_components.written_premium"}
    assert v1 - v2 == {"rating_components.premium_amount"}
