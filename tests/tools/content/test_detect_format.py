"""Format detection from magic bytes and content; it suggests options and never ingests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from core.errors import InputError
from tools.content.detect import detect_format, guess_encoding


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "json", "xml", "parquet", "sqlite", "xlsx"])
def test_detects_sample_formats(fmt: str, sample_files) -> None:
    path, options = sample_files[fmt]
    detected = detect_format(path)
    assert detected.format == fmt
    for key in ("record_element", "table"):
        if key in options:
            assert detected.options[key] == options[key]


def test_semicolon_latin1_decimal_comma(tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_bytes("konto;name;betrag\n1;Müller;12,50\n2;Zoë;3,00\n".encode("latin-1"))
    detected = detect_format(path)
    assert detected.format == "csv"
    assert detected.options == {
        "delimiter": ";",
        "quotechar": '"',
        "header": True,
        "encoding": "latin-1",
        "decimal": ",",
    }
    snippet = yaml.safe_load(detected.to_config_snippet(name="billing"))
    assert snippet["sources"][0]["name"] == "billing"
    assert snippet["sources"][0]["options"]["delimiter"] == ";"


def test_tab_and_pipe_without_header(tmp_path: Path) -> None:
    tsv = tmp_path / "t.tsv"
    tsv.write_text("a\tb\tc\n1\t2\t3\n")
    assert detect_format(tsv).options["delimiter"] == "\t"
    psv = tmp_path / "p.txt"
    psv.write_text("1|2020-01-01|9.5\n2|2020-01-02|3.5\n")
    detected = detect_format(psv)
    assert detected.options["delimiter"] == "|" and detected.options["header"] is False


def test_fixed_width_guess(tmp_path: Path) -> None:
    path = tmp_path / "f.dat"
    path.write_text("P0001  ANN      2020\nP0002  BOB      2021\nP0003  CLAUDIA  2022\n")
    detected = detect_format(path)
    assert detected.format == "fixed_width"
    assert [(f["start"], f["length"]) for f in detected.options["fields"]] == [
        (1, 7),
        (8, 9),
        (17, 4),
    ]


def test_ebcdic_suggests_cobol(tmp_path: Path) -> None:
    path = tmp_path / "POLMAST.dat"
    path.write_bytes("P0001ANN SMITH         KIEL      20200131".encode("cp037") * 20)
    detected = detect_format(path)
    assert detected.format == "cobol" and detected.options["encoding"] == "cp037"


def test_json_records_key_and_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "w.json"
    path.write_text(json.dumps({"count": 2, "policies": [{"a": 1}, {"a": 2}]}, indent=2))
    assert detect_format(path).options["records_key"] == "policies"
    one = tmp_path / "one.json"
    one.write_text('{"records": [{"a": 1}]}')
    assert detect_format(one).format == "json"


def test_guess_encoding() -> None:
    assert guess_encoding("Köln".encode()) == "utf-8"
    assert guess_encoding("Köln".encode("latin-1")) == "latin-1"
    assert guess_encoding("“Köln” – Rheinland, 12,50 €".encode("cp1252")) == "cp1252"
    assert guess_encoding("\ufeffa".encode("utf-8")) == "utf-8-sig"


def test_empty_missing_and_xls(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        detect_format(tmp_path / "nope")
    empty = tmp_path / "e.csv"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="is empty"):
        detect_format(empty)
    xls = tmp_path / "old.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0" + b"\0" * 100)
    with pytest.raises(InputError, match="save it as .xlsx"):
        detect_format(xls)
