"""Every built-in target honours the MigrationTarget contract on real files / SQLite."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from tools.waves.targets import MigrationTarget, make_target
from tools.waves.targets.base import POLICY_ID

CONFIGS: dict[str, Callable[[Path], tuple[str, dict[str, Any]]]] = {
    "new_platform": lambda p: ("new_platform", {"url": f"sqlite:///{p}/platform.sqlite"}),
    "legacy_csv": lambda p: ("legacy_batch", {"dir": str(p / "drop"), "layout": "csv"}),
    "legacy_fixed": lambda p: (
        "legacy_batch",
        {"dir": str(p / "drop"), "layout": "fixed", "widths": {"endorsements": 400}},
    ),
    "coexistence_bridge": lambda p: ("coexistence_bridge", {"dir": str(p / "bridge")}),
    "data_quality_queue": lambda p: ("data_quality_queue", {"url": f"sqlite:///{p}/dq.sqlite"}),
}


@pytest.fixture(params=sorted(CONFIGS))
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MigrationTarget]:
    name, config = CONFIGS[request.param](tmp_path)
    instance = make_target(name, config)
    yield instance
    getattr(instance, "close", lambda: None)()


def _read(target: MigrationTarget, wave: str) -> pa.Table:
    batches = list(target.read_back(wave, batch_rows=4))
    if not batches:
        return pa.table({POLICY_ID: pa.array([], pa.string())})
    return pa.Table.from_batches(batches).sort_by(POLICY_ID)


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    # The bridge validates through the pydantic model, whose default for an absent list is ();
    # null and empty lists mean the same, so compare with nulls read as [].
    lists = {f.name for f in table.schema if pa.types.is_list(f.type)}
    return [
        {k: ([] if k in lists and v is None else v) for k, v in row.items()}
        for row in table.to_pylist()
    ]


def test_is_a_migration_target(target: MigrationTarget) -> None:
    assert isinstance(target, MigrationTarget)
    assert target.health().ok


def test_write_then_read_back_round_trips_exactly(target: MigrationTarget, make_records) -> None:
    records = make_records(range(10))
    assert target.write("w1", records) == 10
    assert target.count("w1") == 10
    back = _read(target, "w1")
    assert back.schema.equals(records.schema)
    assert _rows(back) == _rows(records.sort_by(POLICY_ID))


def test_rewriting_a_batch_is_idempotent(target: MigrationTarget, make_records) -> None:
    records = make_records(range(6))
    target.write("w1", records)
    target.write("w1", records)
    assert target.count("w1") == 6
    assert _read(target, "w1").num_rows == 6


def test_overlapping_batch_upserts(target: MigrationTarget, make_records) -> None:
    target.write("w1", make_records(range(0, 6)))
    target.write("w1", make_records(range(3, 9), premium="7.00"))
    back = _read(target, "w1")
    assert back.column(POLICY_ID).to_pylist() == [f"P{n:05d}" for n in range(9)]
    premiums = [str(v) for v in back.column("rating_components.premium_amount").to_pylist()]
    assert premiums[:3] == ["1000.25", "1001.25", "1002.25"]
    assert set(premiums[3:]) == {"7.00"}


def test_delete_by_policy_then_whole_wave(target: MigrationTarget, make_records) -> None:
    target.write("w1", make_records(range(5)))
    target.write("w2", make_records(range(10, 13)))
    assert target.delete("w1", ["P00001", "P00003", "P99999"]) == 2
    assert _read(target, "w1").column(POLICY_ID).to_pylist() == ["P00000", "P00002", "P00004"]
    assert target.delete("w1") == 3
    assert target.delete("w1") == 0
    assert target.count("w1") == 0
    assert _read(target, "w1").num_rows == 0
    assert target.count("w2") == 3  # other waves untouched


def test_empty_wave_and_empty_batch(target: MigrationTarget, make_records) -> None:
    assert target.count("nothing") == 0
    assert list(target.read_back("nothing")) == []
    assert target.write("w1", make_records([]).slice(0, 0)) == 0
