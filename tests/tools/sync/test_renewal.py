"""On-renewal conversion: a policy moves to the new platform at its renewal date (the rule in the
sync policy file), through the write-ahead log with reason "renewal"; `locate` shows it. The day
is the test's own (``as_of``), never the machine's clock."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from cli.main import main
from core.errors import InputError
from core.settings import Settings
from core.store.models import AuditEntry, AuditPolicy, table_of
from tests.tools.sync.extracts import ingest
from tools.sync.capture import LegacyCapture
from tools.sync.contracts import Owner
from tools.sync.ledger import OwnershipLedger
from tools.sync.policy import parse_policy
from tools.sync.service import run_sync
from tools.sync.write import SelectiveWriter

ENTRY, LINKS = table_of(AuditEntry), table_of(AuditPolicy)
FEED = {"POLNO": "policy_core.policy_id", "STAT": "policy_core.status"}
FEED["EXPDT"] = "policy_core.expiration_date"
RULES = """\
default: manual
ownership:
  on_renewal:
    to: new
    from: [legacy, dual]
"""
BOOK = {"R1": "2025-03-01", "R2": "2025-06-30", "R3": "2025-03-01", "R4": "", "R5": "01/03/2025"}


@pytest.fixture
def followed(store: Engine, store_settings: Settings, tmp_path: Path) -> Engine:
    path = tmp_path / "book.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(list(FEED))
        for pid, renews in BOOK.items():
            writer.writerow([pid, "active", renews])
    source = ingest(store, store_settings, path)
    LegacyCapture(store, store_settings, tenant="default").capture("LEG", source, FEED)
    run_sync(store, store_settings, tenant="default")  # no rule: nobody moves
    OwnershipLedger(store, tenant="default").set_owner("R3", Owner.NEW, reason="wave 0")
    OwnershipLedger(store, tenant="default").set_owner("R2", Owner.DUAL, reason="bridged")
    return store


def _renewal_entries(engine: Engine) -> list[list[str]]:
    with engine.connect() as conn:
        entries = conn.execute(
            select(ENTRY.c.id).where(ENTRY.c.operation == "ledger.renewal").order_by(ENTRY.c.id)
        ).scalars()
        return [
            sorted(conn.execute(select(LINKS.c.policy_id).where(LINKS.c.entry_id == e)).scalars())
            for e in list(entries)
        ]


def test_a_policy_moves_to_new_at_its_renewal_date(
    followed: Engine, store_settings: Settings, tmp_path: Path
) -> None:
    engine, rule = followed, parse_policy(RULES)
    ledger = OwnershipLedger(engine, tenant="default")
    before = run_sync(
        engine, store_settings, tenant="default", policy=rule, as_of=dt.date(2025, 2, 28)
    )
    assert before.renewed is not None and before.renewed.moved == 0
    assert ledger.owner_of("R1") is None  # legacy until its renewal

    due = run_sync(engine, store_settings, tenant="default", policy=rule, as_of=dt.date(2025, 3, 1))
    assert due.renewed is not None and (due.renewed.moved, due.renewed.unreadable) == (1, 1)
    entry = ledger.owner_of("R1")
    assert entry is not None and (entry.owner, entry.reason, entry.wave) == (
        Owner.NEW,
        "renewal",
        None,
    )
    assert entry.since.date() == dt.date(2025, 3, 1)
    assert ledger.owner_of("R3").reason == "wave 0"  # type: ignore[union-attr]  # already new
    assert ledger.owner_of("R2").owner is Owner.DUAL  # type: ignore[union-attr]  # not yet due
    again = run_sync(
        engine, store_settings, tenant="default", policy=rule, as_of=dt.date(2025, 3, 1)
    )
    assert again.renewed.moved == 0  # type: ignore[union-attr]

    later = run_sync(
        engine, store_settings, tenant="default", policy=rule, as_of=dt.date(2025, 7, 1)
    )
    assert later.renewed.moved == 1 and ledger.owner_of("R2").owner is Owner.NEW  # type: ignore[union-attr]
    assert ledger.owner_of("R4") is None and ledger.owner_of("R5") is None  # no readable date
    assert _renewal_entries(engine) == [["R1"], ["R2"]]  # through the write-ahead log

    # from now on a write to R1 goes to the new platform
    written = SelectiveWriter(engine, store_settings, tenant="default").write_policy(
        "R1", {"policy_core.policy_id": "R1", "policy_core.status": "cancelled"}
    )
    assert written.owner is Owner.NEW and written.platform is not None


def test_locate_shows_the_owner_and_why(
    followed: Engine,
    store_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run_sync(
        followed,
        store_settings,
        tenant="default",
        policy=parse_policy(RULES),
        as_of=dt.date(2025, 3, 2),
    )
    monkeypatch.setenv("DATA_MASH_HOME", str(store_settings.home))
    monkeypatch.delenv("DATA_MASH_TENANT", raising=False)
    if store_settings.db_url:
        monkeypatch.setenv("DATA_MASH_DB_URL", store_settings.db_url)
    else:
        monkeypatch.delenv("DATA_MASH_DB_URL", raising=False)
    capsys.readouterr()
    assert main(["locate", "R1", "--json"]) == 0
    owner = json.loads(capsys.readouterr().out)["owner"]
    assert (owner["owner"], owner["reason"], owner["since"][:10]) == (
        "new",
        "renewal",
        "2025-03-01",
    )


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("    to: nowhere\n", "unknown owner 'nowhere'"),
        ("    from: [legacy, new]\n", "is both 'to' and in 'from'"),
        ("    date: policy_core.renewal_day\n", "unknown renewal date field"),
        ("    when: renewal\n", "unknown key 'when'"),
    ],
)
def test_a_bad_renewal_rule_names_its_line(rule: str, message: str) -> None:
    text = "default: manual\nownership:\n  on_renewal:\n" + rule
    with pytest.raises(InputError, match=message) as caught:
        parse_policy(text, where="sync.yaml")
    assert "sync.yaml, line 4" in str(caught.value)  # the rule's own line
