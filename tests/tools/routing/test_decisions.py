"""Routing decisions as state: stored rule-set versions, audited batches, resume, reroutes."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from core.errors import InputError, NotFoundError
from core.settings import Settings
from core.store.models import AuditEntry, PolicyLocation, PolicyMove
from tools.audit import AuditLog, PolicyLocations
from tools.routing.decisions import route_source
from tools.routing.overrides import reroute_policy, reroute_selection, routing_history
from tools.routing.rulesets import get_rule_set, list_rule_sets, register_rule_set
from tools.routing.samples import sample_batches

TENANT = "default"
SOURCE = "src-policy-master"


def _count(engine: Engine, table: object) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def _route(
    engine: Engine,
    settings: Settings,
    ref: str = "seed",
    policies: int = 1000,
    batch: int = 250,
    **kwargs: object,
):
    return route_source(
        engine,
        settings,
        ref,
        sample_batches(policies, batch),
        tenant=TENANT,
        source_id=SOURCE,
        source_system="policy_master",
        **kwargs,
    )


@pytest.fixture
def seeded(store: Engine, seed_text: str) -> Engine:
    register_rule_set(store, TENANT, seed_text, name="seed")
    return store


# -- versions ---------------------------------------------------------------------------------


def test_versions_increase_and_identical_yaml_is_idempotent(
    store: Engine, seed_file: Path, seed_text: str
) -> None:
    first = register_rule_set(store, TENANT, seed_file)
    assert (first.name, first.version, first.rules_version, first.rule_count) == (
        "seed_rules",
        1,
        "1.0.0",
        4,
    )
    again = register_rule_set(store, TENANT, seed_text, name="seed_rules")
    assert again.id == first.id and again.version == 1
    changed = register_rule_set(store, TENANT, seed_text.replace("0.8", "0.7"), name="seed_rules")
    assert changed.version == 2 and changed.sha256 != first.sha256
    assert [i.version for i in list_rule_sets(store, TENANT)] == [1, 2]
    assert get_rule_set(store, TENANT, "seed_rules").info.version == 2
    assert get_rule_set(store, TENANT, "seed_rules@1").yaml == seed_text
    assert get_rule_set(store, TENANT, first.id).info.uri == f"rules://{TENANT}/seed_rules/1"
    # One audit entry per stored version, none for the idempotent repeat.
    assert [e.operation for e in AuditLog(store).replay("routing")] == ["register_rule_set"] * 2


def test_invalid_rules_store_nothing(store: Engine, seed_text: str) -> None:
    with pytest.raises(InputError, match="line 5"):
        register_rule_set(store, TENANT, seed_text.replace('"in"', '"inside"'), name="bad")
    assert list_rule_sets(store, TENANT) == []
    with pytest.raises(NotFoundError, match="no stored rule set 'bad'"):
        get_rule_set(store, TENANT, "bad")


# -- routing ------------------------------------------------------------------------------------


def test_route_source_records_decisions_and_locations(seeded: Engine, settings: Settings) -> None:
    dry = _route(seeded, settings, dry_run=True)
    assert _count(seeded, PolicyMove.__table__) == 0 and dry.run_id is None
    result = _route(seeded, settings)
    assert result.model_dump(exclude={"dry_run", "run_id", "batches", "moved"}) == dry.model_dump(
        exclude={"dry_run", "run_id", "batches", "moved"}
    )
    assert result.routed == 1000 and result.batches == 4 and result.moved == 1000
    assert sum(result.by_target.values()) == 1000
    assert result.by_rule["migrated_policies"] == 375  # prefixes A, B, C of A..H
    assert set(result.by_target) == {
        "new_platform",
        "legacy_batch",
        "data_quality_queue",
        "coexistence_bridge",
    }
    assert result.by_rule["data_quality_issues"] > 0
    locations = PolicyLocations(seeded)
    assert locations.counts_by_system() == result.by_target
    assert _count(seeded, PolicyMove.__table__) == 1000
    entries = [e for e in AuditLog(seeded).replay("routing") if e.operation == "route"]
    assert [e.policy_count for e in entries] == [250] * 4
    assert all(e.status == "ok" and e.outcome["routed"] == 250 for e in entries)
    assert entries[0].idempotency_key == f"route:{SOURCE}:seed:v1:0"
    sample = result.sample_per_rule["migrated_policies"][0]
    move = locations.history(sample)[0]
    assert (move.to_system, move.rule, move.reason, move.run_id) == (
        "new_platform",
        "migrated_policies",
        "rule seed v1",
        result.run_id,
    )
    assert AuditLog(seeded).trail(sample)[-1].id == move.entry_id


def test_warns_about_rule_fields_null_in_the_whole_source(
    seeded: Engine, settings: Settings
) -> None:
    result = _route(seeded, settings, dry_run=True)
    assert result.warnings == []  # every seed field is filled somewhere
    register_rule_set(
        seeded,
        TENANT,
        """\
routing_rules:
  version: "1"
  rules:
    - {name: by_email, condition: {field: email, operator: not_null}, target: legacy_batch,
       priority: 1}
    - {name: rest, condition: true, target: data_quality_queue, priority: 2}
""",
        name="mail",
    )
    result = _route(seeded, settings, "mail", dry_run=True)
    assert (
        len(result.warnings) == 1
        and "policy_core.insured_party.email is null in all 1000" in result.warnings[0]
    )


def test_crash_mid_batch_applies_nothing_and_rerun_resumes(
    seeded: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = PolicyLocations.record_moves
    calls = {"n": 0}

    def crash_on_third(self, conn, moves, *, entry_id):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        written = original(self, conn, moves, entry_id=entry_id)
        if calls["n"] == 3:  # the moves are written, then the process "dies" before commit
            raise RuntimeError("disk full")
        return written

    monkeypatch.setattr(PolicyLocations, "record_moves", crash_on_third)
    with pytest.raises(RuntimeError, match="disk full"):
        _route(seeded, settings)
    # Batches 0 and 1 are fully applied, batch 2 not at all, batch 3 never started.
    assert _count(seeded, PolicyMove.__table__) == 500
    assert _count(seeded, PolicyLocation.__table__) == 500
    statuses = [e.status for e in AuditLog(seeded).replay("routing") if e.operation == "route"]
    assert statuses == ["ok", "ok", "failed"]

    monkeypatch.setattr(PolicyLocations, "record_moves", original)
    result = _route(seeded, settings)
    assert result.resumed_batches == 2 and result.routed == 1000
    assert _count(seeded, PolicyMove.__table__) == 1000  # no duplicate move
    routes = [e for e in AuditLog(seeded).replay("routing") if e.operation == "route"]
    assert [(e.status, e.attempts) for e in routes] == [("ok", 1), ("ok", 1), ("ok", 2), ("ok", 1)]
    # A third run is a no-op.
    assert _route(seeded, settings).resumed_batches == 4
    assert _count(seeded, PolicyMove.__table__) == 1000
    assert _count(seeded, AuditEntry.__table__) == 5  # register + 4 batches


def test_unknown_rule_set_is_not_found(store: Engine, settings: Settings) -> None:
    with pytest.raises(NotFoundError, match="no stored rule set 'nope'"):
        _route(store, settings, "nope")


# -- overrides ----------------------------------------------------------------------------------


def test_reroute_history_shows_both_moves_in_order(seeded: Engine, settings: Settings) -> None:
    result = _route(seeded, settings)
    policy = result.sample_per_rule["migrated_policies"][0]
    rerouted = reroute_policy(seeded, policy, "legacy_batch", "broker asked to stay", tenant=TENANT)
    assert rerouted.moved == [policy] and rerouted.previous == {policy: "new_platform"}
    history = routing_history(seeded, policy, tenant=TENANT)
    assert [(m.from_system, m.to_system) for m in history.moves] == [
        (None, "new_platform"),
        ("new_platform", "legacy_batch"),
    ]
    assert history.moves[1].reason == "broker asked to stay" and history.moves[1].rule is None
    assert history.location is not None and history.location.system == "legacy_batch"
    assert [e.operation for e in history.entries] == ["route", "reroute"]
    reroute = history.entries[1]
    assert reroute.payload["previous"] == {policy: "new_platform"}
    assert reroute.payload["reverses"] == {policy: history.moves[0].entry_id}
    # Again to the same target: nothing moves, nothing is logged.
    again = reroute_policy(seeded, policy, "legacy_batch", "again", tenant=TENANT)
    assert again.moved == [] and again.unchanged == [policy] and again.entry_id is None
    assert len(routing_history(seeded, policy, tenant=TENANT).moves) == 2


def test_reroute_selection_is_one_entry(seeded: Engine, settings: Settings) -> None:
    result = _route(seeded, settings)
    chosen = result.sample_per_rule["legacy_only_policies"][:3]
    out = reroute_selection(seeded, chosen, "coexistence_bridge", "batch cut-over", tenant=TENANT)
    assert out.moved == chosen and set(out.previous.values()) == {"legacy_batch"}
    entry = AuditLog(seeded).get(out.entry_id)
    assert entry is not None and entry.policy_count == 3 and entry.operation == "reroute"


@pytest.mark.parametrize(
    ("policy", "target", "reason", "error", "match"),
    [
        ("A00000000", "legacy_batch", " ", InputError, "needs a reason"),
        ("A00000000", "", "r", InputError, "no target"),
        ("ZZZ", "legacy_batch", "r", NotFoundError, "ZZZ has not been routed"),
        ("A00000000", "Nowhere", "r", InputError, "no migration target 'Nowhere'.*new_platform"),
    ],
)
def test_bad_reroutes(
    seeded: Engine,
    settings: Settings,
    policy: str,
    target: str,
    reason: str,
    error: type[Exception],
    match: str,
) -> None:
    _route(seeded, settings, policies=8, batch=8)
    with pytest.raises(error, match=match):
        reroute_policy(seeded, policy, target, reason, tenant=TENANT)


def test_history_of_unknown_policy(store: Engine) -> None:
    with pytest.raises(NotFoundError, match="nothing is recorded for policy 'P1'"):
        routing_history(store, "P1", tenant=TENANT)
