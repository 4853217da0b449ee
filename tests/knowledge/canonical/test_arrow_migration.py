from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.errors import InputError, NotFoundError
from knowledge.canonical import (
    CanonicalPolicyV1,
    CanonicalPolicyV2,
    arrow_schema,
    arrow_to_records,
    migrate_record,
    migration_path,
    records_to_arrow,
    validation_errors,
)


def test_arrow_schema_follows_the_column_convention() -> None:
    schema = arrow_schema("policy_v1")
    assert schema.field("policy_core.policy_id").type == pa.string()
    assert schema.field("policy_core.insured_party.address.state").type == pa.string()
    assert schema.field("policy_core.effective_date").type == pa.date32()
    assert schema.field("rating_components.premium_amount").type == pa.decimal128(18, 2)
    coverage = schema.field("coverage_sections").type
    assert isinstance(coverage, pa.ListType)
    struct = coverage.value_type
    assert struct.field("limits.per_occurrence").type == pa.decimal128(18, 2)
    assert struct.field("coverage_type").type == pa.string()
    history = schema.field("payments.payment_history").type.value_type
    assert history.field("payment_date").type == pa.date32()
    assert "coverage_sections.coverage_id" not in schema.names
    assert schema.metadata[b"canonical_version"] == b"policy_v1"


def test_arrow_round_trip_through_parquet(full_record: dict[str, Any], tmp_path: Path) -> None:
    minimal = {
        "policy_core": {"policy_id": "2", "status": "expired", "effective_date": "2019-01-01"}
    }
    models = [CanonicalPolicyV1.model_validate(r) for r in (full_record, minimal)]
    table = records_to_arrow(models)
    assert table.num_rows == 2 and table.schema == arrow_schema("policy_v1")

    path = tmp_path / "canonical.parquet"
    pq.write_table(table, path)
    back = list(arrow_to_records(pq.read_table(path)))

    assert [CanonicalPolicyV1.model_validate(r) for r in back] == models
    assert back[1]["policy_core"]["insured_party"] is None
    assert back[1]["coverage_sections"] == []
    assert back[0]["coverage_sections"][1]["deductibles"] is None
    assert back[0]["coverage_sections"][0]["limits"]["per_occurrence"] == Decimal("350000.00")


def test_records_to_arrow_accepts_json_shaped_dicts(full_record: dict[str, Any]) -> None:
    table = records_to_arrow([full_record])
    row = table.to_pylist()[0]
    assert row["policy_core.insured_party.address.postal_code"] == "02134"
    assert row["coverage_sections"][1]["limits.aggregate"] == Decimal("600000")
    assert row["rating_components.rating_factors"][0]["factor"] == Decimal("1.125")


def test_records_to_arrow_names_the_bad_value(full_record: dict[str, Any]) -> None:
    full_record["policy_core"]["issue_date"] = "15/12/2023"
    with pytest.raises(InputError, match=r"record 0, field policy_core.issue_date"):
        records_to_arrow([full_record])
    full_record["policy_core"]["issue_date"] = None
    full_record["payments"]["outstanding_balance"] = "1.005"
    with pytest.raises(InputError, match="payments.outstanding_balance"):
        records_to_arrow([full_record])


def test_arrow_to_records_rejects_foreign_tables() -> None:
    with pytest.raises(InputError, match="lacks canonical policy_v1 columns"):
        list(arrow_to_records(pa.table({"POL_NO": ["1"]}), "policy_v1"))


def test_v1_to_v2_migration(full_record: dict[str, Any]) -> None:
    migrated = migrate_record(full_record, "policy_v1", "policy_v2")

    assert "premium_amount" not in migrated["rating_components"]
    assert migrated["rating_components"]["written_premium"] == "1234.56"
    assert migrated["policy_core"]["channel"] is None
    assert full_record["rating_components"]["premium_amount"] == "1234.56"  # input untouched
    assert validation_errors(migrated, "policy_v2") == []
    assert validation_errors(migrated, "policy_v1") != []  # v1 knows no written_premium
    v2 = CanonicalPolicyV2.model_validate(migrated)
    assert v2.rating_components is not None
    assert v2.rating_components.written_premium == Decimal("1234.56")


def test_migration_of_models_and_arrow_in_v2(full_record: dict[str, Any]) -> None:
    v1 = CanonicalPolicyV1.model_validate(full_record)
    v2 = CanonicalPolicyV2.model_validate(migrate_record(v1))
    table = records_to_arrow([v2], "policy_v2")
    assert "policy_core.channel" in table.column_names
    assert [CanonicalPolicyV2.model_validate(r) for r in arrow_to_records(table)] == [v2]


def test_migration_paths() -> None:
    assert migration_path("policy_v1", "policy_v2") == ["policy_v1", "policy_v2"]
    assert migration_path("policy_v2", "policy_v2") == ["policy_v2"]
    with pytest.raises(NotFoundError, match="no migration from policy_v2 to policy_v1"):
        migrate_record({}, "policy_v2", "policy_v1")
    mixed = {"rating_components": {"premium_amount": "1", "written_premium": "2"}}
    with pytest.raises(InputError, match="both premium_amount"):
        migrate_record(mixed)
