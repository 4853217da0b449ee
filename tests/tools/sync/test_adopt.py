"""After a wave: sync takes the policies as the wave's target store holds them (read back through
the target plugin), so a later legacy extract is compared with what the wave migrated."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
from pathlib import Path

import pyarrow as pa
import pytest
from sqlalchemy import Engine, select

from core.errors import InputError
from core.settings import Settings
from core.store.models import SyncChangeRow, SyncPolicyRow, table_of
from tests.tools.sync.extracts import ingest
from tests.tools.waves.helpers import canonical_table, make_context, register_source, write_parts
from tools.sync.adopt import _nested, adopt_wave, documents_of
from tools.sync.capture import LegacyCapture
from tools.sync.paths import flatten
from tools.sync.platform import NewPlatform, flat_document
from tools.sync.service import run_sync
from tools.waves import WaveContext, generate_plan, run_wave

STATE, CHANGE = table_of(SyncPolicyRow), table_of(SyncChangeRow)
PREMIUM = "rating_components.premium_amount"
FEED = {"POLNO": "policy_core.policy_id", "STAT": "policy_core.status", "PREM": PREMIUM}


def _migrated(
    engine: Engine, settings: Settings, tmp_path: Path, *, run: bool = True
) -> tuple[WaveContext, str]:
    folders = {"src-a": write_parts(tmp_path / "a", canonical_table(12, prefix="A"), 6)}
    register_source(engine, settings, "src-a", 12)
    context = make_context(engine, settings, folders)
    wave_id = generate_plan(context, source_ids=["src-a"], target="new_platform").waves[0].wave_id
    if run:
        assert run_wave(context, wave_id).status == "completed"
    return context, wave_id


def _extract(path: Path, docs: dict[str, dict[str, object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(list(FEED))
        for pid in sorted(docs):
            writer.writerow([pid, docs[pid]["policy_core.status"], docs[pid][PREMIUM]])
    return path


def test_a_later_extract_is_compared_with_what_the_wave_migrated(
    store: Engine, store_settings: Settings, tmp_path: Path
) -> None:
    context, wave_id = _migrated(store, store_settings, tmp_path)
    target = context.target("new_platform")
    truth = {pid: doc for batch in target.read_back(wave_id) for pid, doc in documents_of(batch)}
    assert len(truth) == 12 and truth["A000003"]["coverage_sections[C3-2].coverage_type"] == (
        "property"
    )

    report = adopt_wave(store, store_settings, wave_id, tenant="default", context=context)
    assert (report.policies, report.fresh, report.changed) == (12, 12, 0)
    platform = NewPlatform(store, tenant="default")
    assert platform.document("A000003") == truth["A000003"]  # the child rows came along
    again = adopt_wave(store, store_settings, wave_id, tenant="default", context=context)
    assert again == report  # idempotent per wave run

    # the legacy system's next extract: one premium changed, everything else as migrated
    later = {pid: dict(doc) for pid, doc in truth.items()}
    later["A000003"][PREMIUM] = "999.50"
    source = ingest(store, store_settings, _extract(tmp_path / "ext.csv", later))
    LegacyCapture(store, store_settings, tenant="default").capture("leg", source, FEED)
    run = run_sync(store, store_settings, tenant="default")

    assert (run.apply.from_legacy, run.apply.resolved, run.apply.queued) == (1, 0, 0)
    assert platform.document("A000003") == {**truth["A000003"], PREMIUM: "999.50"}
    assert all(platform.document(pid) == truth[pid] for pid in truth if pid != "A000003")
    assert run.delivered_legacy == 0  # the legacy side already holds everything else


def test_a_followed_policy_gets_the_difference_as_a_change_from_new(
    store: Engine, store_settings: Settings, tmp_path: Path
) -> None:
    context, wave_id = _migrated(store, store_settings, tmp_path, run=False)
    # written before the wave placed it on the platform: sync follows it already
    platform = NewPlatform(store, tenant="default", settings=store_settings)
    platform.write_policy("A000001", {"policy_core.policy_id": "A000001", PREMIUM: "1.00"})
    run_sync(store, store_settings, tenant="default")
    assert run_wave(context, wave_id).status == "completed"
    report = adopt_wave(store, store_settings, wave_id, tenant="default", context=context)
    assert (report.fresh, report.changed) == (11, 1)
    with store.connect() as conn:
        pending = conn.execute(
            select(CHANGE.c.policy_id, CHANGE.c.delta).where(
                CHANGE.c.state == "pending", CHANGE.c.source == f"wave {wave_id}"
            )
        ).all()
    assert [p for p, _ in pending] == ["A000001"] and pending[0][1][PREMIUM] == "101.50"


def test_a_wave_that_has_not_completed_is_refused(
    store: Engine, store_settings: Settings, tmp_path: Path
) -> None:
    context, wave_id = _migrated(store, store_settings, tmp_path, run=False)
    with pytest.raises(InputError, match="is pending"):
        adopt_wave(store, store_settings, wave_id, tenant="default", context=context)
    with store.connect() as conn:
        assert conn.execute(select(STATE.c.policy_id)).first() is None


def _reference(row: dict[str, object]) -> dict[str, object]:
    """What adopt made of a read-back row before flat_row: build the nested tree, flatten it."""
    return flat_document(flatten(_nested(row)))


def test_flat_rows_are_the_flattened_nested_documents_key_for_key() -> None:
    """flat_row skips the nested tree; the documents (and their key order) stay the same."""
    item = pa.struct([("coverage_id", pa.string()), ("limits.aggregate", pa.decimal128(12, 2))])
    batch = pa.RecordBatch.from_pydict(
        {
            "rating_components.premium_amount": pa.array(
                [decimal.Decimal("12.50"), None, decimal.Decimal("0")], pa.decimal128(12, 2)
            ),
            "policy_core.policy_id": ["P-1", "P-2", "P-3"],
            "policy_core.insured_party.name": [" Ana ", "", None],
            "policy_core.effective_date": pa.array(
                [dt.date(2024, 1, 2), None, dt.date(2023, 5, 6)], pa.date32()
            ),
            "policy_core-x": [1, 0, None],
            "coverage_sections": pa.array(
                [
                    [{"coverage_id": "C1", "limits.aggregate": decimal.Decimal("5.00")}],
                    [],
                    None,
                ],
                pa.list_(item),
            ),
            "endorsements": pa.array([["a", "b"], None, []], pa.list_(pa.string())),
            "payments": pa.array(
                [{"plan": "monthly", "balance": None}, None, {}],
                pa.struct([("plan", pa.string()), ("balance", pa.float64())]),
            ),
        }
    )
    got = dict(documents_of(batch))
    want = {str(r["policy_core.policy_id"]): _reference(r) for r in batch.to_pylist()}
    assert got == want
    assert [list(d) for d in got.values()] == [list(d) for d in want.values()]
    assert got["P-1"]["coverage_sections[C1].limits.aggregate"] == "5.00"
