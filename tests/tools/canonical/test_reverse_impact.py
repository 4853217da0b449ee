"""map_from_canonical (JSON Schema and SQL DDL) and the impact of a mapping change."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from core.errors import InputError
from core.settings import Settings
from tests.tools.canonical.helpers import BASE_RULES, MakeSource, policy_table
from tools.canonical import (
    approve_mapping,
    assess_mapping_change,
    create_mapping,
    map_from_canonical,
    update_field_mapping,
)

RECORDS = [
    {
        "policy_core": {
            "policy_id": "P1",
            "status": "active",
            "effective_date": dt.date(2024, 1, 1),
            "insured_party": {"name": "Ann Lee", "address": {"state": "CA"}},
        },
        "coverage_sections": [
            {"coverage_type": "auto", "limits": {"per_occurrence": Decimal("5")}},
            {"coverage_type": "property"},
        ],
        "rating_components": {"premium_amount": Decimal("120.50")},
    },
    {
        "policy_core": {
            "policy_id": "P2",
            "status": "expired",
            "effective_date": dt.date(2020, 5, 1),
        }
    },
]


def test_json_schema_target_by_name() -> None:
    schema = {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "policy_id": {"type": "string"},
                "state": {"type": "string"},
                "effective_date": {"type": "string", "format": "date"},
                "premium_amount": {"type": "number"},
                "coverage_type": {"type": "string"},
                "coverage_types": {"type": "array"},
                "favourite_colour": {"type": "string"},
            },
        },
    }
    result = map_from_canonical(
        RECORDS, schema, correspondence={"coverage_types": "coverage_sections[].coverage_type"}
    )
    sources = {c.name: c.source for c in result.columns}
    assert sources["state"] == "policy_core.insured_party.address.state"
    assert sources["policy_id"] == "policy_core.policy_id"
    assert result.unmatched == ["favourite_colour"]
    first = result.records[0]
    assert first["premium_amount"] == Decimal("120.50")
    assert first["coverage_type"] == "auto"  # first item for a scalar column
    assert first["coverage_types"] == ["auto", "property"]
    assert first["effective_date"] == dt.date(2024, 1, 1)
    assert result.records[1]["state"] is None


def test_sql_ddl_target_with_explicit_map() -> None:
    ddl = """-- target table
    CREATE TABLE IF NOT EXISTS "tgt_policy" (
      "POLICY_NO" VARCHAR(20) NOT NULL,
      status CHAR(10),
      eff_dt DATE,
      premium NUMERIC(12, 2),
      limit_cents BIGINT,
      loaded_at TIMESTAMP,
      PRIMARY KEY ("POLICY_NO")
    );"""
    result = map_from_canonical(
        RECORDS,
        ddl,
        correspondence={
            "POLICY_NO": "policy_core.policy_id",
            "eff_dt": "policy_core.effective_date",
            "premium": "rating_components.premium_amount",
            "limit_cents": "coverage_sections[].limits.per_occurrence",
        },
    )
    assert [c.type for c in result.columns] == [
        "string",
        "string",
        "date",
        "number",
        "integer",
        "datetime",
    ]
    assert result.records[0] == {
        "POLICY_NO": "P1",
        "status": "active",
        "eff_dt": dt.date(2024, 1, 1),
        "premium": Decimal("120.50"),
        "limit_cents": 5,
        "loaded_at": None,
    }
    assert result.unmatched == ["loaded_at"]


def test_bad_target_schemas() -> None:
    with pytest.raises(InputError, match="no CREATE TABLE"):
        map_from_canonical(RECORDS, "SELECT 1")
    with pytest.raises(InputError, match="unknown SQL type 'GEOMETRY'"):
        map_from_canonical(RECORDS, "CREATE TABLE t (a GEOMETRY)")
    with pytest.raises(InputError, match="no properties"):
        map_from_canonical(RECORDS, json.dumps({"type": "object"}))
    with pytest.raises(InputError, match="does not exist"):
        map_from_canonical(
            RECORDS,
            {"properties": {"a": {"type": "string"}}},
            correspondence={"a": "policy_core.nope"},
        )
    with pytest.raises(InputError, match="not a whole number"):
        map_from_canonical(RECORDS, "CREATE TABLE t (premium_amount INTEGER)")


def test_change_impact_counts_policies_and_fields(
    engine: Engine, settings: Settings, make_source: MakeSource
) -> None:
    source_id = make_source(policy_table(300, bad_every=10))
    info = create_mapping(engine, source_id, BASE_RULES)
    approve_mapping(engine, info.mapping_id)
    # v2: status ZZ becomes pending (fixes 30 records), state no longer mapped.
    update_field_mapping(
        engine,
        info.mapping_id,
        "policy_core.status",
        transform={"kind": "code", "table": "policy_status", "values": {"ZZ": "pending"}},
    )
    update_field_mapping(
        engine, info.mapping_id, "policy_core.insured_party.address.state", source=None
    )
    impact = assess_mapping_change(engine, settings, info.mapping_id, 1, 2)
    assert impact.records == 300
    assert impact.field_changes == {
        "policy_core.status": 30,
        "policy_core.insured_party.address.state": 300,
    }
    assert impact.changed_records == 300
    assert impact.became_valid == 0 and impact.became_invalid == 0  # premiums still negative
    assert impact.sample_policy_ids[:2] == ["P0000000", "P0000001"]
    assert {c.target for c in impact.diff.changes} == {
        "policy_core.status",
        "policy_core.insured_party.address.state",
    }
    same = assess_mapping_change(engine, settings, info.mapping_id, 1, 1)
    assert same.changed_records == 0 and same.field_changes == {}


def test_change_impact_on_list_items(
    engine: Engine, settings: Settings, make_source: MakeSource
) -> None:
    source_id = make_source(policy_table(40))
    info = create_mapping(engine, source_id, BASE_RULES)
    update_field_mapping(
        engine,
        info.mapping_id,
        "coverage_sections[].coverage_type",
        transform={"kind": "code", "values": {"AUTO": "auto", "HO": "liability"}},
    )
    approve_mapping(engine, info.mapping_id)
    info2 = update_field_mapping(
        engine,
        info.mapping_id,
        "coverage_sections[].coverage_type",
        transform={"kind": "code", "table": "line_of_business"},
    )
    impact = assess_mapping_change(engine, settings, info.mapping_id, 1, info2.version)
    assert impact.field_changes == {"coverage_sections[].coverage_type": 20}
    assert impact.became_valid == 0 and impact.changed_records == 20
