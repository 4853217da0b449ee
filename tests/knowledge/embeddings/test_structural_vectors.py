"""Structural column vectors: shape, determinism, and what each block records."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from core.errors import InputError
from knowledge.embeddings.structural import (
    BLOCKS,
    DATE_FORMATS,
    DIMENSION,
    column_vector,
    null_rate,
    structural_distance,
    type_class,
)

FORMAT_EXAMPLES = {
    "YYYY-MM-DD": ["2024-01-31", "1999-12-01"],
    "YYYYMMDD": ["20240131", "19991201"],
    "MM/DD/YYYY": ["01/31/2024", "12/01/1999"],
    "DD.MM.YYYY": ["31.01.2024", "01.12.1999"],
    "YYYYDDD": ["2024031", "1999335"],
    "ISO-TIMESTAMP": ["2024-01-31T10:15:00", "1999-12-01 00:00:00"],
    "DD-MON-YYYY": ["31-JAN-2024", "01-Dec-1999"],
}


def amounts(seed: int, n: int = 400) -> pa.Array:
    rng = np.random.default_rng(seed)
    return pa.array([f"{x:.2f}" for x in rng.gamma(2.0, 500.0, n)])


def test_vector_has_fixed_length_and_dtype() -> None:
    for values in (
        amounts(1),
        pa.array([1, 2, 3]),
        pa.array([[1], [2, 3]]),
        pa.array([], pa.string()),
    ):
        vector = column_vector(values)
        assert vector.shape == (DIMENSION,)
        assert vector.dtype == np.float32
    assert sum(s.stop - s.start for s in BLOCKS.values()) == DIMENSION


def test_same_input_gives_bit_identical_output() -> None:
    values = amounts(7, 20_000)
    first = column_vector(values).tobytes()
    assert column_vector(values).tobytes() == first
    chunked = pa.chunked_array([values.slice(0, 5_000), values.slice(5_000)])
    assert column_vector(chunked).tobytes() == first


def test_sample_is_strided_over_the_whole_column() -> None:
    # First half short codes, second half long names: a first-N sample would miss the names.
    values = pa.array(["AB"] * 5_000 + ["A MUCH LONGER VALUE"] * 5_000)
    vector = column_vector(values, sample_size=100)
    length = vector[BLOCKS["length"]]
    assert length[2] < length[4]  # min length below max length


@pytest.mark.parametrize("label", list(FORMAT_EXAMPLES))
def test_date_formats_are_recognised(label: str) -> None:
    vector = column_vector(pa.array(FORMAT_EXAMPLES[label]))
    dates = vector[BLOCKS["date"]]
    names = [name for name, _ in DATE_FORMATS]
    assert dates[names.index(label)] == 1.0


def test_native_dates_match_their_iso_text() -> None:
    native = column_vector(pa.array([dt.date(2024, 1, 31), dt.date(1999, 12, 1)]))
    text = column_vector(pa.array(["2024-01-31", "1999-12-01"]))
    assert type_class(native) == "temporal"
    assert np.array_equal(native[BLOCKS["date"]], text[BLOCKS["date"]])


def test_numbers_in_text_fill_the_numeric_block_like_native_numbers() -> None:
    text = column_vector(pa.array(["100", "-2000", "30000"]))
    native = column_vector(pa.array([100, -2000, 30000]))
    assert np.allclose(text[BLOCKS["numeric"]], native[BLOCKS["numeric"]])
    numeric = native[BLOCKS["numeric"]]
    assert numeric[0] == 1.0  # all numbers
    assert numeric[1] == pytest.approx(1 / 3)  # one negative
    assert numeric[3] < 0 < numeric[-1]  # min quantile negative, max positive
    assert column_vector(pa.array(["SMITH", "JONES"]))[BLOCKS["numeric"]].sum() == 0


def test_presence_block_counts_nulls_blanks_and_distinct_values() -> None:
    vector = column_vector(pa.array(["CA", "CA", "NY", "  ", None, None, None, None]))
    assert null_rate(vector) == 0.5
    presence = vector[BLOCKS["presence"]]
    assert presence[1] == pytest.approx(0.25)  # one blank of four present values
    assert presence[2] == pytest.approx(0.75)  # three distinct of four
    assert presence[3] == pytest.approx(0.5)  # "NY" and the blank are seen once
    assert presence[4] == pytest.approx(0.5)  # "CA" is half the values


def test_character_pattern_by_position() -> None:
    # Policy numbers: a letter then digits, so the first quarter has letters, the last only digits.
    chars = column_vector(pa.array(["P0001234", "Q0009876"]))[BLOCKS["chars"]].reshape(4, 5)
    assert chars[0, 0] > 0  # upper-case letters at the start
    assert chars[3, 2] == 1.0  # only digits at the end
    assert np.allclose(chars.sum(axis=1), 1.0)


def test_unusual_columns_do_not_fail() -> None:
    assert type_class(column_vector(pa.array([[1, 2], [3], None]))) == "nested"
    assert type_class(column_vector(pa.array([b"\xc1\xff", b"\x00"]))) == "binary"
    all_null = column_vector(pa.array([None, None], pa.string()))
    assert null_rate(all_null) == 1.0
    dictionary = pa.array(["A", "B", "A"]).dictionary_encode()
    assert type_class(column_vector(dictionary)) == "string"


def test_distance_separates_columns_and_matches_samples() -> None:
    same = structural_distance(column_vector(amounts(1)), column_vector(amounts(2)))
    names = pa.array(["SMITH JOHN", "MILLER ANNA", "O'BRIEN PAT"] * 100)
    other = structural_distance(column_vector(amounts(1)), column_vector(names))
    assert same < 0.02
    assert other > 0.1
    assert structural_distance(column_vector(names), column_vector(names)) == 0.0


def test_non_arrow_input_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="PREM_AMT"):
        column_vector([1, 2, 3], name="PREM_AMT")  # type: ignore[arg-type]
