from __future__ import annotations

import gzip
import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, func, select

from core.errors import InputError, NotFoundError
from core.settings import Settings
from tests.tools.waves.helpers import canonical_table, make_context
from tests.tools.waves.test_saga import RULES
from tools.audit import AuditLog
from tools.routing.decisions import route_source
from tools.routing.overrides import reroute_policy
from tools.routing.rulesets import register_rule_set
from tools.waves import (
    PlanCriteria,
    gc,
    generate_plan,
    lineage,
    locate_policy,
    rollback_wave,
    run_wave,
)
from tools.waves.context import WaveContext
from tools.waves.state import CHECKPOINT, WAVE_POLICY


@pytest.fixture
def migrated(
    engine: Engine, wave_settings: Settings, estate: dict[str, Path]
) -> tuple[WaveContext, str]:
    wave_context = make_context(engine, wave_settings, estate)
    register_rule_set(engine, "default", RULES, name="wave_rules")
    plan = generate_plan(
        wave_context,
        source_ids=["src-a", "src-b"],
        target="new_platform",
        criteria=PlanCriteria(rule_set="wave_rules"),
    )
    wave_id = plan.waves[0].wave_id
    assert run_wave(wave_context, wave_id).status == "completed"
    return wave_context, wave_id


def test_policy_that_moved_twice_shows_both_moves_in_order(
    migrated: tuple[WaveContext, str],
) -> None:
    wave_context, wave_id = migrated
    report = locate_policy(wave_context, "A000000")
    assert report.location is not None and report.location.system == "new_platform"
    assert [(m.from_system, m.to_system) for m in report.history] == [
        (None, "new_platform"),  # the route milestone's decision
        ("new_platform", "new_platform"),  # the migrate milestone's write into the platform
    ]
    assert [m.wave for m in report.history] == [wave_id, wave_id]
    assert report.history[0].rule == "everything_else_new"
    assert report.history[0].moved_at <= report.history[1].moved_at
    assert report.status.startswith(f"migrated to new_platform in wave {wave_id}")
    assert report.reconciliation is not None and report.reconciliation.matches
    # The audit trail names the batches that moved it, in the same order.
    ops = [e.operation for e in report.entries]
    assert ops.index("route.batch") < ops.index("migrate.batch")
    assert [e.operation for e in AuditLog(wave_context.engine).trail("A000000")] == ops
    steps = {s.stage: s.value for s in lineage(wave_context, "A000000")}
    assert steps["source"] == "src-a" and steps["rule"] == "everything_else_new"
    assert steps["wave"] == wave_id and steps["target"] == "new_platform"
    assert steps["source_file"] == "/legacy/src-a.dat" and steps["canonical"] == "policy_v1"


def test_locating_a_policy_takes_one_connection_from_the_pool(
    migrated: tuple[WaveContext, str],
) -> None:
    wave_context, _ = migrated
    checkouts: list[object] = []

    def count(_dbapi: object, record: object, _proxy: object) -> None:
        checkouts.append(record)

    event.listen(wave_context.engine, "checkout", count)
    try:
        report = locate_policy(wave_context, "A000000", reconcile=False)
    finally:
        event.remove(wave_context.engine, "checkout", count)
    # Location, moves, waves and trail: four reads on one checkout (was one checkout each).
    assert report.location is not None and report.history and report.waves and report.entries
    assert len(checkouts) == 1


def test_routed_elsewhere_and_unknown(migrated: tuple[WaveContext, str]) -> None:
    wave_context, _ = migrated
    report = locate_policy(wave_context, "A000001")  # homeowners: routed to the bridge
    assert report.location is not None and report.location.system == "coexistence_bridge"
    assert report.reconciliation is None and report.status.startswith("lives in")
    with pytest.raises(NotFoundError):
        locate_policy(wave_context, "NOPE")


def test_gc_archives_finished_run_state_and_keeps_the_audit_log(
    migrated: tuple[WaveContext, str], wave_settings: Settings
) -> None:
    wave_context, wave_id = migrated
    engine = wave_context.engine
    audit_before = len(list(AuditLog(engine).replay()))
    assert gc(wave_context, older_than=timedelta(days=30)).waves == []  # too recent
    result = gc(wave_context, older_than=timedelta(0))
    assert result.waves == [wave_id] and result.rows["wave_checkpoint"] > 0
    with engine.connect() as conn:
        for table in (CHECKPOINT, WAVE_POLICY):
            assert (
                conn.execute(
                    select(func.count()).select_from(table).where(table.c.wave_id == wave_id)
                ).scalar_one()
                == 0
            )
    with gzip.open(result.files[0], "rt") as archive:
        rows = [json.loads(line) for line in archive]
    assert {r["table"] for r in rows} == {"wave_checkpoint", "wave_gate_result", "wave_policy"}
    assert sum(r["table"] == "wave_policy" for r in rows) == result.rows["wave_policy"]
    entries = list(AuditLog(engine).replay())
    assert len(entries) == audit_before + 1 and entries[-1].operation == "gc"
    assert gc(wave_context, older_than=timedelta(0)).waves == []  # nothing left: no-op


def test_reroute_refuses_a_migrated_policy_until_its_wave_is_rolled_back(
    migrated: tuple[WaveContext, str],
) -> None:
    wave_context, wave_id = migrated
    engine = wave_context.engine
    with pytest.raises(InputError, match=f"migrated to new_platform by wave {wave_id}") as caught:
        reroute_policy(engine, "A000000", "legacy_batch", "broker asked", tenant="default")
    assert f"data-mash wave rollback {wave_id}" in caught.value.message
    located = locate_policy(wave_context, "A000000").location
    assert located is not None and located.system == "new_platform"  # unchanged
    # A policy the same wave routed elsewhere (nothing of it in the platform) may move.
    moved = reroute_policy(engine, "A000001", "legacy_batch", "broker asked", tenant="default")
    assert moved.moved == ["A000001"]
    # Once the wave is rolled back nothing of it stays in the platform, and nothing blocks.
    assert rollback_wave(wave_context, wave_id).status == "compensated"
    with pytest.raises(NotFoundError, match="has not been routed"):  # the wave had placed it
        reroute_policy(engine, "A000000", "legacy_batch", "broker asked", tenant="default")


def test_routing_a_source_again_keeps_migrated_policies_where_their_rows_are(
    migrated: tuple[WaveContext, str], wave_settings: Settings
) -> None:
    wave_context, wave_id = migrated
    engine = wave_context.engine
    homeowners_first = RULES.replace('"homeowners"', '"auto"')  # A000000 is auto: to the bridge
    register_rule_set(engine, "default", homeowners_first, name="later_rules")
    result = route_source(
        engine,
        wave_settings,
        "later_rules",
        [canonical_table(450, prefix="A")],
        tenant="default",
        source_id="src-a",
    )
    assert result.routed == 450
    located = locate_policy(wave_context, "A000000").location
    assert located is not None and located.system == "new_platform" and located.wave == wave_id
    # Not migrated by the wave (it routed it to the bridge): free to follow the new rules.
    other = locate_policy(wave_context, "A000001").location
    assert other is not None and other.system == "new_platform" and other.wave is None
