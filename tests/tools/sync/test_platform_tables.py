"""Sync's writes to a migrated policy land in the new platform's own tables (the new_platform
target's ``policy`` row and child tables, written by the target's own code): from a legacy
change that ``sync run`` carries over, and from a platform user's ``write_policy``; in the same
commit as the outbox row when the target shares the store's database, else right after it,
replayed after a crash without loss or duplicates."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from sqlalchemy import Engine, func, select

from core.errors import InputError
from core.settings import Settings
from core.store.models import PlatformOutboxRow, table_of
from tests.tools.sync.extracts import ingest
from tests.tools.waves.helpers import canonical_table, make_context, register_source, write_parts
from tools.sync.adopt import keep_in_step
from tools.sync.capture import LegacyCapture
from tools.sync.contracts import Owner
from tools.sync.platform import NewPlatform
from tools.sync.relay import Relay
from tools.sync.service import run_sync
from tools.sync.write import SelectiveWriter
from tools.waves import PlanCriteria, generate_plan, run_wave
from tools.waves.targets.new_platform import NewPlatformTarget

OUTBOX = table_of(PlatformOutboxRow)
ROOT = Path(__file__).resolve().parents[3]
CITY = "policy_core.insured_party.address.city"
PREMIUM = "rating_components.premium_amount"
FEED = {
    "POLNO": "policy_core.policy_id",
    "STAT": "policy_core.status",
    "PREM": PREMIUM,
    "CITY": CITY,
    "COVID": "coverage_sections[].coverage_id",
    "COVTYPE": "coverage_sections[].coverage_type",
    "COVLIMIT": "coverage_sections[].limits.per_occurrence",
}


class Migrated:
    """Twelve policies a wave put on the new platform, followed by sync (owner: new)."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        tmp: Path,
        config: dict[str, Any] | None = None,
        *,
        table: pa.Table | None = None,
        adopt: bool = True,
    ) -> None:
        self.engine, self.settings, self.tmp = engine, settings, tmp
        table = canonical_table(12, prefix="A") if table is None else table
        folders = {"src-a": write_parts(tmp / "a", table, 6)}
        register_source(engine, settings, "src-a", 12)
        self.context = make_context(engine, settings, folders)
        plan = generate_plan(
            self.context,
            source_ids=["src-a"],
            target="new_platform",
            criteria=PlanCriteria(target_config=config or {}),
        )
        self.wave_id = plan.waves[0].wave_id
        assert run_wave(self.context, self.wave_id).status == "completed"
        if adopt:
            after = keep_in_step(
                engine, settings, self.wave_id, tenant="default", context=self.context
            )
            assert after.ledger.owner is Owner.NEW and after.adopted
            assert after.adopted.fresh == 12
        self.target: NewPlatformTarget = self.context.target("new_platform", config or {})  # type: ignore[assignment]
        self.platform = NewPlatform(engine, tenant="default", settings=settings)

    def policy_row(self, pid: str) -> Any:
        table = self.target.table
        with self.target.engine.connect() as conn:
            return conn.execute(select(table).where(table.c.policy_core__policy_id == pid)).one()

    def children(self, pid: str, name: str) -> list[Any]:
        [child] = [c.table for c in self.target.components if c.table.name == name]
        with self.target.engine.connect() as conn:
            return conn.execute(
                select(child).where(child.c.policy_id == pid).order_by(child.c.item_no)
            ).all()

    def all_children(self) -> dict[str, int]:
        return self.target.children(self.wave_id)

    def outbox(self, pid: str) -> list[Any]:
        with self.engine.connect() as conn:
            return conn.execute(
                select(OUTBOX).where(OUTBOX.c.policy_id == pid).order_by(OUTBOX.c.id)
            ).all()

    def extract(
        self,
        name: str,
        changes: dict[str, dict[str, Any]],
        *,
        book: dict[str, dict[str, Any]] | None = None,
    ) -> str:
        """The legacy system's extract: ``book`` (default: every policy as the platform holds
        it), ``changes`` applied."""
        path = self.tmp / name
        book = dict(self.platform.documents()) if book is None else book
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(list(FEED))
            for pid, doc in sorted(book.items()):
                doc = {**doc, **changes.get(pid, {})}
                head = [pid, doc["policy_core.status"], doc[PREMIUM], doc.get(CITY, "")]
                items = sorted(
                    {p.split("]", 1)[0] + "]" for p in doc if p.startswith("coverage_sections[")}
                )
                for item in items or [""]:
                    writer.writerow(
                        head
                        + [
                            doc.get(f"{item}.coverage_id", ""),
                            doc.get(f"{item}.coverage_type", ""),
                            doc.get(f"{item}.limits.per_occurrence", ""),
                        ]
                    )
        return ingest(self.engine, self.settings, path)


@pytest.fixture
def migrated(store: Engine, store_settings: Settings, tmp_path: Path) -> Migrated:
    settings = store_settings.model_copy(update={"embedding_provider": "none"})
    return Migrated(store, settings, tmp_path)


def test_a_legacy_change_reaches_the_platforms_child_tables(migrated: Migrated) -> None:
    before = migrated.all_children()
    capture = LegacyCapture(migrated.engine, migrated.settings, tenant="default")
    capture.capture("leg", migrated.extract("day0.csv", {}), FEED)
    quiet = run_sync(migrated.engine, migrated.settings, tenant="default")
    assert (quiet.apply.from_legacy, quiet.delivered_new) == (0, 0)  # legacy holds as migrated

    # legacy re-insures coverage C3-1 and records the insured's city
    changes = {"A000003": {"coverage_sections[C3-1].limits.per_occurrence": "250000.00"}}
    changes["A000004"] = {CITY: "Ulm"}
    capture.capture("leg", migrated.extract("day1.csv", changes), None)
    report = run_sync(migrated.engine, migrated.settings, tenant="default")
    assert (report.apply.from_legacy, report.delivered_new) == (2, 2)

    coverages = migrated.children("A000003", "coverage")
    assert [c.coverage_id for c in coverages] == ["C3-0", "C3-1", "C3-2"]  # no duplicate rows
    limits = {c.coverage_id: c.limits__per_occurrence for c in coverages}
    assert Decimal(str(limits["C3-1"])) == Decimal("250000.00")
    assert limits["C3-0"] is None and limits["C3-2"] is None
    assert migrated.policy_row("A000004").policy_core__insured_party__address__city == "Ulm"
    assert migrated.policy_row("A000004").wave_id == migrated.wave_id
    assert migrated.all_children() == before  # the same child rows, one limit changed
    assert all(row.mirrored_at is not None for row in migrated.outbox("A000003"))
    # the platform's read-back (what a wave's validate step reads) holds the change too
    [batch] = list(migrated.target.read_back(migrated.wave_id))
    policy = batch.to_pylist()[3]
    assert policy["coverage_sections"][1]["limits.per_occurrence"] == Decimal("250000.00")


def test_write_policy_lands_in_the_platforms_tables_with_its_outbox_row(
    migrated: Migrated,
) -> None:
    writer = SelectiveWriter(migrated.engine, migrated.settings, tenant="default")
    document = migrated.platform.document("A000002") or {}
    written = writer.write_policy(
        "A000002",
        {
            **document,
            CITY: "Kiel",
            "correspondence.documents[D9].document_id": "D9",
            "correspondence.documents[D9].document_type": "renewal_notice",
        },
    )
    assert written.owner is Owner.NEW and written.platform is not None
    assert written.platform.wave_id == migrated.wave_id
    assert migrated.policy_row("A000002").policy_core__insured_party__address__city == "Kiel"
    [letter] = migrated.children("A000002", "document")
    assert (letter.document_id, letter.document_type, letter.wave_id) == (
        "D9",
        "renewal_notice",
        migrated.wave_id,
    )
    [event] = migrated.outbox("A000002")
    assert event.origin == "new" and event.mirrored_at is not None
    assert event.delta[CITY] == "Kiel"


def test_a_value_the_platform_cannot_hold_writes_nothing(migrated: Migrated) -> None:
    document = migrated.platform.document("A000005") or {}
    with pytest.raises(InputError, match=r"policy A000005, field policy_core.effective_date"):
        migrated.platform.write_policy(
            "A000005", {**document, "policy_core.effective_date": "next tuesday"}
        )
    assert migrated.platform.document("A000005") == document
    assert migrated.outbox("A000005") == []
    assert (
        migrated.policy_row("A000005").policy_core__effective_date
        == document["policy_core.effective_date"]
    )


@pytest.mark.parametrize("where", ["before_target", "after_target"])
def test_a_crash_between_the_steps_is_replayed_without_loss_or_duplicates(
    migrated: Migrated, where: str
) -> None:
    before = migrated.all_children()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if migrated.settings.db_url:
        env["DATA_MASH_DB_URL"] = migrated.settings.db_url
    runner = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.tools.sync.mirror_runner",
            str(migrated.settings.home),
            "A000003",
            "Essen",
            where,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert runner.returncode == -signal.SIGKILL, runner.stderr
    [event] = migrated.outbox("A000003")  # step 1 committed: the write and its event
    assert event.mirrored_at is None
    city = migrated.policy_row("A000003").policy_core__insured_party__address__city
    assert city == ("Essen" if where == "after_target" else None)

    relay = Relay(migrated.engine, migrated.settings, tenant="default")
    relay.pass_once()  # every relay pass replays first
    assert migrated.policy_row("A000003").policy_core__insured_party__address__city == "Essen"
    [event] = migrated.outbox("A000003")
    assert event.mirrored_at is not None
    assert migrated.all_children() == before  # replaced, not doubled
    assert [c.coverage_id for c in migrated.children("A000003", "coverage")] == [
        "C3-0",
        "C3-1",
        "C3-2",
    ]
    assert migrated.platform.replay_mirror() == 0  # nothing left to replay


def test_a_target_in_the_stores_database_is_written_in_the_outbox_rows_commit(
    store: Engine, store_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = store_settings.model_copy(update={"embedding_provider": "none"})
    url = store.url.render_as_string(hide_password=False)
    migrated = Migrated(store, settings, tmp_path, {"url": url})
    assert migrated.platform.tables.shares_store(migrated.target)

    document = migrated.platform.document("A000001") or {}
    written = migrated.platform.write_policy("A000001", {**document, CITY: "Bonn"})
    [event] = migrated.outbox("A000001")
    assert event.id == written.outbox_id and event.mirrored_at is not None  # born mirrored
    assert migrated.policy_row("A000001").policy_core__insured_party__address__city == "Bonn"

    # the target's write fails: neither the document nor its outbox row commits
    def refuse(*_args: Any, **_kwargs: Any) -> int:
        raise RuntimeError("platform refused")

    monkeypatch.setattr(NewPlatformTarget, "write", refuse)
    with pytest.raises(RuntimeError, match="platform refused"):
        migrated.platform.write_policy("A000001", {**document, CITY: "Köln"})
    assert (migrated.platform.document("A000001") or {})[CITY] == "Bonn"
    with store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(OUTBOX)).scalar_one() == 1


def test_a_list_rewritten_by_sync_keeps_its_order(
    store: Engine, store_settings: Settings, tmp_path: Path
) -> None:
    # the wave wrote each policy's coverages newest first: not the order of their ids
    table = canonical_table(12, prefix="A")
    column = table.column("coverage_sections")
    newest_first = pa.array([items[::-1] for items in column.to_pylist()], column.type)
    table = table.set_column(
        table.schema.get_field_index("coverage_sections"), "coverage_sections", newest_first
    )
    settings = store_settings.model_copy(update={"embedding_provider": "none"})
    migrated = Migrated(store, settings, tmp_path, table=table)
    wave_order = ["C4-3", "C4-2", "C4-1", "C4-0"]
    assert [c.coverage_id for c in migrated.children("A000004", "coverage")] == wave_order

    capture = LegacyCapture(migrated.engine, migrated.settings, tenant="default")
    capture.capture("leg", migrated.extract("day0.csv", {}), FEED)
    run_sync(migrated.engine, migrated.settings, tenant="default")
    changes = {"A000004": {"coverage_sections[C4-1].limits.per_occurrence": "90000.00"}}
    capture.capture("leg", migrated.extract("day1.csv", changes), None)
    report = run_sync(migrated.engine, migrated.settings, tenant="default")
    assert report.delivered_new == 1
    coverages = migrated.children("A000004", "coverage")
    assert [c.coverage_id for c in coverages] == wave_order
    assert Decimal(str(coverages[2].limits__per_occurrence)) == Decimal("90000.00")

    # a coverage a platform user adds comes after the ones the policy had
    document = migrated.platform.document("A000004") or {}
    added = {"coverage_sections[C4-9].coverage_id": "C4-9"}
    migrated.platform.write_policy("A000004", {**document, **added})
    coverages = migrated.children("A000004", "coverage")
    assert [c.coverage_id for c in coverages] == [*wave_order, "C4-9"]
    [batch] = list(migrated.target.read_back(migrated.wave_id))
    policy = batch.to_pylist()[4]
    assert [c["coverage_id"] for c in policy["coverage_sections"]] == [*wave_order, "C4-9"]
