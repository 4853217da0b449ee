"""Selective write: write_policy goes to the policy's system of record (ownership ledger) and
reaches the other side as a sync; a dual policy's write goes to both through the outbox."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from core.errors import InputError
from core.settings import Settings
from core.store.models import AuditEntry, PlatformOutboxRow, SyncOutboundRow, table_of
from tests.tools.sync.test_apply import CITY, PREMIUM, Estate
from tools.sync.contracts import Owner
from tools.sync.ledger import OwnershipLedger
from tools.sync.service import sync_status
from tools.sync.write import SelectiveWriter

ENTRY, OUTBOX, OUTBOUND = (
    table_of(AuditEntry),
    table_of(PlatformOutboxRow),
    table_of(SyncOutboundRow),
)


@pytest.fixture
def estate(store: Engine, store_settings: Settings, tmp_path: Path) -> Estate:
    settings = store_settings.model_copy(update={"embedding_provider": "none"})
    return Estate(store, settings, tmp_path)


def _counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        outbox = conn.execute(select(func.count()).select_from(OUTBOX)).scalar_one()
        outbound = conn.execute(select(func.count()).select_from(OUTBOUND)).scalar_one()
    return int(outbox), int(outbound)


def _write(estate: Estate, pid: str, **changes: object) -> object:
    writer = SelectiveWriter(estate.engine, estate.settings, tenant="default")
    return writer.write_policy(pid, {**(estate.platform.document(pid) or {}), **changes})


def _audited(engine: Engine, operation: str) -> list[str | None]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(ENTRY.c.target).where(ENTRY.c.operation == operation).order_by(ENTRY.c.id)
        )
        return [r.target for r in rows]


def test_a_legacy_policy_is_written_in_legacy_and_reaches_new_by_sync(estate: Estate) -> None:
    OwnershipLedger(estate.engine, tenant="default").set_owner("P0", Owner.LEGACY, reason="book")
    before = _counts(estate.engine)
    result = _write(estate, "P0", **{CITY: "Ulm"})
    assert (result.owner, result.to_legacy, result.to_new, result.platform) == (  # type: ignore[attr-defined]
        Owner.LEGACY,
        True,
        False,
        None,
    )
    assert _counts(estate.engine) == (before[0], before[1] + 1)  # one outbox row, to legacy
    assert estate.platform.document("P0")[CITY] == "Bonn"  # type: ignore[index]  # not written
    estate.sync()  # the relay drops the correction; the legacy loader takes it
    assert estate.legacy.docs["P0"][CITY] == "Ulm"
    assert estate.platform.document("P0")[CITY] == "Bonn"  # type: ignore[index]  # not yet
    estate.extract()  # legacy's next extract shows the write: it reaches new as a sync
    report = estate.sync()
    assert (report.apply.from_legacy, report.apply.resolved, report.apply.queued) == (1, 0, 0)
    legacy, new = estate.both("P0")
    assert legacy == new and new is not None and new[CITY] == "Ulm"
    assert _audited(estate.engine, "write.legacy") == ["P0"]


def test_a_policy_without_an_owner_is_written_in_legacy(estate: Estate) -> None:
    result = _write(estate, "P1", **{PREMIUM: 555})
    assert result.owner is Owner.LEGACY and result.changed == [PREMIUM]  # type: ignore[attr-defined]
    estate.sync()
    assert estate.legacy.docs["P1"][PREMIUM] == 555
    assert estate.platform.document("P1")[PREMIUM] == 100  # type: ignore[index]


def test_a_new_policy_is_written_in_new_and_carried_back_to_legacy(estate: Estate) -> None:
    OwnershipLedger(estate.engine, tenant="default").set_owner("P2", Owner.NEW, reason="wave 0")
    before = _counts(estate.engine)
    result = _write(estate, "P2", **{CITY: "Kiel"})
    assert result.owner is Owner.NEW and result.platform.op == "update"  # type: ignore[attr-defined]
    assert _counts(estate.engine) == (before[0] + 1, before[1])  # the platform's outbox event
    assert estate.platform.document("P2")[CITY] == "Kiel"  # type: ignore[index]
    assert estate.legacy.docs["P2"][CITY] == "Bonn"
    report = estate.sync()
    assert report.forwarded == 1 and report.delivered_legacy == 1
    legacy, new = estate.both("P2")
    assert legacy == new and legacy[CITY] == "Kiel"


def test_a_dual_policy_is_written_to_both_through_the_outbox(estate: Estate) -> None:
    OwnershipLedger(estate.engine, tenant="default").set_owner("P3", Owner.DUAL, reason="bridge")
    before = _counts(estate.engine)
    result = _write(estate, "P3", **{CITY: "Essen", PREMIUM: 310})
    assert result.owner is Owner.DUAL and (result.to_new, result.to_legacy) == (True, True)  # type: ignore[attr-defined]
    # never two direct writes: neither side holds it yet, one outbox row per side
    assert _counts(estate.engine) == (before[0], before[1] + 2)
    assert estate.platform.document("P3")[CITY] == "Bonn"  # type: ignore[index]
    assert estate.legacy.docs["P3"][CITY] == "Bonn"
    first = estate.sync()
    assert (first.delivered_new, first.delivered_legacy) == (1, 1)
    legacy, new = estate.both("P3")
    assert legacy == new and (new[CITY], new[PREMIUM]) == ("Essen", 310)
    estate.extract()  # legacy reports it holds the write: the sides agree, nothing moves
    again = estate.sync()
    assert (again.delivered_new, again.delivered_legacy, again.apply.queued) == (0, 0, 0)
    status = sync_status(estate.engine, tenant="default")
    assert status.backlog == 0 and status.conflicts == 0
    assert _audited(estate.engine, "write.dual") == ["P3"]


def test_a_write_under_another_policy_id_writes_nothing(estate: Estate) -> None:
    before = _counts(estate.engine)
    writer = SelectiveWriter(estate.engine, estate.settings, tenant="default")
    with pytest.raises(InputError, match="not 'P0'"):
        writer.write_policy("P0", {"policy_core.policy_id": "P9", CITY: "Ulm"})
    assert _counts(estate.engine) == before
