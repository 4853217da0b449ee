"""new_platform: schema, atomic batches, wave ownership, health, PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from sqlalchemy import create_engine, inspect, text

from core.errors import InputError
from tools.waves.targets import make_target
from tools.waves.targets.base import POLICY_ID


@pytest.fixture
def platform(tmp_path: Path):
    target = make_target("new_platform", {"url": f"sqlite:///{tmp_path}/db/platform.sqlite"})
    yield target
    target.close()


def test_schema_has_one_column_per_leaf_and_the_upsert_key(platform, tmp_path: Path) -> None:
    assert platform.health().ok
    engine = create_engine(f"sqlite:///{tmp_path}/db/platform.sqlite")
    columns = {c["name"] for c in inspect(engine).get_columns("policy")}
    assert {
        "policy_core__policy_id",
        "policy_core__insured_party__address__state",
        "rating_components__premium_amount",
        "coverage_sections",
        "wave_id",
        "written_at",
    } <= columns
    assert inspect(engine).get_pk_constraint("policy")["constrained_columns"] == [
        "policy_core__policy_id"
    ]
    uniques = inspect(engine).get_unique_constraints("policy")
    assert [sorted(u["column_names"]) for u in uniques] == [["policy_core__policy_id", "wave_id"]]
    engine.dispose()


def test_amounts_are_stored_exactly_as_text_on_sqlite(platform, make_records, tmp_path) -> None:
    platform.write("w1", make_records([7]))
    engine = create_engine(f"sqlite:///{tmp_path}/db/platform.sqlite")
    with engine.connect() as conn:
        premium, covers = conn.execute(
            text("SELECT rating_components__premium_amount, coverage_sections FROM policy")
        ).one()
    engine.dispose()
    assert premium == "1007.25"
    assert '"limits.per_occurrence":"100000.00"' in covers


def test_a_failure_mid_batch_leaves_nothing_of_the_batch(platform, make_records) -> None:
    platform.write("w1", make_records([3]))
    # P00003 sits in the middle of the batch and belongs to w1: the insert fails on it.
    with pytest.raises(InputError) as err:
        platform.write("w2", make_records(range(6)))
    assert "P00003 (wave w1)" in err.value.message
    assert platform.count("w2") == 0
    assert platform.count("w1") == 1


def test_duplicate_ids_in_a_batch_are_refused(platform, make_records) -> None:
    records = make_records([1, 1, 2])
    with pytest.raises(InputError, match="P00001"):
        platform.write("w1", records)


def test_records_without_policy_id_are_refused(platform) -> None:
    with pytest.raises(InputError, match="policy_core.policy_id"):
        platform.write("w1", pa.table({"x": [1]}))


def test_health_reports_an_unreachable_server() -> None:
    target = make_target(
        "new_platform", {"url": "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2"}
    )
    status = target.health()
    assert not status.ok
    assert "cannot connect" in status.detail


def test_health_refuses_a_foreign_table_of_the_same_name(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/other.sqlite"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE policy (id INTEGER)"))
    engine.dispose()
    status = make_target("new_platform", {"url": url}).health()
    assert not status.ok
    assert "another layout" in status.detail


@pytest.mark.postgres
def test_round_trip_on_postgresql(pg_url: str, make_records) -> None:
    target = make_target("new_platform", {"url": pg_url})
    try:
        assert target.health().ok
        records = make_records(range(8))
        assert target.write("w1", records) == 8
        assert target.write("w1", records) == 8
        assert target.count("w1") == 8
        back = pa.Table.from_batches(list(target.read_back("w1", batch_rows=3)))
        assert back.sort_by(POLICY_ID).to_pylist() == records.sort_by(POLICY_ID).to_pylist()
        with pytest.raises(InputError, match="another wave"):
            target.write("w2", make_records(range(7, 9)))
        assert target.count("w2") == 0
        assert target.delete("w1", ["P00000"]) == 1
        assert target.delete("w1") == 7
    finally:
        target.close()
