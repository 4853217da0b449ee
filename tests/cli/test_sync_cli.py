"""`data-mash sync ledger|conflicts|resolve|status`: JSON keys, exit codes, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cli.main import main
from core.settings import Settings
from core.store import open_store
from tests.tools.sync.extracts import COLUMNS, write_extract
from tools.sync.conflicts import ConflictQueue
from tools.sync.contracts import Owner
from tools.sync.ledger import OwnershipLedger
from tools.sync.merge import merge
from tools.sync.policy import load_policy


@pytest.fixture(autouse=True)
def queued(store_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    monkeypatch.setenv("DATA_MASH_HOME", str(store_settings.home))
    monkeypatch.delenv("DATA_MASH_TENANT", raising=False)
    if store_settings.db_url:
        monkeypatch.setenv("DATA_MASH_DB_URL", store_settings.db_url)
    else:
        monkeypatch.delenv("DATA_MASH_DB_URL", raising=False)
    engine = open_store(store_settings)
    result = merge(
        {"policy_core": {"carrier": "A", "status": "active"}},
        {"policy_core": {"carrier": "B", "status": "cancelled"}},
        {"policy_core": {"carrier": "C", "status": "active"}},
        load_policy(),
    )
    ids = ConflictQueue(engine, tenant="default").enqueue("P1", result.queued)
    OwnershipLedger(engine, tenant="default").set_owner("P1", Owner.DUAL, reason="bridged")
    engine.dispose()
    return ids


def _json(capsys: pytest.CaptureFixture[str], *args: str, code: int = 0) -> dict[str, Any]:
    assert main([*args, "--json"]) == code
    return json.loads(capsys.readouterr().out)


def test_status_conflicts_resolve_ledger(
    capsys: pytest.CaptureFixture[str], queued: list[int]
) -> None:
    status = _json(capsys, "sync", "status")
    assert {"lag", "backlog", "conflicts"} <= set(status)
    assert (status["conflicts"], status["backlog"]) == (
        1,
        0,
    )  # a queued conflict is not a change waiting
    listed = _json(capsys, "sync", "conflicts")
    assert [c["id"] for c in listed["conflicts"]] == queued
    assert listed["conflicts"][0]["path"] == "policy_core.carrier"
    done = _json(capsys, "sync", "resolve", str(queued[0]), "--take", "value", "--value", '"D"')
    assert (done["state"], done["resolved_value"]) == ("resolved", "D")
    assert _json(capsys, "sync", "status")["conflicts"] == 0
    ledger = _json(capsys, "sync", "ledger")
    assert [(e["policy_id"], e["owner"]) for e in ledger["entries"]] == [("P1", "dual")]
    assert ledger["by_owner"]["dual"] == 1


def test_bad_resolves_and_waves_are_one_line_errors(
    capsys: pytest.CaptureFixture[str], queued: list[int]
) -> None:
    assert main(["sync", "resolve", str(queued[0]), "--take", "legacy"]) == 0
    capsys.readouterr()
    for args, words in (
        (["sync", "resolve", str(queued[0]), "--take", "new"], "already resolved"),
        (["sync", "resolve", "404", "--take", "new"], "no conflict 404"),
        (["sync", "ledger", "--from-wave", "nope"], "no wave 'nope'"),
    ):
        assert main(args) == 1
        err = capsys.readouterr().err
        assert words in err and "Traceback" not in err and err.count("\n") == 1
    assert main(["sync", "resolve", str(queued[0]), "--take", "maybe"]) == 2
    record = _json(capsys, "sync", "conflicts", "--all")["conflicts"][0]
    assert record["resolution"] == "legacy"  # the failed attempts changed nothing


def test_capture_a_later_extract(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATA_MASH_EMBEDDING_PROVIDER", "none")
    book = [{"id": f"P{i}", "status": "active", "city": "Bonn"} for i in range(4)]
    first = write_extract(tmp_path / "day1.csv", book)
    book[0]["city"], book = "Köln", book[:3]
    second = write_extract(tmp_path / "day2.csv", book)
    ids = [_json(capsys, "ingest", str(p), "--format", "csv")["source_id"] for p in (first, second)]
    maps = [arg for col, path in COLUMNS.items() for arg in ("--map", f"{col}={path}")]
    one = _json(capsys, "sync", "capture", ids[0], "--feed", "LEG", *maps)
    assert (one["snapshot"], one["inserts"]) == (1, 4)
    two = _json(capsys, "sync", "capture", ids[1], "--feed", "LEG")
    assert (two["snapshot"], two["inserts"], two["updates"], two["deletes"]) == (2, 0, 1, 1)
    assert main(["sync", "capture", ids[1], "--feed", "NEW"]) == 1
    assert "needs its column map" in capsys.readouterr().err
    assert main(["sync", "capture", ids[1], "--feed", "NEW", "--map", "oops"]) == 2
    capsys.readouterr()
    start = _json(capsys, "sync", "capture", ids[0], "--feed", "BASE", *maps, "--baseline")
    assert (start["snapshot"], start["baseline"], start["inserts"]) == (1, True, 0)
    later = _json(capsys, "sync", "capture", ids[1], "--feed", "BASE")
    assert (later["inserts"], later["updates"], later["deletes"]) == (0, 1, 1)
    assert main(["sync", "capture", ids[0], "--feed", "BASE", "--baseline"]) == 1
    assert "first capture; BASE is at snapshot 2" in capsys.readouterr().err
