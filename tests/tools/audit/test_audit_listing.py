"""Listings of audit entries (a replay page, a policy's trail) shorten long payloads and outcomes;
the entry read by id stays whole."""

from __future__ import annotations

from sqlalchemy import Engine

from core.paging import Page
from tools.audit import AuditLog, AuditRecord
from tools.audit.contracts import AuditPage, audit_page_json
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


def test_a_page_written_from_the_rows_is_the_validated_page(store: Engine) -> None:
    """The API writes a replay page as JSON straight from the rows (`audit_page_json`): the
    same bytes as validating every entry and dumping the page, whatever the entries hold."""
    log = AuditLog(store, tenant="t")
    _entries(log)  # a short entry and a shortened one
    log.record("waves", "check_gates", payload={})
    # PostgreSQL's JSON refuses NaN; SQLite keeps what json.dumps wrote.
    odd = {"mean": float("nan"), "limit": float("inf")} if store.dialect.name == "sqlite" else {}
    log.record(  # an integer beyond 64 bits: this page is written by pydantic instead
        "content",
        "profile",
        target="src_ü",
        payload={**odd, "big": 2**70, "name": "Zoë", "nested": [{"a": [1.5]}]},
        outcome={"rows": 10**18, "ratio": 0.1},
    )
    with log.operation("waves", "run", target="W1", idempotency_key="k1"):
        # Inside the operation its entry is still pending: the page counts it as incomplete.
        for preview in (True, False):
            for offset in (0, 2, 4):
                values, total = log.replay_page_values(preview=preview, offset=offset, limit=2)
                end = min(total, offset + 2)
                page = Page(next_cursor=str(end) if end < total else None, total=total)
                records = [AuditRecord.model_validate(v) for v in values]
                incomplete = sum(r.incomplete for r in records)
                assert incomplete == (offset == 4)
                validated = AuditPage(entries=records, incomplete=incomplete, **page.model_dump())
                assert audit_page_json(values, page) == validated.model_dump_json().encode()
