"""Profiling by ranges of rows on every executor: a process pool and Ray (a local instance, 2
workers, one of them killed mid-task) give the local executor's profile byte for byte, and the
ranges merged give what one pass over the records gives."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from core.executors import Executor, LocalExecutor, ProcessExecutor, RayExecutor
from tests.tools.waves.executor_helpers import KillingExecutor
from tools.content.profile import profile_batches
from tools.content.profiling import profile_staged, row_ranges
from tools.content.staging import PartWriter, staged_batches

ROWS, WRITE_ROWS, TASK_ROWS = 12_000, 1_000, 2_500


def _batch(start: int, n: int) -> pa.RecordBatch:
    rows = range(start, start + n)
    columns: dict[str, pa.Array] = {
        # duplicates every 97th key: the key check must see keys of other ranges
        "policy_number": pa.array([f"P{(i // 97 * 97 if i % 97 == 1 else i):07d}" for i in rows]),
        "issue_date": pa.array(
            [None if i % 13 == 0 else f"20{i % 30:02d}-{i % 14:02d}-{i % 29 + 1:02d}" for i in rows]
        ),
        "paid_to": pa.array([20200101 + (i % 12) * 100 + i % 31 for i in rows], pa.int64()),
        "state": pa.array([["TX", "CA", "NY", " ", "ny"][i % 5] for i in rows]),
        "premium": pa.array([f"{(i * 37) % 9000 / 7:.2f}" for i in rows]),
        "note": pa.array([f"free text {i % 311} of row" if i % 3 else None for i in rows]),
    }
    if start < ROWS // 3:  # a column the first third has: null in every row after
        columns["legacy_flag"] = pa.array(["Y" if i % 4 else "N" for i in rows])
    if start >= ROWS // 2:  # a column the second half adds: null in every row before
        columns["agent_code"] = pa.array([f"AG{i % 41:03d}" for i in rows])
    return pa.RecordBatch.from_pydict(columns)


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("staged") / "records"
    writer = PartWriter(folder)  # one row group per write; a new part when the schema changes
    for start in range(0, ROWS, WRITE_ROWS):
        writer.write(_batch(start, WRITE_ROWS))
    writer.close()
    return folder


def _profile(records: Path, executor: Executor) -> str:
    data = profile_staged(records, executor=executor, task_rows=TASK_ROWS)
    return json.dumps(data, sort_keys=True)


@pytest.fixture(scope="module")
def local(records: Path) -> str:
    return _profile(records, LocalExecutor())


def test_ranges_cover_every_row_once_and_merge_to_the_one_pass_profile(
    records: Path, local: str
) -> None:
    ranges = list(row_ranges(records, TASK_ROWS))
    assert len({part for part, _, _ in ranges}) == 3 and len(ranges) >= 5
    assert [first for _, _, first in ranges] == sorted({first for _, _, first in ranges})
    data = json.loads(local)
    one_pass = profile_batches(staged_batches(records), data["key_columns"]).model_dump(mode="json")
    assert {k: v for k, v in data.items() if k != "layout_fingerprint"} == one_pass
    assert data["records"] == ROWS and data["key_columns"] == ["policy_number"]
    assert data["duplicate_keys"]["count"] > 0
    by_name = {c["name"]: c for c in data["columns"]}
    assert by_name["agent_code"]["null_count"] == ROWS // 2
    assert by_name["legacy_flag"]["null_count"] == ROWS - ROWS // 3
    assert by_name["issue_date"]["invalid_dates"]["count"] > 0


def test_profile_on_ray_is_the_local_profile_with_a_killed_worker(
    records: Path, local: str, ray_executor: RayExecutor, tmp_path: Path
) -> None:
    marker = tmp_path / "killed"
    assert _profile(records, KillingExecutor(ray_executor, str(marker))) == local
    assert marker.exists()  # a worker died holding a range; Ray ran it again


def test_profile_on_a_process_pool_is_the_local_profile(records: Path, local: str) -> None:
    pool = ProcessExecutor(2)
    try:
        assert _profile(records, pool) == local
    finally:
        pool.close()
