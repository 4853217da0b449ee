"""Bulk mapping: counts, canonical Parquet, quarantine with every error, resume, validation."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine

from core.errors import InputError
from core.settings import Settings
from knowledge.canonical import arrow_schema, validate_record
from tests.tools.canonical.helpers import BASE_RULES, MakeSource, policy_table
from tools.audit import AuditLog
from tools.canonical import (
    approve_mapping,
    canonical_records,
    create_mapping,
    map_to_canonical,
    read_canonical,
    read_quarantine,
    update_field_mapping,
    validate_records,
)

ROWS, BAD_EVERY = 1000, 10


@pytest.fixture
def settings(workspace) -> Settings:  # type: ignore[no-untyped-def]
    return Settings(home=workspace, batch_size=100)  # several batches


@pytest.fixture
def mapping_id(engine: Engine, make_source: MakeSource) -> str:
    source_id = make_source(policy_table(ROWS, bad_every=BAD_EVERY), part_rows=333)
    info = create_mapping(engine, source_id, BASE_RULES)
    return approve_mapping(engine, info.mapping_id).mapping_id


def test_maps_every_record_and_quarantines_with_every_error(
    engine: Engine, settings: Settings, mapping_id: str
) -> None:
    seen: list[tuple[int, int]] = []
    result = map_to_canonical(
        engine, settings, mapping_id, progress=lambda d, t: seen.append((d, t))
    )
    bad = ROWS // BAD_EVERY
    assert (result.records, result.valid, result.invalid) == (ROWS, ROWS - bad, bad)
    assert result.batches == 10 and result.resumed_batches == 0 and seen[-1] == (ROWS, ROWS)
    assert result.field_errors == {
        "policy_core.status": bad,
        "rating_components.premium_amount": bad,
    }
    records = list(canonical_records(settings, mapping_id, 1, tenant="default"))
    assert len(records) == ROWS - bad
    assert all(validate_record(r) for r in records[:50])  # what was written is valid
    first = records[0]
    assert first["policy_core"]["status"] == "active"
    assert first["coverage_sections"][0]["coverage_type"] == "auto"
    assert str(first["rating_components"]["premium_amount"]) == "100.00"
    batch = next(read_canonical(settings, mapping_id, 1, tenant="default"))
    assert batch.schema.equals(arrow_schema("policy_v1"), check_metadata=False)
    quarantined = read_quarantine(settings, mapping_id, 1, tenant="default", limit=1000)
    assert len(quarantined) == bad
    assert quarantined[0]["row"] == BAD_EVERY - 1
    assert quarantined[0]["policy_id"] == f"P{BAD_EVERY - 1:07d}"
    assert [e["path"] for e in quarantined[0]["errors"]] == [
        "policy_core.status",
        "rating_components.premium_amount",
    ]
    assert "'ZZ' is not one of" in quarantined[0]["errors"][0]["message"]
    assert '"PREM_CENTS": -500' in quarantined[0]["source_record"]


def test_resume_after_a_crash_does_not_duplicate(
    engine: Engine, settings: Settings, mapping_id: str
) -> None:
    def crash(done: int, _total: int) -> None:
        if done >= 400:
            raise RuntimeError("power cut")

    with pytest.raises(RuntimeError, match="power cut"):
        map_to_canonical(engine, settings, mapping_id, progress=crash)
    folder = settings.path("canonical", "default", mapping_id, "v1")
    assert len(list(folder.glob("part-*.parquet"))) == 4
    result = map_to_canonical(engine, settings, mapping_id)
    assert result.resumed_batches == 4 and result.batches == 10
    assert (result.records, result.valid, result.invalid) == (ROWS, 900, 100)
    ids = [
        r["policy_core"]["policy_id"]
        for r in canonical_records(settings, mapping_id, 1, tenant="default")
    ]
    assert len(ids) == len(set(ids)) == 900
    quarantined = sum(
        pq.read_metadata(p).num_rows for p in (folder / "quarantine").glob("part-*.parquet")
    )
    assert quarantined == 100
    log = AuditLog(engine)
    batches = [e for e in log.replay(namespace="canonical") if e.operation == "map_batch"]
    assert len(batches) == 10 and all(e.status == "ok" for e in batches)
    assert batches[0].idempotency_key == f"map:{mapping_id}:1:0"
    assert log.trail("P0000005")[-1].operation == "map_batch"
    again = map_to_canonical(engine, settings, mapping_id)  # a completed run is not redone
    assert again.valid == 900 and again.resumed_batches == 10


def test_validate_records_writes_nothing_and_checks_drafts(
    engine: Engine, settings: Settings, mapping_id: str
) -> None:
    draft = update_field_mapping(
        engine,
        mapping_id,
        "policy_core.status",
        transform={"kind": "code", "table": "policy_status", "values": {"ZZ": "pending"}},
    )
    report = validate_records(engine, settings, mapping_id)
    assert report.version == draft.version == 2
    assert (report.valid, report.invalid) == (900, 100)
    assert report.field_errors == {"rating_components.premium_amount": 100}
    assert report.errors[0].message == "-5 must be greater than or equal to 0"
    approved = validate_records(engine, settings, mapping_id, version=1, limit=50)
    assert (approved.records, approved.invalid) == (50, 5)
    assert not settings.path("canonical").exists()


def test_draft_mapping_cannot_run(
    engine: Engine, settings: Settings, make_source: MakeSource
) -> None:
    info = create_mapping(engine, make_source(policy_table(10)), BASE_RULES)
    with pytest.raises(InputError, match="no approved version"):
        map_to_canonical(engine, settings, info.mapping_id)
