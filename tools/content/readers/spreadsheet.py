"""Excel workbooks (xlsx, xlsm, xlsb, ods) via python-calamine; one sheet is one table.

calamine parses a sheet's cells natively (outside Python objects); rows are then converted lazily
with ``iter_rows`` and batched, so Python memory is bounded by the batch. A sheet is at most about
one million rows by Excel's own limit. Cell types come from the workbook (numbers, text, dates,
booleans); integral numbers become int64 (Excel stores every number as a float).

Split by record range (:meth:`XlsxReader.record_ranges`: ranges of sheet rows), the passes run
range by range on an executor. A workbook is compressed XML without an index of rows, so every
process that reads a range loads the sheet natively once and keeps it for its next ranges
(one sheet per process, the latest); moving past the rows before a range costs no conversion.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping
from itertools import islice
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from core.errors import InputError
from tools.content.readers.base import DEFAULT_BATCH_ROWS, ReadBatch
from tools.content.readers.files import check_file
from tools.content.readers.options import ReaderOptions, parse_options
from tools.content.readers.rebatch import check_batch_rows
from tools.content.readers.record_shape import RecordShape

#: A range of sheet rows [first, stop), numbered from 1 as the sheet's rows are read.
RowSpan = tuple[int, int]


class XlsxOptions(ReaderOptions):
    """Options of the ``xlsx`` reader."""

    sheet: str | int = 0  # sheet name, or 0-based index
    header: bool = True  # the header_row holds column names
    header_row: int = Field(default=1, ge=1)  # 1-based row of the header (or first data row)
    columns: list[str] | None = None  # names to use instead of the header / A, B, C...
    skip_empty_rows: bool = True


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


class XlsxReader:
    """Reads one worksheet; format name ``xlsx``."""

    format_name: ClassVar[str] = "xlsx"
    progress_unit: ClassVar[str] = "records"  # a workbook's bytes are compressed XML
    options_model: ClassVar[type[ReaderOptions]] = XlsxOptions

    def __init__(self, path: Path, options: Mapping[str, Any]) -> None:
        self.path = Path(path)
        self.options = parse_options(XlsxOptions, options, self.format_name)
        self._counted: int | None = None  # records, counted by the first pass

    def records_total(self) -> int | None:
        """Records of the sheet, known once the first pass of :meth:`batches` has run."""
        return self._counted

    def _rows(self) -> Iterator[list[Any]]:
        check_file(self.path)
        workbook, ws = _open_sheet(self.path, self.options.sheet)
        try:
            yield from ws.iter_rows()
        finally:
            workbook.close()

    def _kept_sheet(self) -> Any:
        """The sheet, loaded once per process for all the ranges it reads."""
        check_file(self.path)
        stat = self.path.stat()
        return _kept_sheet(str(self.path), (stat.st_mtime_ns, stat.st_size), self.options.sheet)

    def _records(
        self, span: RowSpan | None = None, names: list[str] | None = None
    ) -> Iterator[dict[str, Any]]:
        opts = self.options
        if names is None:
            names = list(opts.columns) if opts.columns else None
        else:
            names = list(names)
        rows: Iterable[list[Any]] = self._rows()
        first = 1
        if span is not None:
            first = span[0]
            rows = islice(self._kept_sheet().iter_rows(), first - 1, span[1] - 1)
        for number, row in enumerate(rows, start=first):
            if number < opts.header_row:
                continue
            if number == opts.header_row and opts.header:
                if names is None:
                    names = self._header_names(row)
                continue
            if opts.skip_empty_rows and all(v in ("", None) for v in row):
                continue
            if names is None:
                names = [_column_letter(i) for i in range(len(row))]
            while len(names) < len(row):
                names.append(_column_letter(len(names)))
            yield {n: (None if v == "" else v) for n, v in zip(names, row, strict=False)}

    @staticmethod
    def _header_names(row: list[Any]) -> list[str]:
        names: list[str] = []
        for i, value in enumerate(row):
            name = str(value).strip() if value not in ("", None) else _column_letter(i)
            if isinstance(value, float) and value.is_integer():
                name = str(int(value))
            base, n = name, 2
            while name in names:  # keep duplicate headers distinct, as spreadsheets allow them
                name, n = f"{base}_{n}", n + 1
            names.append(name)
        return names

    def batches(self, batch_rows: int = DEFAULT_BATCH_ROWS) -> Iterator[ReadBatch]:
        """Yield batches of at most ``batch_rows`` rows of the selected sheet."""
        check_batch_rows(batch_rows)
        shape = RecordShape()
        counted = 0
        for record in self._records():
            shape.observe(record)
            counted += 1
        self._counted = counted
        yield from self._batched(self._records(), shape, batch_rows, 0)

    @staticmethod
    def _batched(
        records: Iterable[dict[str, Any]], shape: RecordShape, batch_rows: int, done: int
    ) -> Iterator[ReadBatch]:
        schema = shape.schema()
        rows: list[dict[str, Any]] = []
        for record in records:
            rows.append(record)
            if len(rows) == batch_rows:
                yield ReadBatch(shape.to_batch(rows, schema), bytes_read=done)
                rows = []
        if rows:
            yield ReadBatch(shape.to_batch(rows, schema), bytes_read=done)

    # ------------------------------------------------------------------ ranges

    survey_rounds: ClassVar[int] = 1  # the ranges' shapes

    def record_ranges(self, records: int) -> list[RowSpan] | None:
        """Ranges of ``records`` sheet rows (the header's range starts at row 1); None for
        one range."""
        height = sum(1 for _ in self._kept_sheet().iter_rows())
        step = max(1, records)
        first = self.options.header_row + (1 if self.options.header else 0)
        if height < first + step:
            return None
        bounds = [1, *range(first + step, height + 1, step), height + 1]
        return list(zip(bounds[:-1], bounds[1:], strict=True))

    @staticmethod
    def release() -> None:
        """Drop this process's loaded sheet (the ingest calls it when its ranges are done)."""
        _kept_sheet.cache_clear()

    def range_plan(self) -> dict[str, Any]:
        """What every range needs from the whole sheet: the header's names, then columns."""
        opts = self.options
        names = list(opts.columns) if opts.columns else None
        if names is None and opts.header:
            for row in islice(self._kept_sheet().iter_rows(), opts.header_row - 1, None):
                names = self._header_names(row)
                break
        return {"names": names, "shape": None}

    def survey_range(self, span: RowSpan, plan: dict[str, Any]) -> RecordShape:
        """The shapes of one range's records (merged in sheet order by plan_from_surveys)."""
        shape = RecordShape()
        for record in self._records(span, plan["names"]):
            shape.observe(record)
        return shape

    def plan_from_surveys(
        self, plan: dict[str, Any], surveys: Iterable[RecordShape]
    ) -> dict[str, Any]:
        """The plan with the whole sheet's columns, from the ranges' shapes in order."""
        return {**plan, "shape": RecordShape.merged(surveys)}

    def range_batches(
        self,
        span: RowSpan,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        plan: dict[str, Any] | None = None,
    ) -> Iterator[ReadBatch]:
        """One range's records against the plan's columns (the range's own without one);
        ``bytes_read`` estimates the file's share read by the range's end."""
        check_batch_rows(batch_rows)
        plan = plan or self.range_plan()
        shape = plan["shape"] or self.survey_range(span, plan)
        height = sum(1 for _ in self._kept_sheet().iter_rows())
        done = self.path.stat().st_size * (span[1] - 1) // max(1, height)
        yield from self._batched(self._records(span, plan["names"]), shape, batch_rows, done)


def _open_sheet(path: Path, sheet: str | int) -> tuple[Any, Any]:
    """The workbook and its sheet (loaded natively), or one clear error."""
    # Imported here: the workbook engine loads only for Excel files.
    import python_calamine as calamine  # noqa: PLC0415

    try:
        workbook = calamine.CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises several unrelated types for bad files
        raise InputError(
            f"cannot open as a workbook: {exc}",
            where=str(path),
            fix="check it is .xlsx/.xlsm/.xlsb/.ods, or set format",
        ) from None
    names = workbook.sheet_names
    try:
        if isinstance(sheet, int):
            return workbook, workbook.get_sheet_by_index(sheet)
        return workbook, workbook.get_sheet_by_name(sheet)
    except Exception:
        workbook.close()
        raise InputError(
            f"sheet {sheet!r} not found",
            where=str(path),
            fix=f"set sheet to one of: {', '.join(map(repr, names))}",
        ) from None


@functools.lru_cache(maxsize=1)
def _kept_sheet(path: str, stamp: tuple[int, int], sheet: str | int) -> Any:
    """One loaded sheet per process (``stamp``: the file's mtime and size, so a changed file
    is loaded again): a worker reads every range it is given from one load."""
    workbook, ws = _open_sheet(Path(path), sheet)
    workbook.close()  # the sheet's cells are loaded: they outlive the workbook's file handle
    return ws
