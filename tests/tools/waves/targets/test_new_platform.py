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


CHILDREN = (
    "coverage",
    "payment",
    "endorsement",
    "document",
    "communication",
    "notice",
    "claim_link",
    "rating_factor",
    "calculation",
)


def test_schema_is_a_policy_table_with_one_child_table_per_component(
    platform, tmp_path: Path
) -> None:
    assert platform.health().ok
    engine = create_engine(f"sqlite:///{tmp_path}/db/platform.sqlite")
    columns = {c["name"] for c in inspect(engine).get_columns("policy")}
    assert {
        "policy_core__policy_id",
        "policy_core__insured_party__address__state",
        "rating_components__premium_amount",
        "coverage_sections__items",
        "wave_id",
        "written_at",
    } <= columns
    assert "coverage_sections" not in columns  # no JSON document in the policy row
    assert inspect(engine).get_pk_constraint("policy")["constrained_columns"] == [
        "policy_core__policy_id"
    ]
    uniques = inspect(engine).get_unique_constraints("policy")
    assert [sorted(u["column_names"]) for u in uniques] == [["policy_core__policy_id", "wave_id"]]
    assert set(CHILDREN) <= set(inspect(engine).get_table_names())
    for child in CHILDREN:
        (fk,) = inspect(engine).get_foreign_keys(child)
        assert fk["referred_table"] == "policy"
        assert fk["constrained_columns"] == ["policy_id"]
        assert fk["options"].get("ondelete") == "CASCADE"
    coverage = {c["name"] for c in inspect(engine).get_columns("coverage")}
    assert {"policy_id", "item_no", "wave_id", "limits__per_occurrence"} <= coverage
    engine.dispose()


def _count(tmp_path: Path, sql: str) -> list[tuple]:
    engine = create_engine(f"sqlite:///{tmp_path}/db/platform.sqlite")
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(text(sql))]
    engine.dispose()
    return rows


def test_components_are_child_rows_with_exact_text_amounts(
    platform, make_records, tmp_path
) -> None:
    platform.write("w1", make_records([7, 8]))
    premium, items = _count(
        tmp_path,
        "SELECT rating_components__premium_amount, coverage_sections__items FROM policy "
        "WHERE policy_core__policy_id = 'P00007'",
    )[0]
    assert (premium, items) == ("1007.25", 2)
    assert _count(
        tmp_path,
        "SELECT policy_id, item_no, coverage_id, limits__per_occurrence FROM coverage "
        "ORDER BY policy_id, item_no",
    ) == [
        ("P00007", 0, "C7-0", "100000.00"),
        ("P00007", 1, "C7-1", "200000.00"),
        ("P00008", 0, "C8-0", "100000.00"),
        ("P00008", 1, "C8-1", "200000.00"),
        ("P00008", 2, "C8-2", "300000.00"),
    ]
    assert _count(tmp_path, "SELECT policy_id, changes FROM endorsement") == [
        ("P00008", "line1\nline2")
    ]
    assert platform.children("w1")["coverage"] == 5


def test_rewriting_a_policy_replaces_its_children(platform, make_records, tmp_path) -> None:
    platform.write("w1", make_records([8]))  # three coverages
    fewer = make_records([8]).to_pylist()
    fewer[0]["coverage_sections"] = fewer[0]["coverage_sections"][:1]
    platform.write("w1", pa.Table.from_pylist(fewer, schema=make_records([8]).schema))
    assert _count(tmp_path, "SELECT COUNT(*) FROM coverage") == [(1,)]
    back = pa.Table.from_batches(list(platform.read_back("w1")))
    assert len(back.column("coverage_sections")[0].as_py()) == 1


def test_deleting_policies_removes_their_children(platform, make_records, tmp_path) -> None:
    platform.write("w1", make_records(range(8)))
    assert platform.delete("w1", ["P00000", "P00004"]) == 2
    assert _count(tmp_path, "SELECT COUNT(*) FROM endorsement") == [(0,)]
    left = {r[0] for r in _count(tmp_path, "SELECT DISTINCT policy_id FROM coverage")}
    assert left == {f"P{n:05d}" for n in (1, 2, 3, 5, 6, 7)}
    assert platform.delete("w1") == 6
    assert platform.delete("w1") == 0  # idempotent
    for child in CHILDREN:
        assert _count(tmp_path, f"SELECT COUNT(*) FROM {child}") == [(0,)]


def test_foreign_keys_hold_in_the_database(platform, make_records, tmp_path) -> None:
    platform.write("w1", make_records([1]))
    engine = create_engine(f"sqlite:///{tmp_path}/db/platform.sqlite")
    with engine.begin() as conn:
        conn.execute(text("PRAGMA foreign_keys=ON"))
        conn.execute(text("DELETE FROM policy"))  # cascades to the children
        assert conn.execute(text("SELECT COUNT(*) FROM coverage")).scalar_one() == 0
    engine.dispose()


def test_a_batch_whose_policy_another_wave_owns_leaves_no_children(
    platform, make_records, tmp_path
) -> None:
    platform.write("w1", make_records([3]))
    with pytest.raises(InputError):
        platform.write("w2", make_records(range(6)))
    assert _count(tmp_path, "SELECT DISTINCT wave_id FROM coverage") == [("w1",)]


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
        assert target.children("w1")["coverage"] == sum(1 + n % 3 for n in range(8))
        assert target.delete("w1", ["P00000"]) == 1
        assert target.delete("w1") == 7
        assert set(target.children("w1").values()) == {0}
    finally:
        target.close()
