"""Listings of audit entries (a replay page, a policy's trail) shorten long payloads and outcomes;
the entry read by id stays whole."""

from __future__ import annotations

from sqlalchemy import Engine

from tools.audit import AuditLog
from tools.audit.log import PREVIEW_BYTES

RULES = [{"target": f"policy_core.field_{n}", "source": f"COL_{n}"} for n in range(200)]


def _entries(log: AuditLog) -> tuple[int, int]:
    small = log.record(
        "canonical", "update_field_mapping", payload={"version": 2}, outcome={"version": 3}
    )
    big = log.record(
        "canonical",
        "create_mapping",
        target="P-1",
        payload={"source_id": "src_1", "canonical": "policy_v1", "rules": RULES, "note": "x"},
        outcome={"mapping_id": "map_1", "errors": {f"f{n}": n for n in range(300)}},
    )
    return small, big


def test_a_page_shortens_long_payloads_and_the_entry_by_id_is_whole(store: Engine) -> None:
    log = AuditLog(store, tenant="t")
    small, big = _entries(log)
    entries, total = log.replay_page(preview=True)
    assert total == 2 and [e.id for e in entries] == [small, big]
    assert entries[0].payload == {"version": 2} and entries[0].outcome == {"version": 3}
    assert entries[0].shortened == []
    # The long ones keep the small items that open them, and say they were shortened.
    assert entries[1].payload == {"source_id": "src_1", "canonical": "policy_v1"}
    assert entries[1].outcome == {"mapping_id": "map_1"}
    assert entries[1].shortened == ["payload", "outcome"]
    whole = log.get(big)
    assert whole is not None and whole.payload["rules"] == RULES and whole.shortened == []
    assert len(whole.outcome or {}) == 2
    # Without preview (the CLI's replay), nothing is shortened.
    full, _ = log.replay_page()
    assert full[1].payload["rules"] == RULES and full[1].shortened == []


def test_a_policy_trail_shortens_too(store: Engine) -> None:
    log = AuditLog(store, tenant="t")
    _small, big = _entries(log)
    (entry,) = log.trail("P-1", preview=True)
    assert entry.id == big and entry.shortened == ["payload", "outcome"]
    assert "rules" not in entry.payload and entry.payload["source_id"] == "src_1"
    (whole,) = log.trail("P-1")
    assert whole.payload["rules"] == RULES


def test_a_payload_just_at_the_limit_is_whole(store: Engine) -> None:
    log = AuditLog(store, tenant="t")
    filler = "y" * (PREVIEW_BYTES - len('{"v": ""}'))
    exact = log.record("content", "ingest", payload={"v": filler})
    over = log.record("content", "ingest", payload={"v": filler + "y"})
    entries, _ = log.replay_page(preview=True)
    by_id = {e.id: e for e in entries}
    assert by_id[exact].payload == {"v": filler} and by_id[exact].shortened == []
    # One character over: shortened, and the only item (at the cut) is left out.
    assert by_id[over].payload == {} and by_id[over].shortened == ["payload"]
