"""Legacy change capture: a later extract against the last synced snapshot, durable first."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine, func, select

from core.errors import InputError
from core.settings import Settings
from core.store import open_store
from core.store.models import AuditEntry, SyncChangeRow, SyncFeedRow, table_of
from tests.tools.sync.extracts import COLUMNS, HEADER, ingest, write_extract
from tools.content.sources import SourceRegistry
from tools.sync.capture import LegacyCapture

CHANGE, FEED, ENTRY = table_of(SyncChangeRow), table_of(SyncFeedRow), table_of(AuditEntry)
ROOT = Path(__file__).resolve().parents[3]


def _book(n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"P{i:03d}",
            "status": "active",
            "carrier": "ACME",
            "city": "Bonn",
            "premium": 100 + i,
            "coverages": {"C1": "life", "C2": "health"},
        }
        for i in range(n)
    ]


@pytest.fixture
def quiet(store_settings: Settings) -> Settings:
    return store_settings.model_copy(update={"embedding_provider": "none"})


def _changes(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return conn.execute(
            select(CHANGE.c.policy_id, CHANGE.c.op, CHANGE.c.components, CHANGE.c.delta)
            .where(CHANGE.c.origin == "legacy")
            .order_by(CHANGE.c.id)
        ).all()


def test_inserts_updates_deletes_per_component(
    store: Engine, quiet: Settings, tmp_path: Path
) -> None:
    capture = LegacyCapture(store, quiet, tenant="default")
    book = _book(6)
    first = capture.capture(
        "leg", ingest(store, quiet, write_extract(tmp_path / "d1.csv", book)), COLUMNS
    )
    assert (first.snapshot, first.inserts, first.updates, first.deletes) == (1, 6, 0, 0)

    book[1]["city"] = "Köln"  # policy_core only
    book[2]["coverages"]["C2"] = "property"  # one coverage only
    book[4]["premium"] = 999  # rating only
    del book[3]
    book.append({"id": "P100", "status": "pending"})
    second_id = ingest(store, quiet, write_extract(tmp_path / "d2.csv", book))
    second = capture.capture("leg", second_id)
    assert (second.snapshot, second.inserts, second.updates, second.deletes) == (2, 1, 3, 1)
    rows = {r.policy_id: r for r in _changes(store)[6:]}
    assert rows["P001"].components == ["policy_core"]
    assert rows["P001"].delta == {"policy_core.insured_party.address.city": "Köln"}
    assert rows["P002"].components == ["coverage_sections"]
    assert rows["P002"].delta == {"coverage_sections[C2].coverage_type": "property"}
    assert rows["P004"].components == ["rating_components"]
    assert rows["P003"].op == "delete" and set(rows["P003"].delta.values()) == {None}
    assert rows["P100"].op == "insert"
    assert rows["P100"].delta == {"policy_core.policy_id": "P100", "policy_core.status": "pending"}

    again = capture.capture("leg", second_id)  # the current snapshot again: nothing new
    assert again.unchanged and len(_changes(store)) == 11
    with store.connect() as conn:
        feed = conn.execute(select(FEED)).one()
    assert (feed.snapshot_no, feed.source_id) == (2, second_id)


def test_wrong_layout_and_bad_map_write_nothing(
    store: Engine, quiet: Settings, tmp_path: Path
) -> None:
    capture = LegacyCapture(store, quiet, tenant="default")
    good = ingest(store, quiet, write_extract(tmp_path / "d1.csv", _book(3)))
    capture.capture("leg", good, COLUMNS)
    other = [h for h in HEADER if h != "CITY"]
    bad = ingest(store, quiet, write_extract(tmp_path / "d2.csv", _book(3), header=other))
    with store.connect() as conn:
        before = conn.execute(select(func.count()).select_from(ENTRY)).scalar_one()
    with pytest.raises(InputError, match="wrong layout.*CITY") as err:
        capture.capture("leg", bad)
    assert "d2.csv" in str(err.value)
    with pytest.raises(InputError, match="unknown canonical path 'policy_core.nope'"):
        capture.capture("other", good, {**COLUMNS, "CITY": "policy_core.nope"})
    with pytest.raises(InputError, match="exactly one column must map to policy_core.policy_id"):
        capture.capture("other", good, {"STAT": "policy_core.status"})
    with pytest.raises(InputError, match="differs from the feed's"):
        capture.capture("leg", good, {**COLUMNS, "CITY": "policy_core.carrier"})
    for name in ("", "  ", "x" * 129):
        with pytest.raises(InputError, match="a feed needs a name of 1 to 128") as err:
            capture.capture(name, good, COLUMNS)
        assert err.value.where == "--feed"
    with store.connect() as conn:
        after = conn.execute(select(func.count()).select_from(ENTRY)).scalar_one()
        feed = conn.execute(select(FEED)).one()
    assert after == before and feed.snapshot_no == 1 and len(_changes(store)) == 3


@pytest.mark.parametrize("stop", [1, 3])  # mid-way, and after the last batch (before the bookmark)
def test_sigkill_before_the_bookmark_loses_and_duplicates_nothing(
    store: Engine, quiet: Settings, tmp_path: Path, stop: int
) -> None:
    capture = LegacyCapture(store, quiet, tenant="default", batch=3)
    book = _book(12)
    capture.capture("leg", ingest(store, quiet, write_extract(tmp_path / "d1.csv", book)), COLUMNS)
    for i in range(0, 12, 2):
        book[i]["city"] = f"City{i}"  # 6 updates
    book += _book(15)[12:]  # 3 inserts: 9 changes, 3 batches of 3
    later = ingest(store, quiet, write_extract(tmp_path / "d2.csv", book))

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if quiet.db_url:
        env["DATA_MASH_DB_URL"] = quiet.db_url
    runner = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.tools.sync.capture_runner",
            str(quiet.home),
            "leg",
            later,
            str(stop - 1),
        ],
        cwd=ROOT,
        env=env,
    )
    marker = quiet.home / "at-point"
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert runner.poll() is None, "the runner ended before its crash point"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(runner.pid, signal.SIGKILL)
    runner.wait()

    with store.connect() as conn:
        assert conn.execute(select(FEED.c.snapshot_no)).scalar_one() == 1  # bookmark unmoved
    assert len(_changes(store)) == 12 + 3 * stop  # the committed batches are durable

    result = LegacyCapture(store, quiet, tenant="default", batch=3).capture("leg", later)
    assert (result.snapshot, result.inserts, result.updates) == (2, 3, 6)
    changes = _changes(store)[12:]
    assert len(changes) == 9 and len({c.policy_id for c in changes}) == 9
    with store.connect() as conn:
        feed = conn.execute(select(FEED)).one()
    assert (feed.snapshot_no, feed.source_id) == (2, later)
    # and the capture is over: the same extract again records nothing
    assert LegacyCapture(store, quiet, tenant="default").capture("leg", later).unchanged
    reopened = open_store(quiet)
    with reopened.connect() as conn:
        assert conn.execute(select(func.count()).select_from(CHANGE)).scalar_one() == 21
    reopened.dispose()


def _day_two(book: list[dict[str, Any]]) -> list[dict[str, Any]]:
    later = [dict(p, coverages=dict(p["coverages"])) for p in book]
    later[1]["city"] = "Köln"
    later[2]["coverages"]["C2"] = "property"
    del later[3]
    return [*later, {"id": "P100", "status": "pending"}]


def test_buckets_of_policies_find_what_one_bucket_finds(
    store: Engine, quiet: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = _book(20)
    first = ingest(store, quiet, write_extract(tmp_path / "d1.csv", book))
    second = ingest(store, quiet, write_extract(tmp_path / "d2.csv", _day_two(book)))
    found = []
    for feed, rows_per_bucket in (("one", 1_000), ("many", 3)):  # 1 bucket; 14 of 41 rows
        monkeypatch.setattr("tools.sync.capture.BUCKET_ROWS", rows_per_bucket)
        capture = LegacyCapture(store, quiet, tenant="default", batch=2)
        capture.capture(feed, first, COLUMNS, baseline=True)
        result = capture.capture(feed, second)
        assert (result.inserts, result.updates, result.deletes) == (1, 2, 1)
        snapshot = Path(capture._feed(feed).snapshot_path)
        assert len(list(snapshot.glob("bucket-*.parquet"))) == (1 if feed == "one" else 14)
        with store.connect() as conn:
            rows = conn.execute(
                select(CHANGE.c.policy_id, CHANGE.c.op, CHANGE.c.components, CHANGE.c.delta)
                .where(CHANGE.c.source.startswith(f"{feed}#"))
                .order_by(CHANGE.c.policy_id)
            ).all()
        found.append([tuple(r) for r in rows])
    assert found[0] == found[1]
    assert [r[0] for r in found[0]] == ["P001", "P002", "P003", "P100"]


def test_a_baseline_records_the_snapshot_without_a_change_per_policy(
    store: Engine, quiet: Settings, tmp_path: Path
) -> None:
    capture = LegacyCapture(store, quiet, tenant="default")
    book = _book(6)
    first = ingest(store, quiet, write_extract(tmp_path / "d1.csv", book))
    start = capture.capture("leg", first, COLUMNS, baseline=True)
    assert (start.snapshot, start.baseline, start.inserts) == (1, True, 0)
    assert _changes(store) == []
    with store.connect() as conn:
        entry = conn.execute(
            select(ENTRY.c.payload, ENTRY.c.outcome).where(ENTRY.c.operation == "capture")
        ).one()
        feed = conn.execute(select(FEED)).one()
    assert entry.payload["baseline"] is True and entry.outcome["baseline"] is True
    assert (feed.snapshot_no, feed.source_id) == (1, first)

    second = ingest(store, quiet, write_extract(tmp_path / "d2.csv", _day_two(book)))
    with pytest.raises(InputError, match="first capture; leg is at snapshot 1") as err:
        capture.capture("leg", second, baseline=True)
    assert "without --baseline" in (err.value.fix or "")
    with store.connect() as conn:
        assert conn.execute(select(FEED.c.snapshot_no)).scalar_one() == 1  # nothing written
    later = capture.capture("leg", second)
    assert (later.inserts, later.updates, later.deletes, later.baseline) == (1, 2, 1, False)
    assert {c.policy_id for c in _changes(store)} == {"P001", "P002", "P003", "P100"}


def _first_format(store: Engine, quiet: Settings, tmp_path: Path) -> tuple[LegacyCapture, str]:
    """A feed whose last snapshot is a file of the first format (ordered md5 folds)."""
    capture = LegacyCapture(store, quiet, tenant="default")
    book = _book(8)
    first = ingest(store, quiet, write_extract(tmp_path / "d1.csv", book))
    capture.capture("leg", first, COLUMNS, baseline=True)
    folder = Path(capture._feed("leg").snapshot_path)
    old = folder.with_name(folder.name + ".parquet")
    pq.write_table(
        pa.table({"policy_id": [p["id"] for p in book], "h_policy_core": ["x"] * len(book)}), old
    )
    shutil.rmtree(folder)
    with store.begin() as conn:
        conn.execute(FEED.update().values(snapshot_path=str(old)))
    second = ingest(store, quiet, write_extract(tmp_path / "d2.csv", _day_two(book)))
    return capture, second


def test_a_first_format_snapshot_is_rebuilt_from_its_extract(
    store: Engine, quiet: Settings, tmp_path: Path
) -> None:
    capture, second = _first_format(store, quiet, tmp_path)
    result = capture.capture("leg", second)
    assert (result.inserts, result.updates, result.deletes) == (1, 2, 1)
    assert Path(capture._feed("leg").snapshot_path).is_dir()


def test_a_first_format_snapshot_without_its_extract_is_a_clear_error(
    store: Engine, quiet: Settings, tmp_path: Path
) -> None:
    capture, second = _first_format(store, quiet, tmp_path)
    first = capture._feed("leg").source_id
    records = SourceRegistry(store, tenant="default").get(first).records_path
    shutil.rmtree(records)
    with pytest.raises(InputError, match="older format.*staged records of its extract") as err:
        capture.capture("leg", second)
    assert "--baseline" in (err.value.fix or "") and "ingest that extract again" in (
        err.value.fix or ""
    )
    with store.connect() as conn:
        assert conn.execute(select(FEED.c.snapshot_no)).scalar_one() == 1
    assert _changes(store) == []
