"""Every built-in reader: bounded batches, file order, empty and missing files, registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import InputError
from tools.content.readers.base import SourceReader
from tools.content.readers.registry import BUILTIN_READERS, known_formats, reader_for

FORMATS = sorted(BUILTIN_READERS)


@pytest.mark.parametrize("fmt", FORMATS)
def test_batches_never_exceed_batch_rows_and_keep_order(fmt: str, sample_files) -> None:
    path, options = sample_files[fmt]
    reader = reader_for(fmt)(path, options)
    sizes, ids = [], []
    for batch in reader.batches(batch_rows=7):
        sizes.append(batch.records.num_rows)
        ids.extend(str(v) for v in batch.records.column("policy_id").to_pylist())
    assert max(sizes) <= 7 and len(sizes) >= 100 // 7
    assert ids == [f"P{i:05d}" for i in range(100)]


@pytest.mark.parametrize("fmt", FORMATS)
def test_empty_file_is_input_error(fmt: str, tmp_path: Path, sample_files) -> None:
    _, options = sample_files[fmt]
    empty = tmp_path / f"empty.{fmt}"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="is empty"):
        list(reader_for(fmt)(empty, options).batches())


@pytest.mark.parametrize("fmt", FORMATS)
def test_missing_file_is_input_error(fmt: str, tmp_path: Path, sample_files) -> None:
    _, options = sample_files[fmt]
    with pytest.raises(InputError, match="file not found"):
        list(reader_for(fmt)(tmp_path / "nope", options).batches())


@pytest.mark.parametrize("fmt", FORMATS)
def test_readers_follow_the_protocol(fmt: str, sample_files) -> None:
    cls = reader_for(fmt)
    assert cls.format_name == fmt
    path, options = sample_files[fmt]
    assert isinstance(cls(path, options), SourceReader)


def test_unknown_format_lists_known_formats() -> None:
    with pytest.raises(InputError) as info:
        reader_for("cobal")
    assert "unknown format 'cobal'" in str(info.value)
    for fmt in FORMATS:
        assert fmt in str(info.value)
    assert set(FORMATS) <= set(known_formats())


def test_bad_batch_rows(sample_files) -> None:
    path, options = sample_files["csv"]
    with pytest.raises(InputError, match="batch_rows"):
        list(reader_for("csv")(path, options).batches(0))
