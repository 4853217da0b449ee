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
from cobrix_compare import CORPUS, compare, load_expected, parse_layout, read_all

from tools.content.cobol import describe_layout
from tools.errors import InputError

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="cobrix corpus not present")

T06 = {"floating_point_format": "IEEE754", "strict_sign_overpunching": True}
SEG5 = {"segment_field": "SEGMENT_ID"}
MAP5 = {"redefine_segment_id_map": {"STATIC-DETAILS": ["C", "D"], "CONTACTS": ["P"]}}
MAP17 = {
    "redefine_segment_id_map": {
        "COMPANY": ["1"],
        "DEPT": ["2"],
        "EMPLOYEE": ["3"],
        "OFFICE": ["4"],
        "CUSTOMER": ["5"],
        "CONTACT": ["6"],
        "CONTRACT": ["7"],
    },
    "segment_field": "SEGMENT_ID",
    "record_format": "V",
}
HIER = "segment-children hierarchy reconstruction (parent/child nesting) is not implemented"

# (case, variant, data, copybook(s), options, expected file, order_by, expected total, na_fill)
V: list[tuple[Any, ...]] = [
    ("t01", "test1", "data/example.bin", "test1_copybook.cob", {}, "test1.txt", None, 10, False),
    (
        "t01",
        "test1a",
        "data/example.bin",
        "test1a_copybook.cob",
        {"record_start_offset": 2, "record_end_offset": 27},
        "test1a.txt",
        None,
        10,
        False,
    ),
    (
        "t01",
        "test1b",
        "data/example.bin",
        "test1_copybook.cob",
        {"generate_record_id": True},
        "test1b.txt",
        None,
        10,
        False,
    ),
    *[
        (
            "t03",
            f"trim_{p}",
            "data/TRAN2.AUG31.DATA.dat",
            "test3_copybook.cob",
            {
                "segment_field": "SIGNATURE",
                "segment_filter": "S9276511",
                "string_trimming_policy": p,
            },
            f"test3_trim_{p}.txt",
            None,
            1000,
            False,
        )
        for p in ("both", "left", "right", "none")
    ],
    (
        "t03",
        "test3",
        "data/TRAN2.AUG31.DATA.dat",
        "test3_copybook.cob",
        {"segment_field": "SIGNATURE", "segment_filter": "S9276511"},
        "test3.txt",
        None,
        1000,
        False,
    ),
    (
        "t04",
        "test4",
        "data/COMP.DETAILS.SEP30.DATA.dat",
        "test4_copybook.cob",
        {"encoding": "ascii", "record_format": "V", **SEG5},
        "test4.txt",
        None,
        1000,
        False,
    ),
    (
        "t04",
        "test4a",
        "data_4a/COMP.DETAILS.SEP30.DATA.dat",
        "test4_copybook.cob",
        {
            "encoding": "ascii",
            "record_format": "V",
            "ascii_charset": "ISO-8859-1",
            "improved_null_detection": False,
            **SEG5,
        },
        "test4a.txt",
        None,
        1000,
        False,
    ),
    (
        "t05",
        "test5",
        "data/COMP.DETAILS.SEP30.DATA.dat",
        "test5_copybook.cob",
        {"record_format": "V", "improved_null_detection": False, **SEG5},
        "test5.txt",
        None,
        1000,
        False,
    ),
    (
        "t05",
        "test5a",
        "data/COMP.DETAILS.SEP30.DATA.dat",
        "test5_copybook.cob",
        {"record_format": "V", "improved_null_detection": False, **SEG5},
        "test5a.txt",
        None,
        1000,
        False,
    ),
    (
        "t05",
        "test5c",
        "data/COMP.DETAILS.SEP30.DATA.dat",
        "test5_copybook.cob",
        {"record_format": "V", **SEG5, **MAP5},
        "test5c.txt",
        None,
        1000,
        False,
    ),
    (
        "t05b",
        "test5b",
        "data/COMP.DETAILS.FEB02.DATA.RDW.BE.dat",
        "test5_copybook.cob",
        {"record_format": "V", "rdw_big_endian": True, "improved_null_detection": False, **SEG5},
        "test5b.txt",
        None,
        1000,
        False,
    ),
    (
        "t05b",
        "test5d",
        "data/COMP.DETAILS.FEB02.DATA.RDW.BE.dat",
        "test5d_copybook.cob",
        {
            "record_length_field": "RECORD-LENGTH",
            "rdw_adjustment": 4,
            "improved_null_detection": False,
            **SEG5,
        },
        "test5d.txt",
        None,
        1000,
        False,
    ),
    (
        "t06",
        "test6",
        "data/INTEGR.TYPES.NOV28.DATA.dat",
        "test6_copybook.cob",
        T06,
        "test6.txt",
        ["ID"],
        100,
        True,
    ),
    *[
        (
            "t07",
            v,
            "data/TEST.FILLERS.DEC07.DATA.dat",
            "test7_fillers.cob",
            {"drop_value_fillers": dv, "drop_group_fillers": dg, "filler_naming_policy": pol},
            f"{v}.txt",
            ["AMOUNT"],
            1000,
            False,
        )
        for v, dv, dg, pol in [
            ("test7", True, True, "sequence_numbers"),
            ("test7a", True, False, "sequence_numbers"),
            ("test7b", False, True, "sequence_numbers"),
            ("test7c", False, False, "sequence_numbers"),
            ("test7d", False, False, "previous_field_name"),
        ]
    ],
    (
        "t08",
        "printable",
        "data/TRAN2.MAR14.DATA.dat",
        "test8_copybook.cob",
        {"encoding": "common"},
        "test8_printable.txt",
        None,
        1000,
        False,
    ),
    (
        "t08",
        "non_printable",
        "data/TRAN2.MAR14.DATA.dat",
        "test8_copybook.cob",
        {"encoding": "common_extended", "string_trimming_policy": "none"},
        "test8_non_printable.txt",
        None,
        1000,
        False,
    ),
    (
        "t09",
        "cp037",
        "data/TRAN.APR14.NPT.DATA.dat",
        "test9_copybook.cob",
        {"encoding": "cp037"},
        "test9_cp037.txt",
        None,
        1000,
        False,
    ),
    *[
        (
            "t09",
            cp,
            "data/TRAN.APR14.NPT.DATA.dat",
            "test9_copybook.cob",
            {
                "encoding": "cp037_extended" if cp == "cp037_ext" else cp,
                "string_trimming_policy": "none",
            },
            f"test9_{cp}.txt",
            None,
            1000,
            False,
        )
        for cp in ("cp037_ext", "cp273", "cp500", "cp1140", "cp1141", "cp1148")
    ],
    (
        "t10",
        "test10",
        "data/data.dat",
        "test10_copybook.cob",
        {
            "non_terminals": "NAME,ACCOUNT-NO",
            "encoding": "ascii",
            "schema_retention_policy": "keep_original",
        },
        "test10.txt",
        None,
        1,
        False,
    ),
    (
        "t11",
        "test11",
        "data/COMP.DETAILS.MAY30.DATA.dat",
        "test11_copybook.cob",
        {
            "record_header": {
                "length": 5,
                "length_offset": 3,
                "length_size": 2,
                "big_endian": 0,
                "valid_byte_offset": 0,
                "valid_byte_value": 1,
            },
            "improved_null_detection": False,
        },
        "test11.txt",
        None,
        1000,
        False,
    ),
    (
        "t11",
        "min_length_61",
        "data/COMP.DETAILS.MAY30.DATA.dat",
        "test11_copybook.cob",
        {
            "record_header": {
                "length": 5,
                "length_offset": 3,
                "length_size": 2,
                "big_endian": 0,
                "valid_byte_offset": 0,
                "valid_byte_value": 1,
            },
            "minimum_record_length": 61,
        },
        None,
        None,
        328,
        False,
    ),
    (
        "t12",
        "one_copybook",
        "data/data.dat",
        "test12_copybook.cob",
        {"encoding": "ascii", "schema_retention_policy": "keep_original"},
        "test12.txt",
        None,
        1,
        False,
    ),
    (
        "t12",
        "merged",
        "data/data.dat",
        ["test12_copybook_a.cob", "test12_copybook_b.cob"],
        {"encoding": "ascii", "schema_retention_policy": "keep_original"},
        "test12.txt",
        None,
        1,
        False,
    ),
    (
        "t13a",
        "test13a",
        "data/TRAN2.JUN24.DATA.dat",
        "test13a_file_header_footer.cob",
        {"file_start_offset": 10, "file_end_offset": 12},
        "test13a.txt",
        ["COMPANY_ID", "AMOUNT"],
        50,
        False,
    ),
    (
        "t13b",
        "test13b",
        "data/COMP.DETAILS.JUN02.DATA.RDW.BE.dat",
        "test13b_vrl_file_headers.cob",
        {
            "record_format": "V",
            "improved_null_detection": False,
            "rdw_big_endian": True,
            "file_start_offset": 100,
            "file_end_offset": 120,
            **SEG5,
        },
        "test13b.txt",
        None,
        20,
        False,
    ),
    (
        "t14",
        "rdw_adjustment",
        "data/COMP.DETAILS.JUL02.DATA.dat",
        "test14_copybook.cob",
        {"record_format": "V", "rdw_adjustment": -4, **SEG5, **MAP5},
        "test14.txt",
        None,
        100,
        False,
    ),
    (
        "t14",
        "rdw_part_of_length",
        "data/COMP.DETAILS.JUL02.DATA.dat",
        "test14_copybook.cob",
        {"record_format": "V", "is_rdw_part_of_record_length": True, **SEG5, **MAP5},
        "test14.txt",
        None,
        100,
        False,
    ),
    (
        "t16",
        "test16",
        "data/ENTITY.DB.AUG12.DATA.FIX.LEN.dat",
        "test16_fix_len_segments.cob",
        {**SEG5, "redefine_segment_id_map": {"COMPANY": ["C"], "PERSON": ["P"], "PO-BOX": ["B"]}},
        "test16.txt",
        None,
        50,
        False,
    ),
    (
        "t17",
        "test17a",
        "data/HIERARCHICAL.DATA.RDW.dat",
        "test17_hierarchical.cob",
        MAP17,
        "test17a.txt",
        None,
        951,
        False,
    ),
    (
        "t17",
        "test17b",
        "data/HIERARCHICAL.DATA.RDW.dat",
        "test17_hierarchical.cob",
        MAP17,
        "test17b.txt",
        None,
        951,
        False,
    ),
    (
        "t19",
        "test19",
        "data/data.dat",
        "test19_display_num.cob",
        {"improved_null_detection": False},
        "test19.txt",
        None,
        7,
        False,
    ),
    (
        "t21",
        "test21",
        "data/data.dat",
        "test21_copybook.cob",
        {
            "encoding": "ascii",
            "variable_size_occurs": True,
            "schema_retention_policy": "keep_original",
        },
        "test21.txt",
        None,
        5,
        False,
    ),
    *[
        (
            "t25",
            name,
            f"data/{name}",
            "test25_copybook.cob",
            {
                "encoding": "ascii",
                "variable_size_occurs": vso,
                "occurs_mappings": {"DETAIL1": {"A": 0, "B": 1}, "DETAIL2": {"A": 1, "B": 2}},
                "schema_retention_policy": "keep_original",
            },
            "test25.txt",
            None,
            2,
            False,
        )
        for name, vso in (("data.dat", True), ("data2.dat", False))
    ],
    *[
        (
            "t40",
            ext,
            f"data/example.dat.{ext}",
            "test40_copybook.cob",
            T06,
            "test40.txt",
            ["ID"],
            100,
            True,
        )
        for ext in ("gz", "bz2")
    ],
]

XFAIL = [
    (
        "t04",
        "test17d",
        "data/COMP.DETAILS.SEP30.DATA.dat",
        "test4_copybook.cob",
        {
            "encoding": "ascii",
            "record_format": "V",
            **SEG5,
            "redefine_segment_id_map": {"STATIC-DETAILS": ["C"], "CONTACTS": ["P"]},
            "segment_children": {"STATIC-DETAILS": ["CONTACTS"]},
        },
        "test17d.txt",
        None,
        316,
        False,
        HIER,
    ),
    (
        "t04",
        "test17e",
        "data/COMP.DETAILS.SEP30.DATA.dat",
        "test4_copybook.cob",
        {
            "encoding": "ascii",
            "record_format": "V",
            **SEG5,
            "schema_retention_policy": "keep_original",
            "redefine_segment_id_map": {"STATIC-DETAILS": ["C"], "CONTACTS": ["P"]},
            "segment_children": {"STATIC-DETAILS": ["CONTACTS"]},
        },
        "test17e.txt",
        ["COMPANY_DETAILS.COMPANY_ID"],
        316,
        False,
        HIER,
    ),
    (
        "t17",
        "test17c",
        "data/HIERARCHICAL.DATA.RDW.dat",
        "test17_hierarchical.cob",
        {
            **MAP17,
            "segment_children": {
                "COMPANY": ["DEPT", "CUSTOMER"],
                "DEPT": ["EMPLOYEE", "OFFICE"],
                "CUSTOMER": ["CONTACT", "CONTRACT"],
            },
        },
        "test17c.txt",
        None,
        50,
        False,
        HIER,
    ),
    (
        "t09",
        "cp_custom",
        "data/TRAN.APR14.NPT.DATA.dat",
        "test9_copybook.cob",
        {"encoding": "custom", "string_trimming_policy": "none"},
        "test9_cp_custom.txt",
        None,
        1000,
        False,
        "cobrix's test-only CustomCodePage table is not in the corpus, so there is no "
        "256-entry table file to pass as code_page_file",
    ),
]
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


LAYOUTS = [
    ("t06", "test6_layout.txt", "test6_copybook.cob", {}),
    ("t07", "test7_layout.txt", "test7_fillers.cob", {}),
    ("t07", "test7a_layout.txt", "test7_fillers.cob", {"keep": (False, True)}),
    ("t07", "test7b_layout.txt", "test7_fillers.cob", {"keep": (True, False)}),
    ("t07", "test7c_layout.txt", "test7_fillers.cob", {"keep": (True, True)}),
    (
        "t07",
        "test7d_layout.txt",
        "test7_fillers.cob",
        {"keep": (True, True), "filler_naming_policy": "previous_field_name"},
    ),
    ("t11", "test11_layout.txt", "test11_copybook.cob", {}),
    ("t13a", "test13a_layout.txt", "test13a_file_header_footer.cob", {}),
    ("t13b", "test13b_layout.txt", "test13b_vrl_file_headers.cob", {}),
    ("t16", "test16_layout.txt", "test16_fix_len_segments.cob", {}),
    ("t17", "test17a_layout.txt", "test17_hierarchical.cob", {}),
    ("t19", "test19_layout.txt", "test19_display_num.cob", {}),
    ("t24", "test24_layout.txt", "test24_copybook.cob", {}),
    ("t40", "test40_layout.txt", "test40_copybook.cob", {}),
]


@pytest.mark.parametrize("spec", LAYOUTS, ids=[f"{c}-{f}" for c, f, _, _ in LAYOUTS])
def test_cobrix_layout(spec: tuple[str, str, str, dict[str, Any]]) -> None:
    case, layout_file, cb, opts = spec
    expected = parse_layout(_case_dir(case) / "expected" / layout_file)
    keep_value, keep_group = opts.get("keep", (False, False))
    desc = describe_layout(
        _copybooks(case, cb)[0],
        keep_fillers=True,
        filler_naming_policy=opts.get("filler_naming_policy", "sequence_numbers"),
    )
    debug = "_debug" in (_case_dir(case) / "expected" / layout_file).read_text()
    got = []
    for f in desc["fields"]:
        name = f["name"]
        if f["cobol_name"].upper() == "FILLER":
            kept = keep_group if f["type"] == "group" else keep_value
            name = name if kept else "FILLER"
        attrs = "" if debug else ("r" if f["redefined"] else "") + ("R" if f["redefines"] else "")
        got.append((name, attrs, f["start"], f["end"], f["length"]))
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
