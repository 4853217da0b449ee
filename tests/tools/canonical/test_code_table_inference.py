"""Which code table a proposed mapping reads a coded column through: a rare unknown code (one
mistyped or injected value) does not hide the table the rest of the column is written in."""

from __future__ import annotations

import pyarrow as pa

from tools.canonical.suggest import infer_code_table, infer_transform

# The policy master's coverage codes: three of six in the coverage_type table.
COMMON = ["LIA"] * 40 + ["PRP"] * 25 + ["COL"] * 15 + ["MED"] * 10 + ["CMP"] * 8 + ["UMB"] * 5


def test_a_rare_unknown_code_does_not_vote() -> None:
    assert infer_code_table(pa.array(COMMON), "coverage_type") == "coverage_type"
    with_unknown = pa.array([*COMMON * 10, "ZZ9"])  # under 1% of the rows
    assert infer_code_table(with_unknown, "coverage_type") == "coverage_type"
    steps = infer_transform(with_unknown, "enum", "coverage_sections[].coverage_type")
    assert steps == [{"kind": "code", "table": "coverage_type", "on_unknown": "keep"}]


def test_common_unknown_codes_still_count() -> None:
    # three unknown codes each held by many rows: the table no longer fits the column
    other = ["AAA"] * 30 + ["BBB"] * 30 + ["CCC"] * 30 + ["DDD"] * 30
    assert infer_code_table(pa.array([*COMMON, *other]), "coverage_type") is None
    # a short column of known codes
    assert infer_code_table(pa.array(["LIA", "COL", "UMB"]), "coverage_type") == "coverage_type"
