"""Fixtures writing small real source files of every format into tmp_path."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

ROWS = 100  # enough rows to need several batches at batch_rows=7


@pytest.fixture
def sample_files(tmp_path: Path) -> dict[str, tuple[Path, dict]]:
    """One file per format with ROWS records: {format: (path, options)}."""
    files: dict[str, tuple[Path, dict]] = {}
    csv = tmp_path / "pol.csv"
    csv.write_text("policy_id,premium\n" + "".join(f"P{i:05d},{i}.50\n" for i in range(ROWS)))
    files["csv"] = (csv, {})
    fw = tmp_path / "pol.txt"
    fw.write_text("".join(f"P{i:05d}{i:>8}\n" for i in range(ROWS)))
    files["fixed_width"] = (
        fw,
        {
            "fields": [
                {"name": "policy_id", "start": 1, "length": 6},
                {"name": "premium", "start": 7, "length": 8},
            ]
        },
    )
    jsonl = tmp_path / "pol.jsonl"
    jsonl.write_text(
        "".join(json.dumps({"policy_id": f"P{i:05d}", "premium": i}) + "\n" for i in range(ROWS))
    )
    files["jsonl"] = (jsonl, {})
    js = tmp_path / "pol.json"
    js.write_text(
        json.dumps([{"policy_id": f"P{i:05d}", "premium": i} for i in range(ROWS)], indent=1)
    )
    files["json"] = (js, {})
    xml = tmp_path / "pol.xml"
    xml.write_text(
        "<policies>"
        + "".join(
            f"<policy><policy_id>P{i:05d}</policy_id><premium>{i}</premium></policy>"
            for i in range(ROWS)
        )
        + "</policies>"
    )
    files["xml"] = (xml, {"record_element": "policy"})
    parquet = tmp_path / "pol.parquet"
    pq.write_table(
        pa.table({"policy_id": [f"P{i:05d}" for i in range(ROWS)], "premium": list(range(ROWS))}),
        parquet,
        row_group_size=30,
    )
    files["parquet"] = (parquet, {})
    db = tmp_path / "pol.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE policy (policy_id TEXT, premium INTEGER)")
    con.executemany("INSERT INTO policy VALUES (?, ?)", [(f"P{i:05d}", i) for i in range(ROWS)])
    con.commit()
    con.close()
    files["sqlite"] = (db, {"table": "policy"})
    files["xlsx"] = (
        write_xlsx(
            tmp_path / "pol.xlsx",
            {"Policies": [["policy_id", "premium"], *[[f"P{i:05d}", i] for i in range(ROWS)]]},
        ),
        {},
    )
    return files


@pytest.fixture
def xlsx_writer() -> Callable[[Path, dict[str, list[list[object]]]], Path]:
    """The workbook writer, for tests that need their own sheets."""
    return write_xlsx


def write_xlsx(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    """Write a workbook with xlsxwriter; date cells get a date format like real exports."""
    import xlsxwriter

    workbook = xlsxwriter.Workbook(str(path))
    date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
    for name, rows in sheets.items():
        sheet = workbook.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if isinstance(value, dt.date):
                    sheet.write_datetime(r, c, dt.datetime.combine(value, dt.time()), date_format)
                elif value is not None:
                    sheet.write(r, c, value)
    workbook.close()
    return path


@pytest.fixture
def read_all() -> Callable[..., tuple[pa.Table, list]]:
    """Read a whole file with a reader: (table of all records, all bad records)."""
    from tools.content.readers.registry import reader_for

    def _read(
        fmt: str, path: Path, options: dict | None = None, batch_rows: int = 1000
    ) -> tuple[pa.Table, list]:
        reader = reader_for(fmt)(path, options or {})
        batches, bad = [], []
        for batch in reader.batches(batch_rows):
            assert batch.records.num_rows <= batch_rows
            if batch.records.num_rows:
                batches.append(batch.records)
            bad.extend(batch.bad)
        table = pa.Table.from_batches(batches) if batches else pa.table({})
        return table, bad

    return _read


@pytest.fixture(scope="session")
def estate_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small sample estate shared by the content tests (generated once per session)."""
    from evals.estate import generate_estate

    out = tmp_path_factory.mktemp("estate") / "estate"
    generate_estate(out, policies=600, seed=5)
    return out
