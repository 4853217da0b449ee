"""Every transform on whole columns, good values and bad."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest

from tools.canonical.build import build_candidates, compile_plan, to_target
from tools.canonical.dates import compile_format, parse_dates
from tools.canonical.spec import CodeStep, FieldRule, MoneyStep, TextStep
from tools.canonical.transforms import (
    apply_steps,
    join_text,
    parse_money,
    shape_text,
    split_name,
    strip_text,
    translate_codes,
)

D = dt.date


def dates(values: list[object], fmt: str) -> tuple[list[object], list[bool]]:
    parsed, failed = parse_dates(pa.array(values), fmt)
    return parsed.to_pylist(), failed.tolist()


@pytest.mark.parametrize(
    ("fmt", "values", "expected", "failed"),
    [
        (
            "MM/DD/YYYY",
            ["01/31/2024", "1/5/2024", "02/30/2024", "13/01/2024", None, "00/00/0000"],
            [D(2024, 1, 31), D(2024, 1, 5), None, None, None, None],
            [0, 0, 1, 1, 0, 0],
        ),
        (
            "DD.MM.YYYY",
            ["31.12.2023", "29.02.2023", "29.02.2024", "31-12-2023"],
            [D(2023, 12, 31), None, D(2024, 2, 29), None],
            [0, 1, 0, 1],
        ),
        (
            "YYYYMMDD",
            ["20240131", "20241301", "2024013", "00000000"],
            [D(2024, 1, 31), None, None, None],
            [0, 1, 1, 0],
        ),
        (
            "YYYY-MM-DD",
            ["2024-01-31", "2024/01/31", " 2024-02-29 "],
            [D(2024, 1, 31), None, D(2024, 2, 29)],
            [0, 1, 0],
        ),
        (
            "julian",
            ["2024366", "2023366", "2019113", "2024000"],
            [D(2024, 12, 31), None, D(2019, 4, 23), None],
            [0, 1, 0, 1],
        ),
        ("CYYMMDD", ["0991231", "1240131"], [D(1999, 12, 31), D(2024, 1, 31)], [0, 0]),
    ],
)
def test_date_formats(
    fmt: str, values: list[object], expected: list[object], failed: list[int]
) -> None:
    parsed, bad = dates(values, fmt)
    assert parsed == expected
    assert bad == [bool(f) for f in failed]


def test_numeric_dates_keep_their_digits() -> None:
    assert dates([20240131, 0, None], "YYYYMMDD") == (
        [D(2024, 1, 31), None, None],
        [False, False, False],
    )
    assert dates([991231], "CYYMMDD")[0] == [D(1999, 12, 31)]  # leading century 0 restored
    assert dates([2019113.0, 2.5], "YYYYDDD") == ([D(2019, 4, 23), None], [False, True])


def test_excel_serials_with_the_1900_leap_bug() -> None:
    parsed, failed = dates([45292, 61, 59, 1, 60, 0, -3, 45292.75, 3_000_000], "excel")
    assert parsed == [
        D(2024, 1, 1),
        D(1900, 3, 1),
        D(1900, 2, 28),
        D(1900, 1, 1),
        None,
        None,
        None,
        D(2024, 1, 1),
        None,
    ]
    assert failed == [False, False, False, False, True, False, True, False, True]
    assert dates(["45292", "x"], "excel") == ([D(2024, 1, 1), None], [False, True])


def test_bad_date_format_is_refused() -> None:
    with pytest.raises(ValueError, match="needs YYYY"):
        compile_format("MM/DD")
    with pytest.raises(ValueError, match="century digit"):
        compile_format("YYMMDD")


def money(values: list[object], **options: object) -> tuple[list[object], list[bool]]:
    parsed, failed = parse_money(pa.array(values), MoneyStep(**options))
    return [None if v is None else v.normalize() for v in parsed.to_pylist()], failed.tolist()


def test_money_implied_decimals_and_cents() -> None:
    assert money(["000026396", "12.5", "1234-", None], implied_decimals=2) == (
        [Decimal("263.96"), None, Decimal("-12.34"), None],
        [False, True, False, False],
    )
    assert money([26396, -5, None], cents=True) == (
        [Decimal("263.96"), Decimal("-0.05"), None],
        [False, False, False],
    )


def test_money_decimal_comma_and_bad_values() -> None:
    assert money(["1.234,56", "-12,3", "(5,00)", "1 000,00"], decimal_comma=True)[0] == [
        Decimal("1234.56"),
        Decimal("-12.3"),
        Decimal("-5"),
        Decimal("1000"),
    ]
    values, failed = money(["abc", "1,234.50", "12.30", ""])
    assert values == [None, None, Decimal("12.3"), None]
    assert failed == [True, True, False, False]
    assert money(["1,234.50"], thousands_separator=",")[0] == [Decimal("1234.5")]
    assert money([1.1, float("nan")])[1] == [False, True]
    # Places beyond the candidate precision fail instead of rounding silently.
    assert money(["0.12345678901"])[1] == [True]


def test_code_lookups_glossary_and_explicit() -> None:
    step = CodeStep(table="policy_status", values={"LP": "inactive"})
    result, failed = translate_codes(pa.array(["IF", "lp", " A ", "ZZ", None]), step)
    assert result.to_pylist() == ["active", "inactive", "active", "ZZ", None]
    assert not failed.any()
    for table, code, expected in [
        ("line_of_business", "HO-3", "property"),
        ("coverage_type", "3", "property"),
        ("payment_mode", "Semi-Annual", "semi_annual"),
        ("us_state", "California", "CA"),
    ]:
        assert translate_codes(pa.array([code]), CodeStep(table=table))[0].to_pylist() == [expected]
    nulled, _ = translate_codes(pa.array(["ZZ"]), CodeStep(table="payment_mode", on_unknown="null"))
    assert nulled.to_pylist() == [None]
    _, failed = translate_codes(
        pa.array(["ZZ", "M"]), CodeStep(table="payment_mode", on_unknown="error")
    )
    assert failed.tolist() == [True, False]
    exact, _ = translate_codes(
        pa.array(["a", "A"]), CodeStep(values={"A": "active"}, case_insensitive=False)
    )
    assert exact.to_pylist() == ["a", "active"]


def test_names_split_and_join() -> None:
    names = pa.array(["John Smith", "Smith, John", "Mary Ann Lee", "Cher", None])
    assert split_name(names, "first").to_pylist() == ["John", "John", "Mary Ann", None, None]
    assert split_name(names, "last").to_pylist() == ["Smith", "Smith", "Lee", "Cher", None]
    joined = join_text([pa.array(["Ann", None, " "]), pa.array(["Lee", "Cher", None])], " ")
    assert joined.to_pylist() == ["Ann Lee", "Cher", None]


def test_text_trim_case_pad_prefix() -> None:
    assert shape_text(
        pa.array(["85", " 00085 "]), TextStep(pad_left=5, prefix="A")
    ).to_pylist() == ["A00085", "A00085"]
    assert shape_text(pa.array([" ab "]), TextStep(upper=True)).to_pylist() == ["AB"]
    assert shape_text(pa.array(["AB"]), TextStep(lower=True, suffix="!")).to_pylist() == ["ab!"]
    # At least the Unicode white space pydantic strips is stripped; blanks become null.
    assert strip_text(pa.array(["\u00a0x\u3000", "   ", "\x1cy\x85"])).to_pylist() == [
        "x",
        None,
        "y",
    ]


def test_pipeline_records_which_step_failed() -> None:
    converted = apply_steps(
        pa.array(["x", "20240101"]),
        (
            TextStep(),
            *FieldRule(target="t", transform={"kind": "date", "format": "YYYYMMDD"}).transform,
        ),
    )
    assert converted.failed.tolist() == [True, False]
    assert converted.reason[converted.failed_step[0] - 1] == "a date in format YYYYMMDD"


def test_target_conversion_refuses_numbers_as_dates() -> None:
    _, failed, why = to_target(pa.array([20240101]), "date")
    assert failed.tolist() == [True] and "numbers are not dates" in why
    values, failed, _ = to_target(pa.array(["2024-01-31", "31/01/2024"]), "date")
    assert values.to_pylist()[0] == D(2024, 1, 31) and failed.tolist() == [False, True]


def test_defaults_constants_and_failure_messages() -> None:
    table = pa.table({"ST": ["CA", None], "EFF": ["2024-01-01", "01/02/2024"]})
    rules = [
        FieldRule(
            source="ST",
            target="policy_core.insured_party.address.state",
            transform=[{"kind": "code", "table": "us_state"}, {"kind": "default", "value": "NY"}],
        ),
        FieldRule(
            target="policy_core.insured_party.address.country",
            transform={"kind": "constant", "value": "US"},
        ),
        FieldRule(source="EFF", target="policy_core.effective_date"),
    ]
    candidates = build_candidates(
        table.to_batches()[0], compile_plan(rules, "policy_v1", table.schema)
    )
    assert candidates.column("policy_core.insured_party.address.state").to_pylist() == ["CA", "NY"]
    assert candidates.column("policy_core.insured_party.address.country").to_pylist() == [
        "US",
        "US",
    ]
    assert candidates.column("!fail:policy_core.effective_date").to_pylist() == [
        None,
        "'01/02/2024' in column EFF is not an ISO date YYYY-MM-DD (add a date transform "
        "for other formats)",
    ]


def test_a_timestamp_reads_as_its_date() -> None:
    dates, failed = parse_dates(
        pa.array(["2020-04-21T16:34:11", "2023-13-14T12:32:30", None]), "YYYY-MM-DDTHH:MI:SS"
    )
    assert [str(d) if d else None for d in dates.to_pylist()] == ["2020-04-21", None, None]
    assert failed.tolist() == [False, True, False]
