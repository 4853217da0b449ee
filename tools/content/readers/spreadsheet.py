"""Excel workbooks (xlsx, xlsm, xlsb, ods) via python-calamine; one sheet is one table.

calamine parses a sheet's cells natively (outside Python objects); rows are then converted lazily
with ``iter_rows`` and batched, so Python memory is bounded by the batch. A sheet is at most about
one million rows by Excel's own limit. Cell types come from the workbook (numbers, text, dates,
booleans); integral numbers become int64 (Excel stores every number as a float).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from core.errors import InputError
from tools.content.readers.base import DEFAULT_BATCH_ROWS, ReadBatch
from tools.content.readers.files import check_file
from tools.content.readers.options import ReaderOptions, parse_options
from tools.content.readers.rebatch import check_batch_rows
from tools.content.readers.record_shape import RecordShape


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
        # Imported here: the workbook engine loads only for Excel files.
        import python_calamine as calamine  # noqa: PLC0415

        check_file(self.path)
        try:
            workbook = calamine.CalamineWorkbook.from_path(str(self.path))
        except Exception as exc:  # calamine raises several unrelated types for bad files
            raise InputError(
                f"cannot open as a workbook: {exc}",
                where=str(self.path),
                fix="check it is .xlsx/.xlsm/.xlsb/.ods, or set format",
            ) from None
        names = workbook.sheet_names
        sheet = self.options.sheet
        try:
            if isinstance(sheet, int):
                ws = workbook.get_sheet_by_index(sheet)
            else:
                ws = workbook.get_sheet_by_name(sheet)
        except Exception:
            raise InputError(
                f"sheet {sheet!r} not found",
                where=str(self.path),
                fix=f"set sheet to one of: {', '.join(map(repr, names))}",
            ) from None
        try:
            yield from ws.iter_rows()
        finally:
            workbook.close()

    def _records(self) -> Iterator[dict[str, Any]]:
        opts = self.options
        names: list[str] | None = list(opts.columns) if opts.columns else None
        for number, row in enumerate(self._rows(), start=1):
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
        schema = shape.schema()
        rows: list[dict[str, Any]] = []
        for record in self._records():
            rows.append(record)
            if len(rows) == batch_rows:
                yield ReadBatch(shape.to_batch(rows, schema))
                rows = []
        if rows:
            yield ReadBatch(shape.to_batch(rows, schema))
