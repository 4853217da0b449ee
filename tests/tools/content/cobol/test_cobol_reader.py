"""Unit tests of the cobol reader: bad inputs, framing, decoding rules (files built in tmp_path)."""

from __future__ import annotations

import gzip
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from core.errors import InputError
from tools.content.cobol import CobolReader, describe_layout, render_layout
from tools.content.cobol.copybook import parse_copybook
from tools.content.readers.base import BadRecord, SourceReader

CPY = """\
000100 01  POLICY.                                                      POLM0001
000200     05  POL-ID          PIC X(6).
000300*    a comment line
000400     05  PREMIUM         PIC S9(5)V99 COMP-3.
000500     05  AGE             PIC 9(3).
000600     05  COUNT-B         PIC S9(4) COMP.
000700     05  STATUS          PIC X.
000800         88  ACTIVE      VALUE 'A'.
"""
REC = 6 + 4 + 3 + 2 + 1


def ebc(text: str) -> bytes:
    return text.encode("cp037")


def packed(value: int, nbytes: int) -> bytes:
    digits = str(abs(value)).rjust(nbytes * 2 - 1, "0")
    return bytes.fromhex(digits + ("D" if value < 0 else "C"))


def record(pid: str, premium: int, age: str, count: int, status: str = "A") -> bytes:
    return (
        ebc(pid.ljust(6))
        + packed(premium, 4)
        + ebc(age)
        + count.to_bytes(2, "big", signed=True)
        + ebc(status)
    )


def write(tmp_path: Path, data: bytes, cpy: str = CPY, name: str = "d.dat") -> tuple[Path, str]:
    (tmp_path / "p.cpy").write_text(cpy)
    path = tmp_path / name
    path.write_bytes(data)
    return path, str(tmp_path / "p.cpy")


def read(path: Path, **opts: Any) -> tuple[list[dict[str, Any]], list[BadRecord]]:
    reader = CobolReader(path, opts)
    rows: list[dict[str, Any]] = []
    bad: list[BadRecord] = []
    for b in reader.batches(2):
        rows += b.records.to_pylist()
        bad += b.bad
    return rows, bad


def test_reader_follows_protocol(tmp_path: Path) -> None:
    path, cpy = write(tmp_path, record("P1", 12345, "042", -3))
    reader = CobolReader(path, {"copybook": cpy, "encoding": "cp037"})
    assert isinstance(reader, SourceReader) and reader.format_name == "cobol"


def test_decodes_fixed_records_in_several_batches(tmp_path: Path) -> None:
    data = b"".join(record(f"P{i}", i * 1001 - 2000, f"{i:03d}", i - 2) for i in range(5))
    path, cpy = write(tmp_path, data)
    rows, bad = read(path, copybook=cpy, encoding="cp037")
    assert not bad
    assert [r["POL_ID"] for r in rows] == ["P0", "P1", "P2", "P3", "P4"]
    assert rows[0]["PREMIUM"] == Decimal("-20.00") and rows[4]["PREMIUM"] == Decimal("20.04")
    assert [r["AGE"] for r in rows] == [0, 1, 2, 3, 4]
    assert [r["COUNT_B"] for r in rows] == [-2, -1, 0, 1, 2]


def test_syntax_error_names_line_and_column() -> None:
    bad = "       01  R.\n           05  A  PIC X(3) FOO.\n"
    with pytest.raises(InputError) as exc:
        parse_copybook(bad, source="x.cpy")
    assert "line 2" in str(exc.value) and "column 28" in str(exc.value) and "FOO" in str(exc.value)


def test_missing_period_and_bad_picture_are_input_errors() -> None:
    with pytest.raises(InputError, match="line 2"):
        parse_copybook("       01  R.\n           05  A  PIC X(3)\n")
    with pytest.raises(InputError, match="unsupported symbol"):
        parse_copybook("       01  R.\n           05  A  PIC Q(3).\n")


def test_level_88_and_66_are_ignored_with_a_note() -> None:
    book = parse_copybook(CPY)
    assert any("level 88" in n for n in book.notes)
    names = [n.name for n in book.roots[0].walk()]
    assert "ACTIVE" not in names and "STATUS" in names


def test_sequence_area_and_columns_73_80_ignored() -> None:
    desc = describe_layout(CPY)
    assert desc["record_length"] == REC
    assert desc["fields"][0]["name"] == "POLICY"
    assert [f["start"] for f in desc["fields"][1:]] == [1, 7, 11, 14, 16]
    assert "POLICY" in render_layout(desc)


def test_not_divisible_file_names_sizes(tmp_path: Path) -> None:
    path, cpy = write(tmp_path, record("P1", 1, "001", 1) + b"\x00\x01\x02")
    with pytest.raises(InputError, match=r"\(19 bytes\) is NOT DIVISIBLE.*\(16 bytes\)"):
        CobolReader(path, {"copybook": cpy})


def test_truncated_last_record_is_a_bad_record(tmp_path: Path) -> None:
    path, cpy = write(tmp_path, record("P1", 1, "001", 1) + b"\x00\x01\x02")
    rows, bad = read(path, copybook=cpy, allow_partial_last_record=True)
    assert len(rows) == 1
    assert bad[0].record_index == 1 and bad[0].byte_offset == REC and "truncated" in bad[0].reason


def test_truncated_rdw_record_is_a_bad_record(tmp_path: Path) -> None:
    rec = record("P1", 1, "001", 1)
    data = len(rec).to_bytes(2, "big") + b"\0\0" + rec + (40).to_bytes(2, "big") + b"\0\0" + rec
    path, cpy = write(tmp_path, data)
    rows, bad = read(path, copybook=cpy, record_format="V", rdw_big_endian=True)
    assert len(rows) == 1 and bad[0].byte_offset == 4 + REC and "truncated" in bad[0].reason


def test_invalid_packed_nibble_null_and_reported(tmp_path: Path) -> None:
    bad_rec = record("P1", 1, "001", 1)
    bad_rec = bad_rec[:6] + b"\x12\x3a\x45\x6c" + bad_rec[10:]
    path, cpy = write(tmp_path, record("P0", 5, "001", 1) + bad_rec)
    rows, bad = read(path, copybook=cpy, encoding="cp037")
    assert rows[1]["PREMIUM"] is None and rows[1]["POL_ID"] == "P1"
    assert len(bad) == 1
    assert bad[0].field == "PREMIUM" and bad[0].byte_offset == REC + 6 and bad[0].record_index == 1
    rows, bad = read(path, copybook=cpy, encoding="cp037", invalid_value="drop")
    assert [r["POL_ID"] for r in rows] == ["P0"] and len(bad) == 1
    with pytest.raises(InputError, match="PREMIUM"):
        read(path, copybook=cpy, encoding="cp037", invalid_value="error")


def test_spaces_in_binary_field_when_strict(tmp_path: Path) -> None:
    rec = record("P1", 1, "001", 1)
    rec = rec[:13] + b"\x40\x40" + rec[15:]
    path, cpy = write(tmp_path, rec)
    rows, bad = read(path, copybook=cpy)
    assert rows[0]["COUNT_B"] == 0x4040 and not bad
    rows, bad = read(path, copybook=cpy, strict_binary=True)
    assert rows[0]["COUNT_B"] is None and bad[0].field == "COUNT_B" and bad[0].byte_offset == 13


def test_invalid_zoned_digit_reported(tmp_path: Path) -> None:
    rec = record("P1", 1, "0#1", 1)
    path, cpy = write(tmp_path, rec)
    rows, bad = read(path, copybook=cpy)
    assert rows[0]["AGE"] is None and bad[0].field == "AGE" and bad[0].byte_offset == 10
    assert "0x7B at position 2" in bad[0].reason


def test_unknown_code_page_and_option(tmp_path: Path) -> None:
    path, cpy = write(tmp_path, record("P1", 1, "001", 1))
    with pytest.raises(InputError, match="unknown code page 'cp9999'"):
        CobolReader(path, {"copybook": cpy, "encoding": "cp9999"})
    with pytest.raises(InputError, match="unknown cobol reader option 'recordformat'"):
        CobolReader(path, {"copybook": cpy, "recordformat": "V"})


def test_empty_file_gives_no_records(tmp_path: Path) -> None:
    path, cpy = write(tmp_path, b"")
    rows, bad = read(path, copybook=cpy)
    assert rows == [] and bad == []


def test_little_endian_rdw_and_gzip(tmp_path: Path) -> None:
    recs = [record(f"P{i}", i, "007", i) for i in range(3)]
    data = b"".join(b"\0\0" + len(r).to_bytes(2, "little") + r for r in recs)
    path, cpy = write(tmp_path, gzip.compress(data), name="d.dat.gz")
    rows, bad = read(path, copybook=cpy, record_format="V", encoding="cp037")
    assert [r["POL_ID"] for r in rows] == ["P0", "P1", "P2"] and not bad


def test_custom_code_page_file(tmp_path: Path) -> None:
    table = [f"U+{ord(bytes([b]).decode('cp037')):04X}" for b in range(256)]
    table[0xD7] = "U+0051"  # EBCDIC 'P' now decodes as 'Q'
    (tmp_path / "cp.txt").write_text("\n".join(table) + "\n")
    path, cpy = write(tmp_path, record("P1", 1, "001", 1))
    rows, _ = read(path, copybook=cpy, encoding="custom", code_page_file=str(tmp_path / "cp.txt"))
    assert rows[0]["POL_ID"] == "Q1"


def test_sign_separate_overpunch_and_comp_sizes() -> None:
    cpy = """\
       01  R.
           05  A  PIC S9(3) SIGN LEADING SEPARATE.
           05  B  PIC S9(3)V9 SIGN TRAILING.
           05  C  PIC 9(10) COMP-5.
           05  D  PIC 9(19) BINARY.
           05  E  COMP-2.
           05  F  PIC 9(4) COMP-3U.
           05  G  OCCURS 2 TO 4 DEPENDING ON A.
               10  H  PIC X.
"""
    desc = describe_layout(cpy)
    lengths = {f["name"]: f["length"] for f in desc["fields"]}
    assert lengths == {"R": 39, "A": 4, "B": 4, "C": 8, "D": 9, "E": 8, "F": 2, "G": 4, "H": 1}
    g = next(f for f in desc["fields"] if f["name"] == "G")
    assert g["occurs"] == 4 and g["depending_on"] == "A"


def test_overpunch_and_odo_decoding(tmp_path: Path) -> None:
    cpy = """\
       01  R.
           05  N  PIC 9.
           05  AMT  PIC S9(3)V9.
           05  ITEMS OCCURS 0 TO 3 DEPENDING ON N.
               10  CODE  PIC XX.
"""
    data = ebc("2") + bytes.fromhex("F1F2F3D4") + ebc("AABBCC")
    path, _ = write(tmp_path, data, cpy)
    rows, bad = read(path, copybook=str(tmp_path / "p.cpy"))
    assert rows[0]["AMT"] == Decimal("-123.4") and not bad
    assert rows[0]["ITEMS"] == [{"CODE": "AA"}, {"CODE": "BB"}]
