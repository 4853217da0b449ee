"""Decoder edge cases where cobrix's documented semantics are the reference (issue 14, 1-6).

Each test builds its copybook and data in tmp_path and states the cobrix rule it checks.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from core.errors import InputError
from knowledge.embeddings.structural import DIMENSION, column_vector
from tools.canonical.matching.values import profile as value_profile
from tools.content.cobol import CobolReader
from tools.content.profile import profile_batches
from tools.content.readers.base import BadRecord


def _read(
    tmp_path: Path, cpy: str, data: bytes, **opts: Any
) -> tuple[list[dict[str, Any]], list[BadRecord], pa.Schema]:
    (tmp_path / "c.cpy").write_text(cpy)
    (tmp_path / "d.dat").write_bytes(data)
    reader = CobolReader(tmp_path / "d.dat", {"copybook": str(tmp_path / "c.cpy"), **opts})
    rows: list[dict[str, Any]] = []
    bad: list[BadRecord] = []
    schema = None
    for batch in reader.batches(3):
        rows += batch.records.to_pylist()
        bad += batch.bad
        schema = batch.records.schema
    assert schema is not None
    return rows, bad, schema


def _rdw(payload: bytes) -> bytes:
    return len(payload).to_bytes(2, "big") + b"\x00\x00" + payload


UNSIGNED_ZONED = "       01  R.\n           05  A  PIC 9(3).\n           05  B  PIC S9(3).\n"


def test_negative_overpunch_on_unsigned_field_is_null_in_relaxed_mode(tmp_path: Path) -> None:
    # cobrix: a negative sign on an unsigned number is null whatever the overpunch mode
    data = "12J".encode("cp037") + "12J".encode("cp037")
    rows, bad, _ = _read(tmp_path, UNSIGNED_ZONED, data, strict_sign_overpunching=False)
    assert rows == [{"A": None, "B": -121}]
    assert [b.field for b in bad] == ["A"] and "unsigned" in bad[0].reason


def test_default_overpunch_mode_is_strict_as_cobrix(tmp_path: Path) -> None:
    # cobrix's strict_sign_overpunching defaults to true: even a positive overpunch on an unsigned
    # field is invalid; relaxed mode accepts it
    data = "12B".encode("cp037") + "12B".encode("cp037")
    rows, bad, _ = _read(tmp_path, UNSIGNED_ZONED, data)
    assert rows == [{"A": None, "B": 122}] and [b.field for b in bad] == ["A"]
    rows, bad, _ = _read(tmp_path, UNSIGNED_ZONED, data, strict_sign_overpunching=False)
    assert rows == [{"A": 122, "B": 122}] and not bad


BINARY = """\
       01  R.
           05  A  PIC 9(9) COMP.
           05  B  PIC 9(18) COMP.
           05  C  PIC 9(9) COMP-5.
           05  D  PIC 9(4) COMP-5.
           05  E  PIC 9(16)V99 BINARY.
"""


def test_unsigned_binary_decodes_its_full_range(tmp_path: Path) -> None:
    data = b"\xff" * 4 + b"\xff" * 8 + b"\x80\x00\x00\x00" + b"\xff\xff" + b"\xff" * 8
    rows, bad, schema = _read(tmp_path, BINARY, data)
    assert not bad
    assert rows == [
        {
            "A": 2**32 - 1,
            "B": Decimal(2**64 - 1),
            "C": 2**31,
            "D": 2**16 - 1,
            "E": Decimal(2**64 - 1) / 100,
        }
    ]
    assert schema.field("B").type == pa.decimal128(20, 0)


def test_integers_beyond_2_53_profile_and_embed(tmp_path: Path) -> None:
    cpy = "       01  R.\n           05  Z  PIC S9(18).\n           05  B  PIC S9(18) COMP.\n"
    big = 999_999_999_999_999_999
    zoned = ("99999999999999999" + "I").encode("cp037")  # +999..9 overpunched
    data = (zoned + big.to_bytes(8, "big", signed=True)) * 2
    rows, bad, _ = _read(tmp_path, cpy, data)
    assert not bad and rows[0] == {"Z": big, "B": big}
    table = pa.Table.from_pylist(rows)
    profile = profile_batches(table.to_batches())
    assert {c.name: c.max for c in profile.columns} == {"Z": big, "B": big}
    for name in ("Z", "B"):
        vector = column_vector(table.column(name))
        assert vector.shape == (DIMENSION,)
    wide = pa.array([Decimal(10**37), Decimal(-(10**37))], pa.decimal128(38, 0))
    assert column_vector(wide).shape == (DIMENSION,)
    for name in ("Z", "B"):  # the schema matcher's value profile too
        assert value_profile(table.column(name)) is not None


ODO = """\
       01  R.
           05  N     PIC 9.
           05  ITEM  PIC X(2) OCCURS 0 TO 4 DEPENDING ON N.
           05  TAIL  PIC X(3).
"""


def test_variable_size_occurs_with_rdw_records(tmp_path: Path) -> None:
    data = _rdw(ebc("2AABBEND")) + _rdw(ebc("0TL0")) + _rdw(ebc("1CC"))
    rows, bad, _ = _read(
        tmp_path, ODO, data, record_format="V", rdw_big_endian=True, variable_size_occurs=True
    )
    assert not bad
    assert rows == [
        {"N": 2, "ITEM": ["AA", "BB"], "TAIL": "END"},
        {"N": 0, "ITEM": [], "TAIL": "TL0"},
        {"N": 1, "ITEM": ["CC"], "TAIL": None},  # the record ends before TAIL
    ]


def test_variable_size_occurs_pad_record_in_fixed_records(tmp_path: Path) -> None:
    # pad_record: the fields after the array follow its last element, the record keeps its
    # maximum size (1 + 4*2 + 3 = 12 bytes)
    data = ebc("1AAEND".ljust(12)) + ebc("3AABBCCXYZ".ljust(12))
    rows, _, _ = _read(tmp_path, ODO, data, variable_size_occurs="pad_record")
    assert [(r["ITEM"], r["TAIL"]) for r in rows] == [(["AA"], "END"), (["AA", "BB", "CC"], "XYZ")]


def test_variable_size_occurs_bad_value_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="variable_size_occurs"):
        _read(tmp_path, ODO, ebc("0".ljust(12)), variable_size_occurs="sometimes")


TEXT = "       01  R.\n           05  A  PIC X(4).\n           05  B  PIC X(4).\n"


def test_trimming_keep_all_keeps_ascii_control_characters(tmp_path: Path) -> None:
    data = b"a\x01 b\x00\x00\x00\x00\n"
    rows, _, _ = _read(tmp_path, TEXT, data, record_format="D", string_trimming_policy="keep_all")
    assert rows == [{"A": "a\x01 b", "B": "\x00\x00\x00\x00"}]
    rows, _, _ = _read(tmp_path, TEXT, data, record_format="D", string_trimming_policy="none")
    assert rows == [{"A": "a b", "B": None}]  # controls dropped, all-0x00 is null


def test_trimming_none_on_a_short_rdw_record_keeps_only_its_bytes(tmp_path: Path) -> None:
    # cobrix: a string field cut by the record end holds the bytes the record has (no padding);
    # a field wholly past the end is null
    data = _rdw(ebc("AB")) + _rdw(ebc("ABCDEF"))
    rows, bad, _ = _read(
        tmp_path, TEXT, data, record_format="V", rdw_big_endian=True, string_trimming_policy="none"
    )
    assert not bad
    assert rows == [{"A": "AB", "B": None}, {"A": "ABCD", "B": "EF"}]


def test_number_cut_by_the_record_end_is_null_not_invalid(tmp_path: Path) -> None:
    cpy = "       01  R.\n           05  A  PIC X(2).\n           05  P  PIC S9(5) COMP-3.\n"
    rows, bad, _ = _read(
        tmp_path, cpy, _rdw(ebc("AB") + b"\x12"), record_format="V", rdw_big_endian=True
    )
    assert rows == [{"A": "AB", "P": None}] and not bad


def test_text_record_format_defaults_to_ascii(tmp_path: Path) -> None:
    # cobrix: record_format D without an encoding reads ASCII
    rows, bad, _ = _read(tmp_path, TEXT, b"ABCD1234\nEFGH5678\n", record_format="D")
    assert rows == [{"A": "ABCD", "B": "1234"}, {"A": "EFGH", "B": "5678"}] and not bad
    rows, _, _ = _read(tmp_path, TEXT, ebc("ABCD1234") + b"\n", record_format="D", encoding="cp037")
    assert rows == [{"A": "ABCD", "B": "1234"}]


def ebc(text: str) -> bytes:
    return text.encode("cp037")
