"""An item counter (coverage line 1, 2, 3 of each policy) is the item's identifier, never an
address line, a limit or a coverage type (issue 20)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from tools.canonical.matching.canonical import suggest_matches
from tools.canonical.matching.conditioning import is_counter

KINDS = ["Dwelling", "Bodily injury", "Contents", "Property damage"]


def _coverage_lines(counter: str) -> dict[str, pa.Array]:
    keys, lines = [], []
    for policy in range(60):
        for line in range(1 + policy % 3):
            keys.append(f"PL-{policy:06d}")
            lines.append(line + 1)
    n = len(keys)
    return {
        "contract_number": pa.array(keys),
        counter: pa.array(lines),
        "coverage_kind": pa.array([KINDS[k % 4] for k in range(n)]),
        "limit": pa.array([(100_000, 250_000, 500_000)[k % 3] for k in range(n)]),
        "deductible": pa.array([(250, 500, 1000)[k % 3] for k in range(n)]),
    }


@pytest.mark.parametrize("counter", ["line_number", "LINE_NUMB", "Numéro de ligne", "lineNumber"])
def test_a_line_counter_is_the_coverage_id(counter: str) -> None:
    result = suggest_matches(_coverage_lines(counter), source_name="coverage_lines")
    best = result.column(counter).best
    assert best is not None and best.target == "coverage_sections[].coverage_id"


def test_what_counts_items() -> None:
    assert is_counter(("1", "2", "3"), 120)
    assert not is_counter(("1", "2", "3"), 3)  # a surrogate key 1..N does not repeat
    assert not is_counter(("250", "500", "1000"), 120)  # deductibles
    assert not is_counter(("1", "2", "5"), 120)  # a gap: codes, not a count
