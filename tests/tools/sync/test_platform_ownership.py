"""What the new platform holds decides what sync does there: a legacy policy no wave placed on
the platform is not created there by a sync; a rolled-back wave's policies go back to legacy
(ledger) and a later legacy change does not bring them back; the anti-entropy sweep compares
the platform's own tables (drift injected into them is found and carried to legacy)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update

from core.settings import Settings
from tests.tools.sync.test_platform_tables import CITY, FEED, Migrated
from tools.sync.capture import LegacyCapture
from tools.sync.contracts import Owner
from tools.sync.ledger import OwnershipLedger
from tools.sync.relay import legacy_drop_dir
from tools.sync.service import run_sync, sweep_new, sync_status
from tools.waves import rollback_wave


@pytest.fixture
def migrated(store: Engine, store_settings: Settings, tmp_path: Path) -> Migrated:
    settings = store_settings.model_copy(update={"embedding_provider": "none"})
    return Migrated(store, settings, tmp_path)


def _rows(migrated: Migrated, pid: str) -> int:
    table = migrated.target.table
    with migrated.target.engine.connect() as conn:
        query = select(func.count()).where(table.c.policy_core__policy_id == pid)
        return int(conn.execute(query).scalar_one())


def test_a_legacy_policy_no_wave_placed_stays_in_legacy(migrated: Migrated) -> None:
    book = dict(migrated.platform.documents())
    book["B000001"] = {**book["A000001"], "policy_core.policy_id": "B000001"}  # legacy's own
    capture = LegacyCapture(migrated.engine, migrated.settings, tenant="default")
    capture.capture("leg", migrated.extract("day0.csv", {}, book=book), FEED)
    report = run_sync(migrated.engine, migrated.settings, tenant="default")
    assert report.delivered_new == 0
    assert migrated.platform.document("B000001") is None
    assert _rows(migrated, "B000001") == 0
    assert OwnershipLedger(migrated.engine, tenant="default").owner_of("B000001") is None

    changes = {"B000001": {CITY: "Ulm"}}
    capture.capture("leg", migrated.extract("day1.csv", changes, book=book), None)
    again = run_sync(migrated.engine, migrated.settings, tenant="default")
    assert (again.apply.applied, again.delivered_new) == (1, 0)
    assert migrated.platform.document("B000001") is None
    assert sync_status(migrated.engine, tenant="default").backlog == 0


def test_a_rolled_back_waves_policy_is_not_recreated_by_a_legacy_change(
    migrated: Migrated,
) -> None:
    book = dict(migrated.platform.documents())
    capture = LegacyCapture(migrated.engine, migrated.settings, tenant="default")
    capture.capture("leg", migrated.extract("day0.csv", {}, book=book), FEED)
    run_sync(migrated.engine, migrated.settings, tenant="default")
    ledger = OwnershipLedger(migrated.engine, tenant="default")
    assert (ledger.owner_of("A000004") or pytest.fail("no entry")).owner is Owner.NEW

    assert rollback_wave(migrated.context, migrated.wave_id).status == "compensated"
    assert migrated.target.count(migrated.wave_id) == 0
    # legacy, the system of record again, changes one of the wave's policies
    changes = {"A000004": {CITY: "Ulm"}}
    capture.capture("leg", migrated.extract("day1.csv", changes, book=book), None)
    report = run_sync(migrated.engine, migrated.settings, tenant="default")
    assert report.released is not None and report.released.policies == 12
    assert report.released.waves == [migrated.wave_id]
    assert (report.apply.from_legacy, report.delivered_new) == (1, 0)
    entry = ledger.owner_of("A000004")
    assert entry is not None and entry.owner is Owner.LEGACY
    assert entry.reason == f"wave {migrated.wave_id} rolled back"
    assert migrated.platform.document("A000004") is None
    assert dict(migrated.platform.documents()) == {}
    assert _rows(migrated, "A000004") == 0

    quiet = run_sync(migrated.engine, migrated.settings, tenant="default")
    assert quiet.released is None and quiet.delivered_new == 0
    assert migrated.platform.document("A000004") is None


def test_the_sweep_finds_drift_in_the_platforms_tables_and_carries_it(
    migrated: Migrated,
) -> None:
    capture = LegacyCapture(migrated.engine, migrated.settings, tenant="default")
    capture.capture("leg", migrated.extract("day0.csv", {}), FEED)
    run_sync(migrated.engine, migrated.settings, tenant="default")
    settings = migrated.settings
    clean = sweep_new(migrated.engine, tenant="default", settings=settings)
    assert (clean.compared, clean.drifted) == (12, 0)  # "100.50" read back is no drift

    # the platform's own tables change behind data-mash's back: a city, a coverage row
    table = migrated.target.table
    [coverage] = [c.table for c in migrated.target.components if c.table.name == "coverage"]
    with migrated.target.engine.begin() as conn:
        conn.execute(
            update(table)
            .where(table.c.policy_core__policy_id == "A000006")
            .values(policy_core__insured_party__address__city="Essen")
        )
        conn.execute(
            coverage.delete().where(coverage.c.policy_id == "A000003", coverage.c.item_no == 2)
        )
    swept = sweep_new(migrated.engine, tenant="default", settings=settings)
    assert (swept.drifted, swept.repaired) == (2, 2)
    assert (migrated.platform.document("A000006") or {})[CITY] == "Essen"
    assert "coverage_sections[C3-2].coverage_id" not in (
        migrated.platform.document("A000003") or {}
    )

    report = run_sync(migrated.engine, migrated.settings, tenant="default")
    assert report.delivered_legacy == 2 and report.delivered_new == 0
    corrections = "".join(
        p.read_text() for p in sorted(legacy_drop_dir(settings, "default").glob("*.jsonl"))
    )
    assert '"Essen"' in corrections and "C3-2" in corrections
    assert sweep_new(migrated.engine, tenant="default", settings=settings).drifted == 0
    assert migrated.policy_row("A000006").policy_core__insured_party__address__city == "Essen"


def test_the_sweep_leaves_a_wave_sync_does_not_follow_alone(
    store: Engine, store_settings: Settings, tmp_path: Path
) -> None:
    settings = store_settings.model_copy(update={"embedding_provider": "none"})
    migrated = Migrated(store, settings, tmp_path, adopt=False)  # wave run, never adopted
    swept = sweep_new(store, tenant="default", settings=settings)
    assert (swept.compared, swept.drifted, swept.repaired) == (0, 0, 0)
    assert dict(migrated.platform.documents()) == {}
    assert sync_status(store, tenant="default").pending_changes == 0
