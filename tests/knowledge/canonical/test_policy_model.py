from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from core.errors import InputError
from knowledge.canonical import (
    CanonicalPolicyV1,
    get_model,
    mandatory_paths,
    validate_record,
    validation_errors,
)


def test_full_record_validates(full_record: dict[str, Any]) -> None:
    policy = CanonicalPolicyV1.model_validate(full_record)
    assert policy.policy_core.policy_id == "0012345678"
    assert policy.policy_core.effective_date == dt.date(2024, 1, 1)
    assert policy.coverage_sections[1].limits is not None
    assert policy.coverage_sections[1].limits.aggregate == Decimal("600000")
    assert policy.payments is not None
    assert policy.payments.payment_history[1].amount == Decimal("-102.88")
    assert validation_errors(full_record) == []


def test_minimal_record_needs_only_mandatory_fields() -> None:
    record = {
        "policy_core": {"policy_id": "1", "status": "pending", "effective_date": "2024-05-01"}
    }
    assert validation_errors(record) == []
    assert mandatory_paths("policy_v1") == [
        "policy_core.policy_id",
        "policy_core.status",
        "policy_core.effective_date",
    ]


def test_model_is_frozen(full_record: dict[str, Any]) -> None:
    policy = CanonicalPolicyV1.model_validate(full_record)
    with pytest.raises(ValidationError):
        policy.policy_core.status = "cancelled"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        policy.coverage_sections = ()  # type: ignore[misc]


def test_every_field_error_is_listed_with_its_path(full_record: dict[str, Any]) -> None:
    core = full_record["policy_core"]
    core["status"] = "ACTIVE"
    del core["effective_date"]
    core["insured_party"]["address"]["country"] = "USA"
    core["insured_party"]["email"] = "not-an-email"
    core["insured_party"]["nickname"] = "JQ"
    full_record["coverage_sections"][0]["coverage_type"] = "fire"
    full_record["coverage_sections"][1]["limits"]["per_occurrence"] = "-5"
    full_record["coverage_sections"][0]["deductibles"]["amount"] = "10.005"
    full_record["payments"]["payment_history"][0]["payment_date"] = 20240101
    full_record["endorsements"][0]["endorsement_id"] = None

    errors = validation_errors(full_record)
    by_path = {e.path: e for e in errors}

    assert set(by_path) == {
        "policy_core.status",
        "policy_core.effective_date",
        "policy_core.insured_party.address.country",
        "policy_core.insured_party.email",
        "policy_core.insured_party.nickname",
        "coverage_sections[0].coverage_type",
        "coverage_sections[1].limits.per_occurrence",
        "coverage_sections[0].deductibles.amount",
        "payments.payment_history[0].payment_date",
        "endorsements[0].endorsement_id",
    }
    assert by_path["policy_core.effective_date"].kind == "missing"
    assert (
        by_path["coverage_sections[0].coverage_type"].field == "coverage_sections[].coverage_type"
    )
    assert "YYYYMMDD" in by_path["payments.payment_history[0].payment_date"].message
    assert "unknown field" in by_path["policy_core.insured_party.nickname"].message


def test_cross_field_checks_name_the_field(full_record: dict[str, Any]) -> None:
    full_record["policy_core"]["expiration_date"] = "2023-06-30"
    full_record["coverage_sections"][1]["limits"] = {"per_occurrence": "500000", "aggregate": "100"}
    full_record["coverage_sections"][0]["expiration_date"] = "2023-01-01"

    errors = {e.path: e for e in validation_errors(full_record)}

    assert set(errors) == {
        "policy_core.expiration_date",
        "coverage_sections[1].limits.aggregate",
        "coverage_sections[0].expiration_date",
    }
    message = errors["policy_core.expiration_date"].message
    assert "2023-06-30 is before effective_date 2024-01-01" in message
    assert errors["coverage_sections[1].limits.aggregate"].kind == "limit_order"


def test_validate_record_raises_one_input_error_naming_the_policy(
    full_record: dict[str, Any],
) -> None:
    full_record["policy_core"]["status"] = "X"
    with pytest.raises(InputError) as info:
        validate_record(full_record)
    assert "policy 0012345678" in str(info.value)
    assert "policy_core.status" in str(info.value)
    assert validate_record(
        {"policy_core": {"policy_id": "9", "status": "expired", "effective_date": "2020-01-01"}}
    )


def test_padding_is_stripped_and_leading_zeros_kept() -> None:
    model = get_model("policy_v1")
    policy = model.model_validate(
        {
            "policy_core": {
                "policy_id": "  000123 ",
                "status": "active",
                "effective_date": "2024-01-01",
            }
        }
    )
    assert policy.policy_core.policy_id == "000123"  # type: ignore[attr-defined]
