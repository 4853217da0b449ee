"""Each status vocabulary is one enum whose values are the strings already stored.

A drifted value (an enum member renamed to ``"approve"``, a code path writing ``"Approved"``)
would leave rows that no longer parse, or compare unequal where a bare string once matched. So:
the values are pinned; what a real approval stores in SQLite and PostgreSQL is read back raw and
must be a plain string of its enum; the contract models and the journey runner refuse a value
outside the vocabulary; and the MCP output schema offers exactly the enum's values.
"""

from __future__ import annotations

import json
from enum import StrEnum

import anyio
import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, select

from core.settings import Settings
from core.statuses import (
    AssemblyStatus,
    JourneyStatus,
    MappingStatus,
    RelationshipsStatus,
    RuleStatus,
    WaveState,
)
from core.store.models import AuditEntry, MappingVersionRow
from servers.canonical import build_server
from tests.tools.canonical.helpers import BASE_RULES, policy_table, stage_source
from tools.assembly.contracts import AssemblySpec, RelateResult
from tools.canonical import approve_mapping, create_mapping, get_mapping, update_field_mapping
from tools.canonical.spec import FieldRule, MappingInfo
from tools.health.contracts import HealthStatus
from tools.sync.contracts import ChangeState, ConflictState

#: The stored (or shown) strings; changing one strands every row written before.
PINNED: dict[type[StrEnum], set[str]] = {
    WaveState: {
        "pending",
        "running",
        "failed",
        "cancelled",
        "compensating",
        "compensated",
        "completed",
    },
    MappingStatus: {"draft", "approved"},
    RuleStatus: {"proposed", "confirmed", "unmapped"},
    AssemblyStatus: {"draft", "approved"},
    RelationshipsStatus: {"proposed", "confirmed"},
    JourneyStatus: {"running", "waiting", "done", "stopped"},
    HealthStatus: {"pass", "warn", "fail"},
    ChangeState: {"pending", "applied"},
    ConflictState: {"open", "resolved"},
}


@pytest.mark.parametrize("vocabulary", list(PINNED), ids=lambda v: v.__name__)
def test_each_vocabulary_keeps_its_stored_strings(vocabulary: type[StrEnum]) -> None:
    assert {m.value for m in vocabulary} == PINNED[vocabulary]
    assert all(m == m.value and json.dumps(m) == json.dumps(m.value) for m in vocabulary)


def _raw(value: object) -> str:
    """``value`` as the driver returned it: a plain ``str``, not the enum."""
    assert type(value) is str, f"{value!r} came back as {type(value).__name__}"
    return value


def test_mapping_statuses_round_trip_as_plain_enum_values(
    store: Engine, store_settings: Settings
) -> None:
    source_id = stage_source(store, store_settings, policy_table(20), name="polmast")
    draft = create_mapping(store, source_id, BASE_RULES)
    edited = update_field_mapping(
        store, draft.mapping_id, "policy_core.insured_party.name", source=None
    )
    edited = update_field_mapping(
        store, draft.mapping_id, "policy_core.insured_party.address.state", source="ST"
    )
    approved = approve_mapping(store, draft.mapping_id)
    assert approved.status is MappingStatus.APPROVED

    with store.connect() as conn:
        rows = conn.execute(
            select(MappingVersionRow.status, MappingVersionRow.rules)  # type: ignore[call-overload]
        ).all()
        outcomes = conn.execute(
            select(AuditEntry.status).where(AuditEntry.namespace == "canonical")  # type: ignore[call-overload,arg-type]
        ).all()
    assert {MappingStatus(_raw(status)) for status, _ in rows} == {MappingStatus.APPROVED}
    stored_rules = [
        r for _, rules in rows for r in (json.loads(rules) if isinstance(rules, str) else rules)
    ]
    seen = {RuleStatus(_raw(r["status"])) for r in stored_rules}
    assert seen == set(RuleStatus)  # proposed, confirmed (the edit) and unmapped (the removal)
    assert {_raw(s) for (s,) in outcomes} == {"ok"}

    again = get_mapping(store, draft.mapping_id)
    assert again == approved and type(again.status) is MappingStatus
    assert all(type(r.status) is RuleStatus for r in again.rules)
    assert edited.rule_for("policy_core.insured_party.address.state").status == "confirmed"


def _mapping_doc(**status: str) -> dict[str, object]:
    rule = {"source": "POL_NO", "target": "policy_core.policy_id", "status": "proposed"}
    return {
        "mapping_id": "map_1",
        "tenant": "default",
        "source_id": "src_1",
        "canonical": "v1",
        "version": 1,
        "status": "draft",
        "rules": [rule | {"status": status.get("rule", "proposed")}],
        "latest_version": 1,
        "approved_version": None,
        "created_at": "2026-01-01T00:00:00Z",
    } | {k: v for k, v in status.items() if k != "rule"}


def test_the_contract_models_parse_known_statuses_and_refuse_others() -> None:
    info = MappingInfo.model_validate(_mapping_doc(status="approved", rule="unmapped"))
    assert info.status is MappingStatus.APPROVED and info.rules[0].status is RuleStatus.UNMAPPED
    assert json.loads(info.model_dump_json())["status"] == "approved"
    with pytest.raises(ValidationError, match="status"):
        MappingInfo.model_validate(_mapping_doc(status="Approved"))
    with pytest.raises(ValidationError, match="status"):
        FieldRule.model_validate({"target": "policy_core.policy_id", "status": "accepted"})
    with pytest.raises(ValidationError, match="status"):
        RelateResult.model_validate({"sources": [], "relationships": [], "status": "stored"})
    spec = AssemblySpec.model_json_schema()
    assert spec["$defs"]["AssemblyStatus"]["enum"] == ["draft", "approved"]
    assert spec["$defs"]["MappingStatus"]["enum"] == ["draft", "approved"]  # component's mapping
    with pytest.raises(ValueError, match="'finished' is not a valid JourneyStatus"):
        JourneyStatus("finished")  # what the runner does with a checkpoint's status


def test_mcp_output_schemas_offer_exactly_the_enum_values(settings: Settings) -> None:
    tools = {t.name: t for t in anyio.run(build_server(settings).list_tools)}
    mapping = tools["approve_mapping"].outputSchema
    assembly = tools["propose_assembly"].outputSchema
    assert mapping is not None and assembly is not None
    assert mapping["$defs"]["MappingStatus"]["enum"] == [m.value for m in MappingStatus]
    assert mapping["$defs"]["RuleStatus"]["enum"] == [m.value for m in RuleStatus]
    assert assembly["$defs"]["AssemblyStatus"]["enum"] == [m.value for m in AssemblyStatus]
