"""CSV and fixed-width readers on real files: dialects, encodings, numbers, bad rows."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from core.errors import InputError


@pytest.mark.parametrize(("delimiter", "char"), [("tab", "\t"), ("|", "|"), (";", ";"), (",", ",")])
def test_csv_dialects(tmp_path: Path, read_all, delimiter: str, char: str) -> None:
    path = tmp_path / "d.txt"
    path.write_text(char.join(["id", "name"]) + "\n" + char.join(["1", '"Smith, J"']) + "\n")
    table, bad = read_all("csv", path, {"delimiter": delimiter})
    assert table.column_names == ["id", "name"]
    assert table.to_pylist() == [{"id": 1, "name": "Smith, J"}]
    assert bad == []


def test_csv_without_header_uses_column_names(tmp_path: Path, read_all) -> None:
    path = tmp_path / "n.csv"
    path.write_text("A1,x\nA2,y\n")
    table, _ = read_all("csv", path, {"header": False, "columns": ["code", "flag"]})
    assert table.to_pydict() == {"code": ["A1", "A2"], "flag": ["x", "y"]}


def test_csv_decimal_comma_latin1_and_null_values(tmp_path: Path, read_all) -> None:
    path = tmp_path / "billing.csv"
    path.write_bytes(
        "konto;name;betrag;code\n1;Müller;1.234,50;007\n2;Zoë;-3,5;N/A\n".encode("latin-1")
    )
    table, _ = read_all(
        "csv",
        path,
        {
            "delimiter": ";",
            "encoding": "latin-1",
            "decimal": ",",
            "thousands": ".",
            "null_values": ["", "N/A"],
        },
    )
    assert table.column("name").to_pylist() == ["Müller", "Zoë"]
    assert table.column("betrag").to_pylist() == [Decimal("1234.50"), Decimal("-3.50")]
    assert table.column("code").to_pylist() == ["007", None]  # leading zero: stays text


def test_csv_mixed_column_stays_text_across_batches(tmp_path: Path, read_all) -> None:
    path = tmp_path / "m.csv"
    path.write_text("v\n" + "1\n" * 20 + "X9\n")
    table, _ = read_all("csv", path, batch_rows=5)
    assert table.schema.field("v").type == "string"
    assert table.column("v").to_pylist()[-1] == "X9"


def test_csv_wrong_encoding_names_offset_line_and_suggests(tmp_path: Path, read_all) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("id,city\n1,Berlin\n2,Köln\n".encode("latin-1"))
    with pytest.raises(InputError) as info:
        read_all("csv", path, {"encoding": "utf-8"})
    message = str(info.value)
    assert "byte offset 20" in message and "line 3" in message
    assert "latin-1" in message


def test_csv_ragged_rows_are_bad_records_with_lines(tmp_path: Path, read_all) -> None:
    path = tmp_path / "r.csv"
    path.write_text("a,b\n1,2\n3,4,5\n6,7\n8\n9,10\n")
    table, bad = read_all("csv", path)
    assert table.column("a").to_pylist() == [1, 6, 9]
    assert [(b.line, b.record_index) for b in bad] == [(3, 1), (5, 3)]
    assert "expected 2 fields, found 3" in bad[0].reason
    assert bad[0].raw == b"3,4,5"


def test_csv_bad_option_is_input_error(tmp_path: Path) -> None:
    from tools.content.readers.delimited import CsvReader

    with pytest.raises(InputError, match="delimiter"):
        CsvReader(tmp_path / "x.csv", {"delimiter": "::"})
    with pytest.raises(InputError, match="unknown option"):
        CsvReader(tmp_path / "x.csv", {"delimeter": ";"})
    with pytest.raises(InputError, match="unknown encoding"):
        CsvReader(tmp_path / "x.csv", {"encoding": "klingon"})


LAYOUT = {
    "fields": [
        {"name": "id", "start": 1, "length": 5},
        {"name": "name", "start": 6, "length": 10},
        {"name": "amount", "start": 16, "length": 7},
    ]
}


def test_fixed_width_layout(tmp_path: Path, read_all) -> None:
    path = tmp_path / "f.dat"
    path.write_bytes("00001Zoë          12.50\n00002Bob         -3.00\n\n".encode("cp1252"))
    table, bad = read_all("fixed_width", path, {**LAYOUT, "encoding": "cp1252"})
    assert table.to_pydict() == {
        "id": ["00001", "00002"],
        "name": ["Zoë", "Bob"],
        "amount": [Decimal("12.50"), Decimal("-3.00")],
    }
    assert bad == []


def test_fixed_width_short_line_is_bad_record_when_not_allowed(tmp_path: Path, read_all) -> None:
    path = tmp_path / "f.dat"
    path.write_text("00001Ann         12.50\n00002Bo\n")
    table, bad = read_all("fixed_width", path, {**LAYOUT, "allow_short_lines": False})
    assert table.column("id").to_pylist() == ["00001"]
    assert bad[0].line == 2 and bad[0].byte_offset == 23 and "layout needs 22" in bad[0].reason


def test_fixed_width_wrong_encoding(tmp_path: Path, read_all) -> None:
    path = tmp_path / "f.dat"
    path.write_bytes("00001Ann         12.50\n00002Jürgen       1.00\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"byte offset 29, line 2.*latin-1"):
        read_all("fixed_width", path, LAYOUT)


def test_fixed_width_rejects_overlapping_names(tmp_path: Path) -> None:
    from tools.content.readers.fixed_width import FixedWidthReader

    with pytest.raises(InputError, match="duplicate field names"):
        FixedWidthReader(
            tmp_path / "f",
            {
                "fields": [
                    {"name": "a", "start": 1, "length": 1},
                    {"name": "a", "start": 2, "length": 1},
                ]
            },
        )
