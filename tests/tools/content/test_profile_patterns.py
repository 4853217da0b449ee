"""Character-class patterns of the profiler: ASCII by table, other letters by regex, same result."""

from __future__ import annotations

import pyarrow as pa

from tools.content.profile.sketches import char_pattern


def test_patterns_of_ascii_accented_and_long_values_in_one_column() -> None:
    values = pa.array(["Ab1", "Lévesque 12", None, "ß-9", "中文x", "x" * 45, "", "Ø" * 41])
    assert char_pattern(values).to_pylist() == [
        "AA9",
        "AAAAAAAA 99",
        None,
        "A-9",
        "AAA",
        "A" * 40 + "…",
        "",
        "A" * 40 + "…",
    ]


def test_a_slice_of_a_column_keeps_its_own_rows() -> None:
    values = pa.array(["zz", "Émile 7", "q1", None, "ok"]).slice(1, 3)
    assert char_pattern(values).to_pylist() == ["AAAAA 9", "A9", None]
