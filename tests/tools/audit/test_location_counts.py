"""The per-system counts the dashboard reads move with policy_location in every write path."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Engine, func, select, text

from core.store.migrate import alembic_config
from core.store.models import PolicyLocation, table_of
from tools.audit import AuditLog, Move, PolicyLocations

LOCATION = table_of(PolicyLocation)


def _counted(store: Engine, tenant: str) -> dict[str, int]:
    with store.connect() as conn:
        rows = conn.execute(
            select(LOCATION.c.system, func.count())
            .where(LOCATION.c.tenant == tenant)
            .group_by(LOCATION.c.system)
        )
        return {system: int(n) for system, n in rows}


def test_counts_follow_moves_redos_and_undos(store: Engine) -> None:
    log = AuditLog(store)
    locations = PolicyLocations(store)
    other = PolicyLocations(store, tenant="acme")

    def move(moves: list[Move], where: PolicyLocations = locations) -> int:
        with log.operation("routing", "route", policy_ids=[m.policy_id for m in moves]) as op:
            with op.atomic() as conn:
                where.record_moves(conn, moves, entry_id=op.entry_id)
        assert op.entry_id is not None
        return op.entry_id

    move([Move(f"P{i}", "LegacyBatch") for i in range(10)])
    move([Move("P1", "LegacyBatch")], other)
    assert locations.counts_by_system() == {"LegacyBatch": 10} == _counted(store, "default")
    wave = move([Move(f"P{i}", "NewPlatform", wave="w0", arrival=True) for i in range(4)])
    # A redo of the same batch (same entry) changes nothing; a re-arrival under a new entry
    # is a move within one system: the counts stay put either way.
    with store.begin() as conn:
        locations.record_moves(
            conn, [Move("P0", "NewPlatform", wave="w0", arrival=True)], entry_id=wave
        )
    move([Move("P1", "NewPlatform", wave="w0", arrival=True)])
    assert locations.counts_by_system() == {"LegacyBatch": 6, "NewPlatform": 4}
    assert locations.counts_by_system() == _counted(store, "default")
    # Undo the wave: back where the move before put them; P11 (first placed by the wave) goes.
    first = move([Move("P11", "NewPlatform", wave="w0", arrival=True)])
    with store.begin() as conn:
        locations.undo_moves(conn, wave, by_entry=wave, reason="rollback")
        locations.undo_moves(conn, first, by_entry=first, reason="rollback")
    assert locations.counts_by_system() == _counted(store, "default")
    with store.begin() as conn:  # idempotent: a second undo changes nothing
        locations.undo_moves(conn, wave, by_entry=wave, reason="rollback")
    assert locations.counts_by_system() == _counted(store, "default")
    assert sum(locations.counts_by_system().values()) == 10
    assert other.counts_by_system() == {"LegacyBatch": 1} == _counted(store, "acme")


def test_the_migration_counts_what_is_already_placed(store: Engine) -> None:
    locations = PolicyLocations(store)
    with store.begin() as conn:
        locations.record_moves(
            conn, [Move("P1", "LegacyBatch"), Move("P2", "NewPlatform")], entry_id=None
        )
    config = alembic_config(store)
    command.downgrade(config, "0012_sync_conflict_kind")
    command.upgrade(config, "head")
    assert locations.counts_by_system() == {"LegacyBatch": 1, "NewPlatform": 1}
    with store.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM policy_location_count")).scalar() == 2
