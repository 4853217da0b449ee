"""Conformance with cobrix: every case of /work/shared/corpus/cobrix, read in place.

Each variant decodes the case's data with the options the MANIFEST lists (translated to our option
names; cobrix-only helper options such as segment_id_level*/segment_id_prefix/input_split_records
are omitted because they only add generated columns we ignore) and compares record counts, the
golden rows (nulls omitted, decimals numerically) and layouts. Variants we do not support are
strict expected failures with the reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.errors import InputError
from evals.cobrix import CORPUS, compare, layout_rows, load_expected, parse_layout, read_all
from evals.cobrix_cases import LAYOUTS, T06, XFAIL
from evals.cobrix_cases import VARIANTS as V
from tools.content.cobol import describe_layout

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="cobrix corpus not present")

PARAMS = [pytest.param(v, id=f"{v[0]}-{v[1]}") for v in V] + [
    pytest.param(v[:-1], id=f"{v[0]}-{v[1]}", marks=pytest.mark.xfail(strict=True, reason=v[-1]))
    for v in XFAIL
]


def _case_dir(case: str) -> Path:
    return next(p for p in CORPUS.iterdir() if p.name.startswith(case + "_"))


def _copybooks(case: str, cb: str | list[str]) -> list[str]:
    names = cb if isinstance(cb, list) else [cb]
    return [str(_case_dir(case) / "copybook" / n) for n in names]


@pytest.mark.parametrize("spec", PARAMS)
def test_cobrix_case(spec: tuple[Any, ...]) -> None:
    case, _variant, data, cb, options, expected, order_by, total, na_fill = spec
    base = _case_dir(case)
    rows, _bad = read_all(base / data, {"copybook": _copybooks(case, cb), **options}, na_fill)
    assert len(rows) == total
    if expected:
        exp = load_expected(base / "expected" / expected)
        diff = compare(rows, exp, order_by)
        assert diff is None, diff


@pytest.mark.parametrize("spec", LAYOUTS, ids=[f"{c}-{f}" for c, f, _, _ in LAYOUTS])
def test_cobrix_layout(spec: tuple[str, str, str, dict[str, Any]]) -> None:
    case, layout_file, cb, opts = spec
    path = _case_dir(case) / "expected" / layout_file
    expected = parse_layout(path)
    got = layout_rows(_copybooks(case, cb)[0], opts, debug="_debug" in path.read_text())
    assert got == expected


def test_t24_debug_hex_slices_match_our_offsets() -> None:
    """test24's <FIELD>_debug columns hold each field's raw bytes: check our slicing on them."""
    import json

    base = _case_dir("t24")
    desc = describe_layout(base / "copybook" / "test24_copybook.cob")
    raw = (base / "data" / "INTEGR.TYPES.NOV28.DATA.dat").read_bytes()
    rec_len = desc["record_length"]
    first = json.loads((base / "expected" / "test24.txt").read_text().splitlines()[0])
    by_id = {
        int.from_bytes(raw[i * rec_len : i * rec_len + 4], "big"): i
        for i in range(len(raw) // rec_len)
    }
    rec = raw[by_id[first["ID"]] * rec_len :][:rec_len]
    checked = 0
    for f in desc["fields"]:
        key = f"{f['name']}_debug"
        if key in first:
            assert rec[f["start"] - 1 : f["end"]].hex().upper() == first[key].upper(), f["name"]
            checked += 1
    assert checked > 150


def test_t13a_without_offsets_is_not_divisible() -> None:
    base = _case_dir("t13a")
    with pytest.raises(InputError, match="NOT DIVISIBLE"):
        read_all(
            base / "data/TRAN2.JUN24.DATA.dat",
            {"copybook": _copybooks("t13a", "test13a_file_header_footer.cob")},
        )


def test_t25_without_mapping_fails() -> None:
    base = _case_dir("t25")
    with pytest.raises(InputError, match="should be integral"):
        read_all(
            base / "data/data2.dat",
            {"copybook": _copybooks("t25", "test25_copybook.cob"), "encoding": "ascii"},
        )


def test_t40_ascii_text_lines(tmp_path: Path) -> None:
    base = _case_dir("t40")
    cpy = tmp_path / "rec.cpy"
    cpy.write_text("       01  RECORD.\n           05  DATA  PIC X(5).\n")
    for name in ("ascii.txt.gz", "ascii.txt"):
        rows, _ = read_all(
            base / "data_ascii" / name,
            {"copybook": str(cpy), "encoding": "ascii", "record_format": "D"},
        )
        assert [r["DATA"] for r in rows] == ["12345", "67890", "A1234"]


def test_t40_file_end_offset_drops_last_record() -> None:
    base = _case_dir("t40")
    rows, _ = read_all(
        base / "data/example.dat.gz",
        {"copybook": _copybooks("t40", "test40_copybook.cob")[0], **T06, "file_end_offset": 1493},
    )
    assert len(rows) == 99


def test_t01_small_copybook_not_divisible(tmp_path: Path) -> None:
    cpy = tmp_path / "c.cpy"
    cpy.write_text("       01  R.\n           05  A  PIC X(16).\n")
    data = _case_dir("t01") / "data/example.bin"
    with pytest.raises(InputError, match="NOT DIVISIBLE"):
        read_all(data, {"copybook": str(cpy)})
    rows, bad = read_all(data, {"copybook": str(cpy), "allow_partial_last_record": True})
    assert len(rows) == 22020 // 16 and bad == 1
