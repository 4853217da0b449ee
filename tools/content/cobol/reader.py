"""``CobolReader``: the ``cobol`` source format (mainframe files described by a copybook).

Usage::

    reader = CobolReader(Path("POLMAST.dat"), {"copybook": "POLMAST.cpy", "encoding": "cp037"})
    for batch in reader.batches(50_000):
        batch.records  # pa.RecordBatch, flat dotted columns, OCCURS as list columns
        batch.bad      # BadRecords: truncated records, invalid values (field + byte offset)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pyarrow as pa

from core.errors import InputError
from tools.content.cobol.assemble import Assembler, DecodeSettings, Issue
from tools.content.cobol.codepages import is_ebcdic
from tools.content.cobol.decode_text import char_table
from tools.content.cobol.framing import (
    CHUNK,
    RAW_CAP,
    ByteSource,
    HeaderSpec,
    RawBatch,
    fixed_batches,
    length_prefixed_batches,
    open_stream,
    text_batches,
    variable_occurs_batches,
)
from tools.content.cobol.layout import MAX_RECORD_BYTES, Layout, describe_layout, load_layout
from tools.content.cobol.odo import make_normalizer
from tools.content.cobol.options import CobolOptions, parse_options
from tools.content.cobol.zoned_tables import zoned_tables
from tools.content.readers.base import DEFAULT_BATCH_ROWS, BadRecord, ReadBatch

BATCH_BYTES = 64 * 1024 * 1024  # bound on the raw bytes of one batch (rows x record length)
#: A range of records: (first record, count, its first byte, the byte after its last), and for
#: blocked records (VB) where its blocks' payload starts among the file's block payloads.
Span = tuple[int, ...]


class CobolReader:
    """Streaming decoder for EBCDIC/ASCII mainframe files (see tools/content/cobol/options.py)."""

    format_name: ClassVar[str] = "cobol"
    options_model: ClassVar[type] = CobolOptions

    def __init__(self, path: Path, options: Mapping[str, Any]) -> None:
        """Validate options, parse the copybook and check the file size against the layout."""
        self.path = Path(path)
        self.options: CobolOptions = parse_options(options, self.path)
        o = self.options
        source: Any = o.copybook if o.copybook else o.copybook_contents
        self.layout: Layout = load_layout(
            source,
            free_format=o.copybook_format == "free",
            filler_naming_policy=o.filler_naming_policy,
        )
        ebcdic = is_ebcdic(o.encoding)
        keep_all = o.string_trimming_policy == "keep_all"
        table = char_table(o.encoding, o.code_page_file, keep_controls=keep_all and not ebcdic)
        self.settings = DecodeSettings(
            table=table,
            zoned=zoned_tables(ebcdic),
            space_byte=0x40 if ebcdic else 0x20,
            trim=o.string_trimming_policy,
            # cobrix: keep_all keeps every byte, so an all-0x00 string is not null either
            improved_null_detection=o.improved_null_detection and not keep_all,
            floating_point_format=o.floating_point_format,
            strict_sign_overpunching=o.strict_sign_overpunching,
            strict_binary=o.strict_binary,
            blank_scaled_as_zero=o.blank_implied_decimal_as_zero,
            drop_value_fillers=o.drop_value_fillers,
            drop_group_fillers=o.drop_group_fillers,
            keep_root=o.schema_retention_policy == "keep_original",
            non_terminals={n.upper().replace("-", "_") for n in o.non_terminals},
            occurs_mappings=o.occurs_mappings,
            segment_field=o.segment_field,
            redefine_segment_ids=o.redefine_segment_id_map,
        )
        self.assembler = Assembler(self.layout, self.settings)
        if not self.path.is_file():
            raise InputError(f"data file {self.path} not found", where=str(self.path))
        self._check_size()

    # ------------------------------------------------------------------ framing

    @property
    def record_size(self) -> int:
        """Bytes per record in the file for fixed-length formats."""
        o = self.options
        if o.record_length is not None:
            return o.record_length
        return o.record_start_offset + self.layout.record_length + o.record_end_offset

    def _check_size(self) -> None:
        o = self.options
        stream, size, _ = open_stream(self.path)
        stream.close()
        if (
            size is None
            or o.record_format not in ("F", "FB")
            or o.variable_size_occurs == "shift_record"
            or o.record_length_field
            or o.record_header is not None
        ):
            return
        payload = size - o.file_start_offset - o.file_end_offset
        if payload < 0:
            raise InputError(
                f"file has {size} bytes, less than file_start_offset + file_end_offset",
                where=str(self.path),
            )
        if payload % self.record_size and not o.allow_partial_last_record:
            raise InputError(
                f"the data size ({payload} bytes) is NOT DIVISIBLE by the RECORD SIZE "
                f"({self.record_size} bytes): {payload // self.record_size} records and "
                f"{payload % self.record_size} bytes left over",
                where=str(self.path),
                fix="check the copybook, record_length, file_start_offset/file_end_offset, or "
                "set allow_partial_last_record: true to quarantine the remainder",
            )

    def _raw_batches(
        self, src: ByteSource, batch_rows: int, payload_start: int | None = None
    ) -> Iterator[RawBatch]:
        o = self.options
        fmt = o.record_format
        framed = self._framed_batches(src, batch_rows, payload_start)
        if o.variable_size_occurs == "max_size" or (
            o.variable_size_occurs == "shift_record" and fmt in ("F", "FB")
        ):
            return framed
        # every other framing delimits each record itself (RDW, header, length field, text
        # line, padded fixed record): expand each record's shifted arrays to the full layout
        norm = make_normalizer(
            self.layout,
            self.settings.table.chars,
            self.settings.zoned,
            o.occurs_mappings,
            partial=True,
        )
        return (_shifted_to_layout(raw, norm) for raw in framed)

    def _framed_batches(
        self, src: ByteSource, batch_rows: int, payload_start: int | None = None
    ) -> Iterator[RawBatch]:
        """The records framed; ``payload_start``: where a range of VB blocks starts among the
        file's block payloads (offsets of blocked records count payload bytes, as one pass
        gives them)."""
        o = self.options
        width = self.layout.record_length
        fmt = o.record_format
        if fmt in ("D", "D2", "T"):
            return text_batches(src, width, batch_rows)
        if o.variable_size_occurs == "shift_record" and fmt in ("F", "FB"):
            norm = make_normalizer(
                self.layout, self.settings.table.chars, self.settings.zoned, o.occurs_mappings
            )
            return variable_occurs_batches(src, width, batch_rows, norm)
        if o.record_length_field:
            f = self.layout.find(o.record_length_field)
            if f.kind != "binary":
                raise InputError(
                    f"record_length_field {f.name} must be binary (COMP)",
                    where="option record_length_field",
                )
            spec = HeaderSpec(0, f.offset, f.size, f.usage != "COMP-9", o.rdw_adjustment, True)
            return length_prefixed_batches(
                src,
                spec,
                width,
                o.record_start_offset,
                o.record_end_offset,
                batch_rows,
                o.minimum_record_length,
                o.maximum_record_length,
            )
        if o.record_header is not None:
            h = o.record_header
            valid = None
            if "valid_byte_offset" in h:
                valid = (h["valid_byte_offset"], h.get("valid_byte_value", 1))
            spec = HeaderSpec(
                h["length"],
                h.get("length_offset", 0),
                h.get("length_size", 2),
                bool(h.get("big_endian", 0)),
                h.get("adjustment", 0),
                False,
                valid,
            )
            return length_prefixed_batches(
                src,
                spec,
                width,
                o.record_start_offset,
                o.record_end_offset,
                batch_rows,
                o.minimum_record_length,
                o.maximum_record_length,
            )
        if fmt in ("V", "VB"):
            stream: Any = _Deblocked(src, o.bdw_big_endian, payload_start) if fmt == "VB" else src
            return length_prefixed_batches(
                stream,
                self._rdw_spec(),
                width,
                o.record_start_offset,
                o.record_end_offset,
                batch_rows,
                o.minimum_record_length,
                o.maximum_record_length,
            )
        return fixed_batches(
            src,
            self.record_size,
            width,
            o.record_start_offset,
            batch_rows,
            o.allow_partial_last_record,
        )

    # ------------------------------------------------------------------ ranges

    def _rdw_spec(self) -> HeaderSpec:
        o = self.options
        return HeaderSpec(4, 0 if o.rdw_big_endian else 2, 2, o.rdw_big_endian, o.rdw_adjustment)

    def _rdw_splittable(self, record_format: str = "V") -> bool:
        """Plain RDW records (format V, or VB in blocks): a record's length is in its own
        4-byte descriptor."""
        o = self.options
        return (
            o.record_format == record_format
            and not o.record_length_field
            and o.record_header is None
            and o.variable_size_occurs != "shift_record"
        )

    def record_ranges(self, records: int) -> list[Span] | None:
        """The file split into ranges of ``records`` records (:data:`Span`), a task each.

        Fixed-length records are counted from the file size; RDW records (format V) from a
        scan of their descriptors (4 bytes read per record, nothing decoded); blocked records
        (VB) from a scan of the block descriptors and the record descriptors inside, cut at
        block boundaries. None when the framing cannot be split without decoding what comes
        before (text records, a length field or header inside the record, records shifted by
        OCCURS DEPENDING ON, a compressed file, a partial last fixed-length record, an invalid
        descriptor, a record running past its block: the one-pass decode reports it)."""
        o = self.options
        stream, size, compression = open_stream(self.path)
        stream.close()
        if size is None or compression != "none":
            return None
        step = max(1, records)
        if self._rdw_splittable():
            return _rdw_ranges(self.path, self._rdw_spec(), o, size, step)
        if self._rdw_splittable("VB"):
            return _vb_ranges(self.path, self._rdw_spec(), o, size, step)
        if (
            o.record_format not in ("F", "FB")
            or o.variable_size_occurs == "shift_record"
            or o.record_length_field
            or o.record_header is not None
        ):
            return None
        payload = size - o.file_start_offset - o.file_end_offset
        if payload <= 0 or payload % self.record_size:
            return None
        total = payload // self.record_size
        spans: list[Span] = []
        for first in range(0, total, step):
            count = min(step, total - first)
            start = o.file_start_offset + first * self.record_size
            spans.append((first, count, start, start + count * self.record_size))
        return spans

    def range_batches(
        self, span: Span, batch_rows: int = DEFAULT_BATCH_ROWS, plan: Any = None
    ) -> Iterator[ReadBatch]:
        """Decode one range of :meth:`record_ranges`: the same records, indexes and byte
        offsets as :meth:`batches` gives them (``plan`` is unused: nothing is decided for the
        whole file first)."""
        first, _count, start, end, *blocked = span
        rows = max(1, min(batch_rows, BATCH_BYTES // max(1, self.layout.record_length)))
        src = ByteSource(self.path, start, self.path.stat().st_size - end)
        try:
            for raw in self._raw_batches(src, rows, blocked[0] if blocked else None):
                raw.first_index += first
                raw.bad = [replace(b, record_index=b.record_index + first) for b in raw.bad]
                yield self._decode(raw)
        finally:
            src.close()

    # ------------------------------------------------------------------ decoding

    def batches(self, batch_rows: int = DEFAULT_BATCH_ROWS) -> Iterator[ReadBatch]:
        """Yield decoded batches in file order.

        Args:
            batch_rows: records per batch (memory is proportional to it).

        Yields:
            :class:`ReadBatch` objects; invalid values are null in ``records`` and reported in
            ``bad`` (``invalid_value: drop`` removes such records, ``error`` raises).
        """
        o = self.options
        # memory per batch is rows x record length: wide records get fewer rows per batch
        rows = max(1, min(batch_rows, BATCH_BYTES // max(1, self.layout.record_length)))
        src = ByteSource(self.path, o.file_start_offset, o.file_end_offset)
        try:
            for raw in self._raw_batches(src, rows):
                yield self._decode(raw)
        finally:
            src.close()

    def _decode(self, raw: RawBatch) -> ReadBatch:
        o = self.options
        data, rec_len, offsets = raw.data, raw.rec_len, raw.offsets
        index = raw.first_index + np.arange(data.shape[0], dtype=np.int64)
        if o.segment_filter:
            seg = self.assembler.segment_values(data, rec_len)
            keep = np.isin(seg, o.segment_filter) if seg is not None else np.ones(len(index), bool)
            data, rec_len, offsets, index = data[keep], rec_len[keep], offsets[keep], index[keep]
        extra = None
        if o.generate_record_id:
            extra = [
                ("File_Id", pa.array(np.zeros(len(index), np.int64))),
                ("Record_Id", pa.array(index)),
                ("Record_Byte_Length", pa.array(rec_len.astype(np.int64))),
            ]
        batch, issues = self.assembler.build(np.ascontiguousarray(data), rec_len, extra)
        bad = list(raw.bad)
        if issues:
            bad.extend(self._issues(issues, data, offsets, index))
            if o.invalid_value == "error":
                first = bad[-len(issues)]
                raise InputError(
                    f"invalid value in field {first.field}: {first.reason}",
                    where=f"{self.path}: record {first.record_index}, byte {first.byte_offset}",
                    fix="fix the data or set invalid_value: null",
                )
            if o.invalid_value == "drop":
                rows = sorted({i.row for i in issues})
                mask = np.ones(batch.num_rows, dtype=bool)
                mask[rows] = False
                batch = batch.filter(pa.array(mask))
        return ReadBatch(records=batch, bad=bad, bytes_read=raw.bytes_read)

    def _issues(
        self, issues: list[Issue], data: np.ndarray, offsets: np.ndarray, index: np.ndarray
    ) -> list[BadRecord]:
        o = self.options
        action = {"null": "value set to null", "drop": "record quarantined", "error": "stopped"}[
            o.invalid_value
        ]
        out = []
        for it in issues:
            out.append(
                BadRecord(
                    record_index=int(index[it.row]),
                    reason=f"{it.reason} ({action})",
                    byte_offset=int(offsets[it.row]) + o.record_start_offset + it.offset,
                    field=it.field,
                    raw=bytes(data[it.row][:RAW_CAP]),
                )
            )
        return out

    def describe(self) -> dict[str, Any]:
        """The layout as ``data-mash layout`` shows it (see layout.describe_layout)."""
        o = self.options
        return describe_layout(
            o.copybook or o.copybook_contents or "",  # type: ignore[arg-type]
            free_format=o.copybook_format == "free",
            filler_naming_policy=o.filler_naming_policy,
        )


def _shifted_to_layout(raw: RawBatch, normalize: Callable[[bytes, int], Any]) -> RawBatch:
    """Expand records whose OCCURS DEPENDING ON arrays take only their counted size."""
    rows = raw.data.shape[0]
    data = np.zeros_like(raw.data)
    rec_len = np.empty(rows, dtype=np.int64)
    for i in range(rows):
        expanded, reached = normalize(raw.data[i, : int(raw.rec_len[i])].tobytes(), 0)
        data[i] = np.frombuffer(expanded, dtype=np.uint8)
        rec_len[i] = reached
    return RawBatch(data, rec_len, raw.offsets, raw.first_index, raw.bad, raw.bytes_read)


class _Deblocked:
    """Wraps a ByteSource and removes VB block descriptor words (records never span blocks)."""

    def __init__(self, src: ByteSource, big_endian: bool, start: int | None = None) -> None:
        self.src = src
        self.big = big_endian
        self.start = src.start if start is None else start
        self.path = src.path
        self.position = 0
        self._left = 0  # payload bytes left in the current block

    def read(self, n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            if self._left == 0:
                bdw = self.src.read(4)
                if len(bdw) < 4:
                    break
                raw = bdw[:2] if self.big else bdw[2:]
                self._left = max(0, int.from_bytes(raw, "big" if self.big else "little") - 4)
                continue
            piece = self.src.read(min(n - len(out), self._left))
            if not piece:
                break
            self._left -= len(piece)
            out += piece
        self.position += len(out)
        return bytes(out)


def _rdw_walk(
    path: Path, spec: HeaderSpec, o: CobolOptions, size: int, start: int
) -> Iterator[int]:
    """The file offset just past each record that :func:`length_prefixed_batches` keeps,
    from the record at ``start`` on, reading only the descriptors. Stops at a truncated last
    record (the range that holds it reports it); raises _Unsplittable at an invalid length."""
    limit = size - o.file_end_offset
    pos = start
    with path.open("rb") as fh:
        buf, buf_at = b"", start
        while pos + 4 <= limit:
            if pos + 4 > buf_at + len(buf):
                fh.seek(pos)
                buf, buf_at = fh.read(min(CHUNK, limit - pos)), pos
            head = buf[pos - buf_at + spec.length_offset : pos - buf_at + spec.length_offset + 2]
            length = int.from_bytes(head, "big" if spec.big_endian else "little") + spec.adjustment
            if length < 0 or length > MAX_RECORD_BYTES:
                raise _Unsplittable
            end = pos + spec.header_length + length
            if end > limit:
                return
            pos = end
            kept = length and length >= o.minimum_record_length
            if kept and (o.maximum_record_length is None or length <= o.maximum_record_length):
                yield end


class _Unsplittable(Exception):
    """An RDW scan met what only the one-pass decode can report properly."""


def _rdw_ranges(
    path: Path, spec: HeaderSpec, o: CobolOptions, size: int, step: int
) -> list[Span] | None:
    """Ranges of ``step`` kept records of an RDW file, from a scan of its descriptors."""
    ranges: list[Span] = []
    first, start, count = 0, o.file_start_offset, 0
    try:
        for end in _rdw_walk(path, spec, o, size, o.file_start_offset):
            count += 1
            if count == step:
                ranges.append((first, count, start, end))
                first, start, count = first + count, end, 0
    except _Unsplittable:
        return None
    last = size - o.file_end_offset
    if start < last:  # the rest: records, skipped ones, a truncated tail
        ranges.append((first, count, start, last))
    elif ranges:  # records skipped after the last kept one belong to the last range
        ranges[-1] = (*ranges[-1][:3], last)
    return ranges


def _vb_ranges(
    path: Path, spec: HeaderSpec, o: CobolOptions, size: int, step: int
) -> list[Span] | None:
    """Ranges of about ``step`` kept records of a VB file, whole blocks each, from a scan of
    the block descriptors and of the record descriptors inside each block (nothing decoded).
    Each range also carries where its blocks' payload starts among the file's payloads."""
    limit = size - o.file_end_offset
    order: Literal["big", "little"] = "big" if o.bdw_big_endian else "little"
    ranges: list[Span] = []
    first, start, count, payload = 0, o.file_start_offset, 0, o.file_start_offset
    range_payload, pos = payload, start
    with path.open("rb") as fh:
        fh.seek(pos)
        while pos < limit:
            bdw = fh.read(4)
            length = int.from_bytes(bdw[:2] if o.bdw_big_endian else bdw[2:], order)
            if len(bdw) < 4 or length < 4 or pos + length > limit:
                return None
            kept = _records_in_block(fh.read(length - 4), spec, o)
            if kept is None:
                return None
            count, payload, pos = count + kept, payload + length - 4, pos + length
            if count >= step:
                ranges.append((first, count, start, pos, range_payload))
                first, start, count, range_payload = first + count, pos, 0, payload
    if start < limit or not ranges:
        ranges.append((first, count, start, limit, range_payload))
    return ranges


def _records_in_block(block: bytes, spec: HeaderSpec, o: CobolOptions) -> int | None:
    """The records :func:`length_prefixed_batches` keeps from one block's payload; None when
    a descriptor is invalid or the last record does not end where the block does."""
    pos = kept = 0
    order: Literal["big", "little"] = "big" if spec.big_endian else "little"
    while pos + spec.header_length <= len(block):
        head = block[pos + spec.length_offset : pos + spec.length_offset + 2]
        length = int.from_bytes(head, order) + spec.adjustment
        if length < 0 or length > MAX_RECORD_BYTES:
            return None
        pos += spec.header_length + length
        if length and length >= o.minimum_record_length:
            kept += o.maximum_record_length is None or length <= o.maximum_record_length
    return kept if pos == len(block) else None
