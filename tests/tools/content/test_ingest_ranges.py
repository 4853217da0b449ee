"""Ingest decodes a splittable file (fixed-length COBOL records) range by range on the executor:
the ranges decode to what one pass gives, and a process pool and Ray (a local instance, 2
workers, one killed mid-range) stage the local executor's files byte for byte."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from core.executors import Executor, LocalExecutor, ProcessExecutor, RayExecutor
from core.settings import Settings
from core.store import open_store
from tests.tools.waves.executor_helpers import KillingExecutor
from tools.content.cobol import CobolReader
from tools.content.ingest import ingest_file
from tools.content.sources import SourceRegistry

CPY = """\
       01  POLICY.
           05  POL-ID          PIC X(8).
           05  PREMIUM         PIC S9(5)V99 COMP-3.
           05  AGE             PIC 9(3).
           05  STATE           PIC X(2).
"""
RECORDS, BATCH = 1_050, 100


def _packed(value: int) -> bytes:
    digits = str(abs(value)).rjust(7, "0")
    return bytes.fromhex(digits + ("D" if value < 0 else "C"))


def _record(i: int) -> bytes:
    age = "A1B" if i % 50 == 7 else f"{i % 90:03d}"  # every 50th record: an invalid number
    premium = _packed(i * 37 - 9_000) if i % 61 else b"\x1a\x34\x56\x7c"  # a non-digit nibble
    state = ["TX", "CA", "NY"][i % 3]
    return f"P{i:07d}".encode("cp037") + premium + age.encode("cp037") + state.encode("cp037")


@pytest.fixture(scope="module")
def cobol_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("cobol")
    (folder / "pol.cpy").write_text(CPY)
    path = folder / "POLMAST.dat"
    path.write_bytes(b"".join(_record(i) for i in range(RECORDS)))
    return path, {"copybook": str(folder / "pol.cpy"), "encoding": "cp037"}


@pytest.fixture(scope="module")
def ray_executor() -> Iterator[RayExecutor]:
    pytest.importorskip("ray")
    executor = RayExecutor(address=None, workers=2, max_retries=3)
    yield executor
    executor.close()


def test_ranges_decode_what_one_pass_decodes(cobol_file: tuple[Path, dict[str, Any]]) -> None:
    path, options = cobol_file
    reader = CobolReader(path, options)
    ranges = reader.record_ranges(BATCH)
    assert ranges is not None and len(ranges) == 11 and ranges[-1] == (1_000, 50)
    whole = list(reader.batches(BATCH))
    parts = [b for first, count in ranges for b in reader.range_batches(first, count, BATCH)]
    assert pa.Table.from_batches([b.records for b in parts]) == pa.Table.from_batches(
        [b.records for b in whole]
    )
    bad = [b for batch in parts for b in batch.bad]
    assert bad == [b for batch in whole for b in batch.bad]
    assert len(bad) > 30 and {b.record_index for b in bad} >= {7, 57, 61, 1_007}
    # not splittable without reading what comes before: a compressed or text-record file
    assert CobolReader(path, {**options, "record_format": "D"}).record_ranges(BATCH) is None


def _ingest_with(
    root: Path, cobol_file: tuple[Path, dict[str, Any]], executor: Executor
) -> dict[str, Any]:
    path, options = cobol_file
    settings = Settings(home=root, batch_size=BATCH, embedding_provider="none")
    engine = open_store(settings)
    result = ingest_file(
        engine, settings, path, fmt="cobol", options=options, name="polmast", executor=executor
    )
    staged = Path(SourceRegistry(engine, tenant="default").get(result.source_id).staging_dir)
    engine.dispose()
    files = {
        str(p.relative_to(staged)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(staged.rglob("*"))
        if p.is_file()
    }
    return {"result": result.model_dump(mode="json"), "files": files}


@pytest.fixture(scope="module")
def local(
    tmp_path_factory: pytest.TempPathFactory, cobol_file: tuple[Path, dict[str, Any]]
) -> dict[str, Any]:
    outputs = _ingest_with(tmp_path_factory.mktemp("local"), cobol_file, LocalExecutor())
    assert outputs["result"]["records"] == RECORDS
    assert outputs["result"]["bad_records"] > 20
    assert sum(name.startswith("records/part-") for name in outputs["files"]) == 11
    assert {"quarantine.parquet", "profile.json"} <= set(outputs["files"])
    return outputs


def test_ingest_on_ray_stages_the_local_files_with_a_killed_worker(
    tmp_path: Path,
    cobol_file: tuple[Path, dict[str, Any]],
    local: dict[str, Any],
    ray_executor: RayExecutor,
) -> None:
    marker = tmp_path / "killed"
    on_ray = _ingest_with(tmp_path / "ws", cobol_file, KillingExecutor(ray_executor, str(marker)))
    assert marker.exists()  # a worker died holding a range; Ray decoded it again
    assert on_ray == local


def test_ingest_on_a_process_pool_stages_the_local_files(
    tmp_path: Path, cobol_file: tuple[Path, dict[str, Any]], local: dict[str, Any]
) -> None:
    pool = ProcessExecutor(2)
    try:
        assert _ingest_with(tmp_path / "ws", cobol_file, pool) == local
    finally:
        pool.close()
