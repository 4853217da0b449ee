"""Hostile or mistyped copybooks and options: one located InputError, bounded memory (issue 13)."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from core.errors import InputError
from tools.content.cobol import CobolReader, describe_layout


def _layout_error(tmp_path: Path, body: str) -> InputError:
    cpy = tmp_path / "c.cpy"
    cpy.write_text("       01  R.\n" + body)
    tracemalloc.start()
    try:
        with pytest.raises(InputError) as info:
            describe_layout(cpy)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50 * 1024 * 1024, f"parsing took {peak:,} bytes"
    return info.value


@pytest.mark.parametrize("count", ["1000000000", "99999999999", "9" * 40])
def test_huge_pic_repeat_is_a_located_error(tmp_path: Path, count: str) -> None:
    err = _layout_error(tmp_path, f"           05  BIG  PIC X({count}).\n")
    assert "line 2" in str(err) and "positions" in err.what


def test_too_many_digits_is_a_located_error(tmp_path: Path) -> None:
    err = _layout_error(tmp_path, "           05  N  PIC 9(60) COMP-3.\n")
    assert "line 2" in str(err) and "digits" in err.what


def test_huge_occurs_is_a_located_error(tmp_path: Path) -> None:
    err = _layout_error(tmp_path, "           05  A  PIC X OCCURS 999999999999 TIMES.\n")
    assert "line 2" in str(err) and "OCCURS" in err.what and "A" in err.what


def test_nested_occurs_beyond_the_record_bound_names_the_field(tmp_path: Path) -> None:
    body = (
        "           05  OUTER OCCURS 1000 TIMES.\n"
        "               10  INNER OCCURS 1000 TIMES.\n"
        "                   15  V  PIC X(100).\n"
    )
    err = _layout_error(tmp_path, body)
    assert "OUTER" in err.what and "bytes" in err.what and "line" in str(err)


def test_superscript_level_number_is_a_located_error(tmp_path: Path) -> None:
    err = _layout_error(tmp_path, "           \u00b2  A  PIC X.\n")
    assert "line 2" in str(err) and "level number" in err.what


def test_superscript_occurs_count_is_a_located_error(tmp_path: Path) -> None:
    err = _layout_error(tmp_path, "           05  A  PIC X OCCURS \u00b2 TIMES.\n")
    assert "line 2" in str(err)


def test_file_start_offset_beyond_a_vb_file_is_clear(tmp_path: Path) -> None:
    cpy = tmp_path / "c.cpy"
    cpy.write_text("       01  R.\n           05  A  PIC X(4).\n")
    data = tmp_path / "d.vb"
    data.write_bytes(b"\x00\x0c\x00\x00" + b"\x00\x08\x00\x00" + b"ABCD")
    reader = CobolReader(
        data,
        {
            "copybook": str(cpy),
            "record_format": "VB",
            "rdw_big_endian": True,
            "file_start_offset": int(1e12),
        },
    )
    with pytest.raises(InputError, match="shorter .* than file_start_offset"):
        list(reader.batches())


def test_record_length_option_is_bounded(tmp_path: Path) -> None:
    cpy = tmp_path / "c.cpy"
    cpy.write_text("       01  R.\n           05  A  PIC X(4).\n")
    data = tmp_path / "d.dat"
    data.write_bytes(b"ABCD")
    with pytest.raises(InputError, match="record_length"):
        CobolReader(data, {"copybook": str(cpy), "record_length": 10**12})
