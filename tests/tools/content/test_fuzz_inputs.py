"""Fuzz the copybook parser, the record decoder and every text reader (issue 13, required).

Seeded (derandomized) and bounded: a few seconds per test in the normal suite. Any input must
give a result or a DataMashError -- never another exception -- within the per-example deadline
and without memory growing past a fixed cap.
"""

from __future__ import annotations

import resource
import tempfile
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import DataMashError
from tools.content.cobol import CobolReader
from tools.content.cobol.copybook import parse_copybook
from tools.content.cobol.layout import compute_layout
from tools.content.readers.delimited import CsvReader
from tools.content.readers.fixed_width import FixedWidthReader
from tools.content.readers.jsondoc import JsonlReader, JsonReader
from tools.content.readers.xmldoc import XmlReader

FUZZ = settings(
    max_examples=60,
    deadline=timedelta(seconds=3),  # generous: the machine is shared; hangs still fail
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MEMORY_CAP = 64 * 1024 * 1024


@contextmanager
def _bounded_memory() -> Iterator[None]:
    """Python allocations of the block stay under MEMORY_CAP (single-threaded code only:
    stopping tracemalloc while another thread allocates crashes CPython 3.11)."""
    tracemalloc.start()
    try:
        yield
        _, peak = tracemalloc.get_traced_memory()
        assert peak < MEMORY_CAP, f"peak {peak:,} bytes"
    finally:
        tracemalloc.stop()


@contextmanager
def _bounded_peak_rss() -> Iterator[None]:
    """The process's peak resident size grows by less than MEMORY_CAP over the block (for
    readers that decode in pyarrow's background threads, where tracemalloc is unsafe)."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    yield
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    assert grown < MEMORY_CAP, f"peak RSS grew by {grown:,} bytes"


def _result_or_error(work: Callable[[], Any]) -> None:
    try:
        work()
    except DataMashError:
        pass


# ---------------------------------------------------------------- copybooks

_WORDS = st.sampled_from(
    [
        "01",
        "05",
        "10",
        "15",
        "66",
        "77",
        "88",
        "49",
        "50",
        "0",
        "²",
        "REC",
        "A-B",
        "FILLER",
        "PIC",
        "PICTURE",
        "IS",
        "X",
        "X(10)",
        "9(5)",
        "S9(7)V99",
        "X(1000000000)",
        "9(60)",
        "X(99999999999)",
        "Z(6)VZZ-",
        "COMP",
        "COMP-3",
        "COMP-5",
        "BINARY",
        "COMP-1",
        "COMP-2",
        "OCCURS",
        "5",
        "0",
        "TO",
        "999999999",
        "TIMES",
        "DEPENDING",
        "ON",
        "REDEFINES",
        "SIGN",
        "LEADING",
        "TRAILING",
        "SEPARATE",
        "VALUE",
        "'A'",
        "SPACES",
        "USAGE",
        ".",
        "(",
        ")",
        "9(",
        "X()",
        "*>",
        "'",
        '"',
    ]
)
_LINES = st.lists(st.lists(_WORDS, min_size=1, max_size=8).map(" ".join), max_size=12)


@FUZZ
@given(lines=_LINES, free=st.booleans())
def test_copybook_parser_gives_a_layout_or_a_located_error(lines: list[str], free: bool) -> None:
    text = "\n".join(("" if free else "       ") + line for line in lines)

    def work() -> None:
        compute_layout(parse_copybook(text, free_format=free))

    with _bounded_memory():
        _result_or_error(work)


@FUZZ
@given(text=st.text(max_size=400))
def test_copybook_parser_on_arbitrary_text(text: str) -> None:
    with _bounded_memory():
        _result_or_error(lambda: compute_layout(parse_copybook(text, free_format=True)))


# ---------------------------------------------------------------- record decoder

_LAYOUTS = [
    "       01  R.\n           05  A  PIC X(3).\n           05  B  PIC S9(5)V99 COMP-3.\n"
    "           05  C  PIC 9(9) COMP.\n           05  D  PIC S9(4).\n",
    "       01  R.\n           05  N  PIC 9.\n           05  I  PIC X(2) OCCURS 0 TO 5\n"
    "               DEPENDING ON N.\n           05  T  PIC S9(18) COMP.\n",
    "       01  R.\n           05  F  COMP-1.\n           05  G  COMP-2.\n"
    "           05  H  PIC 9(3).99.\n           05  Z  PIC Z(4)9-.\n",
]
_OPTIONS = [
    {},
    {"record_format": "V", "rdw_big_endian": True},
    {"record_format": "VB"},
    {"record_format": "D", "encoding": "ascii"},
    {"variable_size_occurs": True},
    {"allow_partial_last_record": True, "strict_sign_overpunching": False},
    {"record_format": "V", "variable_size_occurs": "pad_record", "string_trimming_policy": "none"},
]


@FUZZ
@given(
    layout=st.sampled_from(_LAYOUTS),
    options=st.sampled_from(_OPTIONS),
    data=st.binary(max_size=600),
)
def test_record_decoder_on_random_bytes(layout: str, options: dict[str, Any], data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cpy, path = Path(tmp) / "c.cpy", Path(tmp) / "d.dat"
        cpy.write_text(layout)
        path.write_bytes(data)

        def work() -> None:
            for _ in CobolReader(path, {"copybook": str(cpy), **options}).batches(7):
                pass

        with _bounded_memory():
            _result_or_error(work)


# ---------------------------------------------------------------- text readers

_JSONISH = st.lists(
    st.sampled_from(
        [
            '{"a": 1}',
            "[",
            "]",
            "{",
            "}",
            '"x"',
            ":",
            ",",
            "1e999",
            "null",
            "\n",
            '{"a": {"b": [1, {"c": 2}]}}',
            "\x00",
            "\ufeff",
            '"\\ud800"',
            "-",
            "tru",
        ]
    ),
    max_size=40,
).map("".join)
_XMLISH = st.lists(
    st.sampled_from(
        [
            "<r>",
            "</r>",
            "<a x='1'>",
            "</a>",
            "text",
            "&amp;",
            "&bogus;",
            "<!--",
            "-->",
            "<?xml version='1.0'?>",
            "<root>",
            "</root>",
            "<r/>",
            "<",
            ">",
        ]
    ),
    max_size=40,
).map("".join)

_READERS: list[tuple[Any, dict[str, Any], str]] = [
    (CsvReader, {}, "csv"),
    (CsvReader, {"delimiter": "|", "header": False, "encoding": "latin-1"}, "csv"),
    (JsonlReader, {}, "json"),
    (JsonReader, {}, "json"),
    (XmlReader, {"record_element": "r"}, "xml"),
    (
        FixedWidthReader,
        {
            "fields": [
                {"name": "a", "start": 1, "length": 3},
                {"name": "b", "start": 4, "length": 5},
            ]
        },
        "any",
    ),
]


def _payload(kind: str) -> st.SearchStrategy[bytes]:
    text = {"json": _JSONISH, "xml": _XMLISH}.get(kind, st.text(max_size=300))
    return st.one_of(st.binary(max_size=400), text.map(lambda t: t.encode("utf-8", "replace")))


@FUZZ
@given(data=st.data(), which=st.integers(0, len(_READERS) - 1))
def test_each_reader_gives_records_or_a_data_mash_error(data: st.DataObject, which: int) -> None:
    reader_cls, options, kind = _READERS[which]
    raw = data.draw(_payload(kind))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "input"
        path.write_bytes(raw)

        def work() -> None:
            for _ in reader_cls(path, options).batches(5):
                pass

        with _bounded_peak_rss():
            _result_or_error(work)
