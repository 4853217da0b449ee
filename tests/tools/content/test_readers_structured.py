"""JSON, JSONL, XML, XLSX, Parquet and SQLite readers on real files."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.errors import InputError


def test_jsonl_flattens_objects_keeps_lists_and_reports_bad_lines(tmp_path: Path, read_all) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(
        json.dumps(
            {
                "id": 1,
                "insured": {"name": "A", "addr": {"city": "Kiel"}},
                "tags": ["x", "y"],
                "covs": [{"type": "fire", "limit": {"amt": 5}}],
            }
        )
        + "\n"
        + "{not json\n\n"
        + json.dumps({"id": 2, "insured": {"name": "B"}, "extra": 2.5})
        + "\n"
        + "[1, 2]\n"
    )
    table, bad = read_all("jsonl", path)
    assert table.column_names == [
        "id",
        "insured.name",
        "insured.addr.city",
        "tags",
        "covs",
        "extra",
    ]
    assert table.column("insured.addr.city").to_pylist() == ["Kiel", None]
    assert table.column("tags").to_pylist() == [["x", "y"], None]
    assert table.schema.field("covs").type == pa.list_(
        pa.struct([("type", pa.string()), ("limit.amt", pa.int64())])
    )
    assert [(b.line, b.record_index) for b in bad] == [(2, 1), (5, 3)]
    assert "invalid JSON" in bad[0].reason and "expected a JSON object" in bad[1].reason


def test_jsonl_mixed_types_become_text(tmp_path: Path, read_all) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text('{"v": 1}\n{"v": "A"}\n{"v": true}\n')
    table, _ = read_all("jsonl", path, batch_rows=1)
    assert table.column("v").to_pylist() == ["1", "A", "true"]


def test_json_array_and_records_key(tmp_path: Path, read_all) -> None:
    path = tmp_path / "a.json"
    path.write_text(json.dumps([{"a": 1, "b": {"c": "x"}}, {"a": 2}]))
    table, _ = read_all("json", path)
    assert table.to_pydict() == {"a": [1, 2], "b.c": ["x", None]}
    wrapped = tmp_path / "w.json"
    wrapped.write_text(
        json.dumps({"meta": {"n": [1, 2]}, "policies": [{"a": 1}, {"a": 2}]}, indent=2)
    )
    table, _ = read_all("json", wrapped, {"records_key": "policies"})
    assert table.column("a").to_pylist() == [1, 2]
    with pytest.raises(InputError, match="no 'records' array.*meta, policies"):
        read_all("json", wrapped)


def test_json_large_array_streams_in_chunks(tmp_path: Path, read_all) -> None:
    path = tmp_path / "big.json"
    rows = [{"id": i, "text": "x" * 300, "n": 123456789 + i} for i in range(5000)]
    path.write_text(json.dumps(rows))  # > 1 MiB: records cross the reader's chunk boundary
    table, _ = read_all("json", path, batch_rows=999)
    assert table.num_rows == 5000 and table.column("n").to_pylist()[-1] == 123456789 + 4999


def test_json_malformed_names_line(tmp_path: Path, read_all) -> None:
    path = tmp_path / "bad.json"
    path.write_text('[\n{"a": 1},\n{"a": 2,,}\n]')
    with pytest.raises(InputError, match="line 3"):
        read_all("json", path)


XML = """<?xml version="1.0" encoding="UTF-8"?>
<Export xmlns="urn:legacy">
  <Header created="2024-01-01"/>
  <Policy id="P1" status="A">
    <Insured><Name>Ann</Name><Address city="Kiel"><Zip>24103</Zip></Address></Insured>
    <Premium currency="EUR">12.50</Premium>
    <Coverage><Type>fire</Type></Coverage>
    <Coverage><Type>theft</Type></Coverage>
  </Policy>
  <Policy id="P2">
    <Insured><Name>Bob</Name></Insured>
    <Coverage><Type>flood</Type></Coverage>
  </Policy>
</Export>
"""


def test_xml_records_flattened_with_attributes_and_lists(tmp_path: Path, read_all) -> None:
    path = tmp_path / "p.xml"
    path.write_text(XML)
    table, _ = read_all("xml", path, {"record_element": "Policy"}, batch_rows=1)
    rows = table.to_pylist()
    assert rows[0]["id"] == "P1" and rows[0]["status"] == "A"
    assert rows[0]["Insured.Address.city"] == "Kiel" and rows[0]["Insured.Address.Zip"] == "24103"
    assert rows[0]["Premium"] == "12.50" and rows[0]["Premium.currency"] == "EUR"
    assert rows[0]["Coverage"] == [{"Type": "fire"}, {"Type": "theft"}]
    assert rows[1]["Coverage"] == [{"Type": "flood"}]  # a list in every record
    assert rows[1]["Insured.Name"] == "Bob" and rows[1]["status"] is None


def test_xml_columns_in_document_order_with_text_beside_children(tmp_path: Path, read_all) -> None:
    # An element's own text beside children is `<name>._text`, unless a child element is
    # itself named _text: then that child's columns take the key (the text has no column).
    path = tmp_path / "text.xml"
    path.write_text(
        '<Export><Policy id="1"><Note lang="en">hello<_text><Line>a</Line></_text></Note>'
        '<Premium currency="EUR">12.50</Premium><Holder>Ann<Name>A</Name></Holder></Policy>'
        "</Export>"
    )
    table, _ = read_all("xml", path, {"record_element": "Policy"})
    assert list(table.to_pylist()[0].items()) == [
        ("id", "1"),
        ("Note._text.Line", "a"),
        ("Note.lang", "en"),
        ("Premium", "12.50"),
        ("Premium.currency", "EUR"),
        ("Holder._text", "Ann"),
        ("Holder.Name", "A"),
    ]


def test_xml_errors(tmp_path: Path, read_all) -> None:
    path = tmp_path / "p.xml"
    path.write_text(XML)
    with pytest.raises(InputError, match="no <Claim> element"):
        read_all("xml", path, {"record_element": "Claim"})
    broken = tmp_path / "b.xml"
    broken.write_text("<a>\n<Policy><x>1</y></Policy>\n</a>")
    with pytest.raises(InputError, match="line 2"):
        read_all("xml", broken, {"record_element": "Policy"})


def test_parquet_flattens_structs(tmp_path: Path, read_all) -> None:
    path = tmp_path / "p.parquet"
    pq.write_table(
        pa.table(
            {
                "id": [1, 2],
                "insured": [{"name": "A", "addr": {"city": "Kiel"}}, None],
                "covs": [[{"type": "fire", "limit": {"amt": 5}}], []],
            }
        ),
        path,
    )
    table, _ = read_all("parquet", path)
    assert table.column_names == ["id", "insured.name", "insured.addr.city", "covs"]
    assert table.column("insured.addr.city").to_pylist() == ["Kiel", None]
    assert table.column("covs").to_pylist() == [[{"type": "fire", "limit.amt": 5}], []]


def test_parquet_not_parquet(tmp_path: Path, read_all) -> None:
    path = tmp_path / "x.parquet"
    path.write_text("hello")
    with pytest.raises(InputError, match="not a readable Parquet file"):
        read_all("parquet", path)


def test_sqlite_table_query_and_mixed_types(tmp_path: Path, read_all) -> None:
    path = tmp_path / "legacy.db"
    con = sqlite3.connect(path)
    con.execute('CREATE TABLE "pol icy" (id INTEGER, amt, note)')
    con.executemany(
        'INSERT INTO "pol icy" VALUES (?, ?, ?)', [(1, 1.5, "a"), (2, 2, 7), (3, None, None)]
    )
    con.commit()
    con.close()
    table, _ = read_all("sqlite", path, {"table": "pol icy"}, batch_rows=2)
    assert table.to_pydict() == {"id": [1, 2, 3], "amt": [1.5, 2.0, None], "note": ["a", "7", None]}
    table, _ = read_all("sqlite", path, {"query": 'SELECT id FROM "pol icy" WHERE id > 1'})
    assert table.column("id").to_pylist() == [2, 3]
    with pytest.raises(InputError, match="table 'nope' not found.*pol icy"):
        read_all("sqlite", path, {"table": "nope"})
    with pytest.raises(InputError, match="exactly one of table or query"):
        read_all("sqlite", path, {})


def test_xlsx_sheet_header_and_types(tmp_path: Path, read_all, xlsx_writer) -> None:
    path = xlsx_writer(
        tmp_path / "w.xlsx",
        {
            "Intro": [["nothing here"]],
            "Policies": [
                ["report"],
                ["id", "start", "premium", "code"],
                [1, dt.date(2020, 1, 31), 12.5, "007"],
                [2, None, 3, "008"],
            ],
        },
    )
    table, _ = read_all("xlsx", path, {"sheet": "Policies", "header_row": 2})
    assert table.to_pydict() == {
        "id": [1, 2],
        "start": [dt.date(2020, 1, 31), None],
        "premium": [12.5, 3.0],
        "code": ["007", "008"],
    }
    with pytest.raises(InputError, match="sheet 'Nope' not found.*'Intro', 'Policies'"):
        read_all("xlsx", path, {"sheet": "Nope"})


def test_xlsx_not_a_workbook(tmp_path: Path, read_all) -> None:
    path = tmp_path / "x.xlsx"
    path.write_text("a,b\n")
    with pytest.raises(InputError, match="cannot open as a workbook"):
        read_all("xlsx", path)
