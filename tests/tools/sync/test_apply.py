"""Applying changes: field by field against the base, conflicts by policy or queued, merged
values to both sides, no echo, no lost one-sided update, HLC order under clock skew."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from core.settings import Settings
from core.store.models import AuditEntry, SyncChangeRow, table_of
from tests.tools.sync.extracts import COLUMNS, LegacyBook, ingest, write_flat_extract
from tools.sync.capture import LegacyCapture
from tools.sync.clock import open_clock, wall_clock_ms
from tools.sync.conflicts import ConflictQueue, Take
from tools.sync.contracts import Owner
from tools.sync.ledger import OwnershipLedger
from tools.sync.platform import NewPlatform
from tools.sync.relay import legacy_drop_dir
from tools.sync.service import run_sync, sync_status

ENTRY, CHANGE = table_of(AuditEntry), table_of(SyncChangeRow)
CITY, STATUS, CARRIER, PREMIUM = (
    "policy_core.insured_party.address.city",
    "policy_core.status",
    "policy_core.carrier",
    "rating_components.premium_amount",
)


def _doc(pid: str) -> dict[str, Any]:
    return {
        "policy_core.policy_id": pid,
        STATUS: "active",
        CARRIER: "ACME",
        CITY: "Bonn",
        PREMIUM: 100,
        "coverage_sections[C1].coverage_id": "C1",
        "coverage_sections[C1].coverage_type": "life",
    }


class Estate:
    """Both sides and the sync between them, for one test."""

    def __init__(self, engine: Engine, settings: Settings, tmp: Path, n: int = 4) -> None:
        self.engine, self.settings, self.tmp = engine, settings, tmp
        self.legacy = LegacyBook({f"P{i}": _doc(f"P{i}") for i in range(n)})
        self.platform = NewPlatform(engine, tenant="default")
        self.capture = LegacyCapture(engine, settings, tenant="default")
        self.day = itertools.count()
        for pid, doc in self.legacy.docs.items():  # both systems hold the book at the start
            self.platform.write_policy(pid, doc)
        self.extract(COLUMNS)
        self.sync()

    def extract(self, columns: dict[str, str] | None = None) -> None:
        path = write_flat_extract(self.tmp / f"extract-{next(self.day)}.csv", self.legacy.docs)
        self.capture.capture("LEG", ingest(self.engine, self.settings, path), columns)

    def sync(self) -> Any:
        report = run_sync(self.engine, self.settings, tenant="default")
        self.legacy.load_corrections(legacy_drop_dir(self.settings, "default"))
        return report

    def edit_new(self, pid: str, **changes: Any) -> None:
        doc = self.platform.document(pid) or {}
        self.platform.write_policy(pid, {**doc, **changes})

    def both(self, pid: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
        return self.legacy.docs.get(pid, {}), self.platform.document(pid)


@pytest.fixture
def estate(store: Engine, store_settings: Settings, tmp_path: Path) -> Estate:
    settings = store_settings.model_copy(update={"embedding_provider": "none"})
    return Estate(store, settings, tmp_path)


def test_first_sync_agrees_on_the_book_both_sides_hold(estate: Estate) -> None:
    for pid in ("P0", "P3"):
        legacy, new = estate.both(pid)
        assert legacy == new == _doc(pid)
    status = sync_status(estate.engine, tenant="default")
    assert (status.backlog, status.conflicts) == (0, 0)


def test_a_legacy_policy_the_platform_does_not_hold_is_not_created_there(estate: Estate) -> None:
    # P8 is new in legacy and no wave placed it: it stays legacy's; a dual one goes to both
    ledger = OwnershipLedger(estate.engine, tenant="default")
    ledger.set_owner("P9", Owner.DUAL, reason="bridged")
    estate.legacy.docs["P8"], estate.legacy.docs["P9"] = _doc("P8"), _doc("P9")
    estate.legacy.docs["P0"][CITY] = "Ulm"
    estate.extract()
    report = estate.sync()
    assert report.delivered_new == 2  # P0's change and P9, not P8
    assert estate.platform.document("P8") is None
    assert ledger.owner_of("P8") is None  # no entry: legacy owns it
    assert estate.platform.document("P9") == _doc("P9")
    assert (estate.platform.document("P0") or {})[CITY] == "Ulm"
    estate.legacy.docs["P8"][CITY] = "Kiel"  # later changes of P8 stay in legacy too
    estate.extract()
    assert estate.sync().delivered_new == 0
    assert estate.platform.document("P8") is None
    assert sync_status(estate.engine, tenant="default").backlog == 0


def test_one_sided_changes_of_different_fields_both_survive(estate: Estate) -> None:
    # record-level last-writer-wins would revert the legacy city with the later platform write
    estate.legacy.docs["P0"][CITY] = "Köln"
    estate.extract()
    estate.edit_new("P0", **{CARRIER: "NEWCO"})
    report = estate.sync()
    assert report.apply.resolved == report.apply.queued == 0
    legacy, new = estate.both("P0")
    assert legacy == new and new is not None
    assert (new[CITY], new[CARRIER]) == ("Köln", "NEWCO")


def test_two_sided_fields_follow_the_policy_whatever_the_order(estate: Estate) -> None:
    OwnershipLedger(estate.engine, tenant="default").set_owner("P1", Owner.NEW, reason="wave 0")
    # status: cancelled beats active; premium: the owner (new) wins; legacy goes first here
    estate.legacy.docs["P1"][STATUS] = "cancelled"
    estate.legacy.docs["P1"][PREMIUM] = 111
    estate.extract()
    estate.edit_new("P1", **{STATUS: "pending", PREMIUM: 222})
    # and on P2 the platform goes first
    estate.edit_new("P2", **{STATUS: "cancelled"})
    estate.legacy.docs["P2"][STATUS] = "inactive"
    estate.extract()
    report = estate.sync()
    assert report.apply.resolved == 3 and report.apply.queued == 0
    for pid, status, premium in (("P1", "cancelled", 222), ("P2", "cancelled", 100)):
        legacy, new = estate.both(pid)
        assert legacy == new and new is not None
        assert (new[STATUS], new[PREMIUM]) == (status, premium)
    again = estate.sync()  # quiescent: nothing more to send, nothing recorded twice
    assert (again.delivered_new, again.delivered_legacy, again.apply.resolved) == (0, 0, 0)
    assert sync_status(estate.engine, tenant="default").conflicts_by_type == {
        "update_update": {"open": 0, "resolved": 3}
    }


def test_manual_conflict_is_queued_with_both_values_then_carried(estate: Estate) -> None:
    estate.legacy.docs["P3"]["coverage_sections[C1].coverage_type"] = "health"
    estate.extract()
    estate.edit_new("P3", **{"coverage_sections[C1].coverage_type": "property"})
    report = estate.sync()
    assert report.apply.queued == 1
    legacy, new = estate.both("P3")
    assert legacy["coverage_sections[C1].coverage_type"] == "health"  # each keeps its own value
    assert new is not None and new["coverage_sections[C1].coverage_type"] == "property"
    queue = ConflictQueue(estate.engine, tenant="default")
    [conflict] = queue.page().conflicts
    assert (conflict.base, conflict.legacy, conflict.new) == ("life", "health", "property")
    assert estate.sync().apply.queued == 0  # still the same conflict: not queued again
    queue.resolve(conflict.id, Take.VALUE, "liability")
    carried = estate.sync()
    assert carried.apply.resolutions == 1
    legacy, new = estate.both("P3")
    assert legacy == new and new is not None
    assert new["coverage_sections[C1].coverage_type"] == "liability"
    estate.extract()  # the legacy side now reports the decided value: nothing moves
    quiet = estate.sync()
    assert (quiet.delivered_new, quiet.delivered_legacy, quiet.apply.queued) == (0, 0, 0)


def test_newest_wins_by_hlc_when_the_platform_clock_runs_an_hour_behind(estate: Estate) -> None:
    real = NewPlatform(estate.engine, tenant="default")
    hour = 3_600_000
    skewed = NewPlatform(estate.engine, tenant="default")
    skewed._clock = open_clock(
        estate.engine, tenant="default", node="new-skewed", wall=lambda: wall_clock_ms() - hour
    )
    # both change the contact city; the legacy change is captured first
    estate.legacy.docs["P0"][CITY] = "Köln"
    estate.extract()
    # the skewed node then hears from sync (any merged value it receives carries a stamp)
    skewed._clock.receive(real._clock.now())
    doc = skewed.document("P0") or {}
    written = skewed.write_policy("P0", {**doc, CITY: "Hamburg"})
    with estate.engine.connect() as conn:
        stamps = dict(
            conn.execute(
                select(CHANGE.c.origin, CHANGE.c.hlc)
                .where(CHANGE.c.policy_id == "P0")
                .order_by(CHANGE.c.id)
            ).all()
        )
    capture_wall = int(stamps["legacy"].split(".")[0])
    assert wall_clock_ms() - hour < capture_wall  # wall-clock LWW would keep Köln: wrong
    report = estate.sync()
    assert report.apply.resolved == 1 and written.op == "update"
    legacy, new = estate.both("P0")
    assert legacy == new and new is not None and new[CITY] == "Hamburg"


def test_every_decision_is_in_the_audit_log(estate: Estate) -> None:
    estate.legacy.docs["P2"][STATUS] = "cancelled"
    estate.extract()
    estate.edit_new("P2", **{STATUS: "pending"})
    estate.sync()
    with estate.engine.connect() as conn:
        applies = conn.execute(
            select(ENTRY.c.outcome).where(ENTRY.c.namespace == "sync", ENTRY.c.operation == "apply")
        ).all()
    decisions = [d for (outcome,) in applies for d in outcome["decisions"]]
    [decision] = [d for d in decisions if d["policy_id"] == "P2"]
    assert (decision["base"], decision["legacy"], decision["new"]) == (
        "active",
        "cancelled",
        "pending",
    )
    assert (decision["winner"], decision["after"], decision["strategy"]) == (
        "legacy",
        "cancelled",
        "state_machine",
    )
