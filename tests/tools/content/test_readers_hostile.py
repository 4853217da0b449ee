"""Readers on hostile input: deep nesting, binary noise (issue 13, items 16 and 17)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from core.errors import InputError
from tools.content.readers.base import BadRecord
from tools.content.readers.delimited import CsvReader
from tools.content.readers.jsondoc import JsonlReader, JsonReader
from tools.content.readers.xmldoc import XmlReader


def _deep_json(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


def test_one_deep_jsonl_line_is_quarantined_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    lines = ['{"id": 1}', _deep_json(100_000), '{"id": 3}', _deep_json(500), '{"id": 5}']
    path.write_text("\n".join(lines) + "\n")
    rows: list[dict] = []
    bad: list[BadRecord] = []
    for batch in JsonlReader(path, {}).batches(10):
        rows += batch.records.to_pylist()
        bad += batch.bad
    assert [r["id"] for r in rows] == [1, 3, 5]
    assert [b.line for b in bad] == [2, 4]
    assert all("nested" in b.reason for b in bad)


def test_deep_json_document_is_a_located_error(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    path.write_text('[{"id": 1},\n' + _deep_json(100_000) + "]")
    with pytest.raises(InputError, match="nested") as info:
        list(JsonReader(path, {}).batches())
    assert "line 2" in str(info.value)


def test_json_record_nested_beyond_the_limit_is_quarantined(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    path.write_text('[{"id": 1},\n' + _deep_json(300) + ',\n{"id": 3}]')
    rows: list[dict] = []
    bad: list[BadRecord] = []
    for batch in JsonReader(path, {}).batches(10):
        rows += batch.records.to_pylist()
        bad += batch.bad
    assert [r["id"] for r in rows] == [1, 3] and [b.line for b in bad] == [2]


def test_deep_xml_is_a_located_error(tmp_path: Path) -> None:
    path = tmp_path / "d.xml"
    depth = 100_000
    path.write_text("<root><rec>" + "<a>" * depth + "x" + "</a>" * depth + "</rec></root>")
    with pytest.raises(InputError, match="nested more than") as info:
        list(XmlReader(path, {"record_element": "rec"}).batches())
    assert "<a>" in str(info.value)


def test_random_binary_as_csv_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "noise.csv"
    path.write_bytes(random.Random(7).randbytes(200_000))
    with pytest.raises(InputError, match="cannot decode byte") as info:
        list(CsvReader(path, {}).batches())
    assert "byte offset" in str(info.value)
    assert "Exception ignored" not in capsys.readouterr().err
