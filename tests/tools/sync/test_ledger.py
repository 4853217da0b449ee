"""The ownership ledger: derived from completed waves, set by hand, every change audited."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from core.errors import InputError, NotFoundError
from core.settings import Settings
from core.store.models import AuditEntry, table_of
from tests.tools.waves.helpers import canonical_table, make_context, register_source, write_parts
from tools.sync.contracts import Owner
from tools.sync.ledger import OwnershipLedger
from tools.waves import generate_plan, run_wave

ENTRY = table_of(AuditEntry)


def _audited(engine: Engine, operation: str) -> list[tuple[str, str | None]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(ENTRY.c.status, ENTRY.c.target)
            .where(ENTRY.c.namespace == "sync", ENTRY.c.operation == operation)
            .order_by(ENTRY.c.id)
        )
        return [(r.status, r.target) for r in rows]


def _wave(engine: Engine, settings: Settings, tmp_path: Path, target: str, run: bool) -> str:
    folders = {"src-a": write_parts(tmp_path / "a", canonical_table(30, prefix="A"), 10)}
    register_source(engine, settings, "src-a", 30)
    context = make_context(engine, settings, folders)
    plan = generate_plan(context, source_ids=["src-a"], target=target)
    wave_id = plan.waves[0].wave_id
    if run:
        assert run_wave(context, wave_id).status == "completed"
    return wave_id


def test_completed_wave_moves_its_policies_to_the_target_owner(
    store: Engine, store_settings: Settings, tmp_path: Path
) -> None:
    wave_id = _wave(store, store_settings, tmp_path, "new_platform", run=True)
    ledger = OwnershipLedger(store, tenant="default")
    ledger.set_owner("A000001", Owner.LEGACY, reason="stays until its renewal")
    update = ledger.apply_wave(wave_id)
    page = ledger.page(limit=1000)
    assert update.owner is Owner.NEW and update.changed == page.total > 0
    assert {e.owner for e in page.entries} == {Owner.NEW}
    entry = ledger.owner_of("A000001")
    assert entry is not None and entry.wave == wave_id and wave_id in entry.reason
    assert entry.entry_id == update.entry_id  # the audited operation that made the change
    again = ledger.apply_wave(wave_id)  # idempotent: same outcome, no second entry
    assert (again.changed, again.entry_id) == (update.changed, update.entry_id)
    assert _audited(store, "ledger.from_wave") == [("ok", wave_id)]
    assert ledger.counts() == {"legacy": 0, "new": page.total, "dual": 0}


def test_wave_not_completed_or_unknown_changes_nothing(
    store: Engine, store_settings: Settings, tmp_path: Path
) -> None:
    wave_id = _wave(store, store_settings, tmp_path, "new_platform", run=False)
    ledger = OwnershipLedger(store, tenant="default")
    with pytest.raises(InputError, match="is pending"):
        ledger.apply_wave(wave_id)
    with pytest.raises(NotFoundError, match="no wave 'nope'"):
        ledger.apply_wave("nope")
    assert ledger.page().total == 0
    assert _audited(store, "ledger.from_wave") == []


def test_set_owner_is_audited_and_repeating_it_is_a_no_op(store: Engine) -> None:
    ledger = OwnershipLedger(store, tenant="default")
    first = ledger.set_owner("P1", Owner.DUAL, reason="bridge during renewal")
    assert ledger.set_owner("P1", Owner.DUAL, reason="again") == first
    ledger.set_owner("P1", Owner.NEW, reason="renewed on the new platform")
    assert [s for s, _ in _audited(store, "ledger.set")] == ["ok", "ok"]
    assert OwnershipLedger(store, tenant="other").owner_of("P1") is None
    with pytest.raises(InputError, match="reason is required"):
        ledger.set_owner("P2", Owner.NEW, reason=" ")
