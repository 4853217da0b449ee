"""Fuzz the binary readers (xlsx, parquet, sqlite): issue 13 asks for each reader.

Random bytes rarely get past a binary format's magic number, so each case starts from a valid
file and mutates it (bytes overwritten, a range cut out, the file truncated). Seeded and bounded
like tests/tools/content/test_fuzz_inputs.py: any input gives records or a DataMashError, never
another exception, within the deadline and without the process's peak memory growing past a cap.
"""

from __future__ import annotations

import datetime as dt
import resource
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import DataMashError
from tests.tools.content.conftest import write_xlsx
from tools.content.readers.columnar import ParquetReader
from tools.content.readers.spreadsheet import XlsxReader
from tools.content.readers.sqlite_table import SqliteReader

FUZZ = settings(
    max_examples=150,
    deadline=timedelta(seconds=5),  # generous: the machine is shared; hangs still fail
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MEMORY_CAP = 64 * 1024 * 1024


def _parquet(path: Path) -> None:
    table = pa.table(
        {
            "policy_id": [f"P{i:06d}" for i in range(40)],
            "premium": [i * 10.5 for i in range(40)],
            "holder": pa.array([{"name": f"n{i}", "age": i} for i in range(40)]),
        }
    )
    pq.write_table(table, path, row_group_size=16)


def _xlsx(path: Path) -> None:
    rows: list[list[object]] = [["policy_id", "premium", "start"]]
    rows += [[f"P{i:06d}", i * 10.5, dt.date(2024, 1, i % 28 + 1)] for i in range(30)]
    write_xlsx(path, {"Policies": rows})


def _sqlite(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE policy (policy_id TEXT, premium REAL, data BLOB)")
        db.executemany(
            "INSERT INTO policy VALUES (?, ?, ?)",
            [(f"P{i:06d}", i * 10.5, bytes([i])) for i in range(60)],
        )
    sqlite3.connect(path).close()


_CASES: dict[str, tuple[Callable[[Path], None], Any, dict[str, Any]]] = {
    "parquet": (_parquet, ParquetReader, {}),
    "xlsx": (_xlsx, XlsxReader, {}),
    "sqlite": (_sqlite, SqliteReader, {"table": "policy"}),
}


@pytest.fixture(scope="module")
def valid_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("valid")
    out = {}
    for name, (write, reader_cls, options) in _CASES.items():
        path = folder / name
        write(path)
        assert sum(b.num_rows for b in _batches(reader_cls, path, options)) > 0  # it is valid
        out[name] = path.read_bytes()
    return out


def _batches(reader_cls: Any, path: Path, options: dict[str, Any]) -> list[Any]:
    return [b.records for b in reader_cls(path, options).batches(7)]


@contextmanager
def _bounded_peak_rss() -> Iterator[None]:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    yield
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    assert grown < MEMORY_CAP, f"peak RSS grew by {grown:,} bytes"


_EDITS = st.lists(
    st.one_of(
        st.tuples(st.just("set"), st.floats(0, 1), st.binary(min_size=1, max_size=8)),
        st.tuples(st.just("cut"), st.floats(0, 1), st.integers(1, 64)),
        st.tuples(st.just("truncate"), st.floats(0, 1), st.just(0)),
    ),
    min_size=1,
    max_size=6,
)


def _mutate(raw: bytes, edits: list[tuple[str, float, Any]]) -> bytes:
    data = bytearray(raw)
    for kind, where, what in edits:
        at = int(where * max(len(data) - 1, 0))
        if kind == "set":
            data[at : at + len(what)] = what
        elif kind == "cut":
            del data[at : at + what]
        else:
            del data[at:]
    return bytes(data)


@FUZZ
@given(name=st.sampled_from(sorted(_CASES)), edits=_EDITS)
def test_mutated_binary_files_give_records_or_a_data_mash_error(
    valid_files: dict[str, bytes], name: str, edits: list[tuple[str, float, Any]]
) -> None:
    _, reader_cls, options = _CASES[name]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(_mutate(valid_files[name], edits))
        with _bounded_peak_rss():
            try:
                _batches(reader_cls, path, options)
            except DataMashError:
                pass


@FUZZ
@given(name=st.sampled_from(sorted(_CASES)), raw=st.binary(max_size=400))
def test_random_bytes_give_a_data_mash_error(name: str, raw: bytes) -> None:
    _, reader_cls, options = _CASES[name]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(raw)
        with _bounded_peak_rss():
            try:
                _batches(reader_cls, path, options)
            except DataMashError:
                pass
