"""Record framing: split a (possibly compressed) byte stream into records, a batch at a time.

Framers read the file in chunks and yield :class:`RawBatch` objects holding a
(rows, record_length) uint8 array, so memory is bounded by the batch size. Supported: fixed
length, length-prefixed (RDW big/little endian, custom record headers, a length field inside the
record), text lines, and variable-size OCCURS (the record length follows from the ODO counts).
"""

from __future__ import annotations

import bz2
import gzip
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from core.errors import InputError
from tools.content.cobol.layout import MAX_RECORD_BYTES
from tools.content.readers.base import BadRecord

CHUNK = 4 << 20  # bytes read at a time for streamed formats
RAW_CAP = 4096


@dataclass
class RawBatch:
    """Records of one batch, not yet decoded."""

    data: np.ndarray  # (rows, record_length) uint8, short records padded with 0x00
    rec_len: np.ndarray  # real bytes of each record
    offsets: np.ndarray  # byte offset of each record in the (decompressed) file
    first_index: int  # index of the first record of the batch in the file
    bad: list[BadRecord] = field(default_factory=list)
    bytes_read: int = 0


def open_stream(path: Path) -> tuple[BinaryIO, int | None, str]:
    """Open a file, transparently decompressing gzip / bzip2 (detected by magic bytes).

    Returns:
        (binary stream, size in bytes if known (uncompressed files), compression name).
    """
    try:
        with path.open("rb") as fh:
            magic = fh.read(3)
        if magic[:2] == b"\x1f\x8b":
            return gzip.open(path, "rb"), None, "gzip"  # type: ignore[return-value]
        if magic == b"BZh":
            return bz2.open(path, "rb"), None, "bzip2"  # type: ignore[return-value]
        return path.open("rb"), path.stat().st_size, "none"
    except OSError as exc:
        raise InputError(f"cannot read data file: {exc}", where=str(path)) from exc


class ByteSource:
    """Reads the payload between ``file_start_offset`` and ``file_end_offset``.

    For compressed input the size is unknown, so the last ``end`` bytes are held back.
    """

    def __init__(self, path: Path, start: int = 0, end: int = 0) -> None:
        self.path = path
        self.stream, size, self.compression = open_stream(path)
        self.end = end
        self.limit = None if size is None else max(0, size - start - end)
        self.position = 0  # bytes delivered, relative to ``start``
        self.start = start
        self._held = b""
        self._eof = False
        if size is not None and start > size:
            self.stream.close()
            raise InputError(
                f"file is shorter ({size:,} bytes) than file_start_offset {start:,}",
                where=str(path),
                fix="check file_start_offset",
            )
        skipped = self._skip(start, size is not None)
        if skipped < start:
            self.stream.close()
            raise InputError(
                f"file is shorter ({skipped:,} bytes) than file_start_offset {start:,}",
                where=str(path),
                fix="check file_start_offset",
            )

    def _skip(self, n: int, seekable: bool) -> int:
        """Skip ``n`` bytes: a seek on plain files, bounded reads on compressed streams."""
        if seekable:
            self.stream.seek(n)
            return n
        done = 0
        while done < n:
            piece = self._raw(min(CHUNK, n - done))
            if not piece:
                break
            done += len(piece)
        return done

    def _raw(self, n: int) -> bytes:
        try:
            return self._read_exactly(n)
        except (OSError, EOFError, zlib.error) as exc:  # corrupt or truncated gzip / bzip2
            raise InputError(
                f"cannot decompress the {self.compression} data: {exc}",
                where=f"{self.path}: after {self.start + self.position:,} decompressed bytes",
                fix="re-transfer the file in binary mode, or decompress it and check it",
            ) from None

    def _read_exactly(self, n: int) -> bytes:
        first = self.stream.read(n)
        if len(first) == n or not first:
            return first
        out = bytearray(first)
        while len(out) < n:
            piece = self.stream.read(n - len(out))
            if not piece:
                break
            out += piece
        return bytes(out)

    def read(self, n: int) -> bytes:
        """Up to ``n`` payload bytes (fewer only at the end)."""
        if self.limit is not None:
            n = min(n, self.limit - self.position)
            data = self._raw(n) if n > 0 else b""
        else:
            want = n + self.end - len(self._held)
            data = self._held + (self._raw(want) if want > 0 else b"")
            if len(data) > n:
                self._held = data[n:]
                data = data[:n]
            else:
                keep = max(0, len(data) - self.end)
                self._held = data[keep:]
                data = data[:keep]
        self.position += len(data)
        return data

    def close(self) -> None:
        self.stream.close()


def _pad(records: list[bytes], width: int) -> tuple[np.ndarray, np.ndarray]:
    n = len(records)
    out = np.zeros((n, width), dtype=np.uint8)
    lens = np.fromiter((len(r) for r in records), dtype=np.int64, count=n)
    if n and (lens == lens[0]).all() and lens[0] >= width:
        joined = np.frombuffer(b"".join(records), dtype=np.uint8).reshape(n, lens[0])
        out[:] = joined[:, :width]
    else:
        for i, r in enumerate(records):
            k = min(len(r), width)
            out[i, :k] = np.frombuffer(r, dtype=np.uint8, count=k)
    return out, np.minimum(lens, width)


def fixed_batches(  # noqa: PLR0917
    src: ByteSource,
    record_size: int,
    width: int,
    rec_start: int,
    batch_rows: int,
    allow_partial: bool,
) -> Iterator[RawBatch]:
    """Fixed-length records.

    Args:
        src: the byte source.
        record_size: bytes per record in the file (including record start/end offsets).
        width: layout length (bytes decoded per record).
        rec_start: bytes to skip at the start of every record.
        batch_rows: records per batch.
        allow_partial: report a truncated last record as a BadRecord instead of failing.
    """
    index = 0
    while True:
        chunk = src.read(record_size * batch_rows)
        n = len(chunk) // record_size
        tail = chunk[n * record_size :]
        bad: list[BadRecord] = []
        if tail:
            base = src.start + (index + n) * record_size
            if not allow_partial:
                raise InputError(
                    f"the data size is NOT DIVISIBLE by the RECORD SIZE: {len(tail)} bytes "
                    f"left after {index + n} records of {record_size} bytes",
                    where=f"{src.path}: byte {base}",
                    fix="check record_length / file_start_offset / file_end_offset, or set "
                    "allow_partial_last_record: true",
                )
            bad.append(
                BadRecord(
                    record_index=index + n,
                    reason=(f"truncated last record: {len(tail)} of {record_size} bytes"),
                    byte_offset=base,
                    raw=tail[:RAW_CAP],
                )
            )
        if n:
            arr = np.frombuffer(chunk, dtype=np.uint8, count=n * record_size).reshape(
                n, record_size
            )
            body = arr[:, rec_start : rec_start + width]
            if body.shape[1] < width:
                body = np.concatenate(
                    [body, np.zeros((n, width - body.shape[1]), np.uint8)], axis=1
                )
            real = min(record_size - rec_start, width)
            offsets = src.start + (index + np.arange(n, dtype=np.int64)) * record_size
            yield RawBatch(
                body,
                np.full(n, real, dtype=np.int64),
                offsets,
                index,
                bad,
                src.start + src.position,
            )
        elif bad:
            yield RawBatch(
                np.zeros((0, width), np.uint8),
                np.zeros(0, np.int64),
                np.zeros(0, np.int64),
                index,
                bad,
                src.start + src.position,
            )
        index += n
        if len(chunk) < record_size * batch_rows:
            return


@dataclass(frozen=True)
class HeaderSpec:
    """How a length-prefixed record is framed."""

    header_length: int  # bytes before the payload (4 for an RDW)
    length_offset: int  # where the length sits, from the record start
    length_size: int  # bytes of the length
    big_endian: bool
    adjustment: int = 0  # added to the length read
    includes_header: bool = False  # the length counts from the record start (length field)
    valid_byte: tuple[int, int] | None = None  # (offset, value) a valid header must have


def length_prefixed_batches(  # noqa: PLR0917
    src: ByteSource,
    spec: HeaderSpec,
    width: int,
    rec_start: int,
    rec_end: int,
    batch_rows: int,
    min_len: int = 0,
    max_len: int | None = None,
) -> Iterator[RawBatch]:
    """Records each preceded by (or starting with) their length: RDW and custom headers."""
    buf = b""
    pos = 0  # within buf
    consumed = 0  # bytes of the file before buf
    index = 0
    records: list[bytes] = []
    offsets: list[int] = []
    bad: list[BadRecord] = []
    eof = False
    need = max(spec.header_length, spec.length_offset + spec.length_size)
    while True:
        if len(buf) - pos < need + 65536 and not eof:
            more = src.read(CHUNK)
            eof = len(more) == 0
            buf = buf[pos:] + more
            consumed += pos
            pos = 0
        if len(buf) - pos < need:
            if len(buf) - pos > 0:
                bad.append(
                    BadRecord(
                        index,
                        f"truncated record header: {len(buf) - pos} bytes",
                        byte_offset=src.start + consumed + pos,
                        raw=buf[pos:][:RAW_CAP],
                    )
                )
            break
        head = buf[pos + spec.length_offset : pos + spec.length_offset + spec.length_size]
        length = int.from_bytes(head, "big" if spec.big_endian else "little") + spec.adjustment
        start = pos if spec.includes_header else pos + spec.header_length
        file_off = src.start + consumed + pos
        if length < 0 or (spec.includes_header and length < need) or length > MAX_RECORD_BYTES:
            raise InputError(
                f"invalid record length {length} in the record header",
                where=f"{src.path}: byte {file_off}",
                fix="check record_format / rdw_big_endian / rdw_adjustment / file_start_offset",
            )
        end = start + length
        if end > len(buf):
            if not eof:
                more = src.read(max(CHUNK, end - len(buf)))
                eof = len(more) == 0
                buf = buf[pos:] + more
                consumed += pos
                pos = 0
                continue
            bad.append(
                BadRecord(
                    index,
                    f"truncated record: header says {length} bytes, {len(buf) - start} left",
                    byte_offset=file_off,
                    raw=buf[start:][:RAW_CAP],
                )
            )
            break
        ok = spec.valid_byte is None or buf[pos + spec.valid_byte[0]] == spec.valid_byte[1]
        payload = buf[start:end]
        pos = end
        if not ok or length == 0 or length < min_len or (max_len is not None and length > max_len):
            continue
        if rec_start or rec_end:
            payload = payload[rec_start : len(payload) - rec_end if rec_end else None]
        records.append(payload)
        offsets.append(file_off)
        index += 1
        if len(records) >= batch_rows:
            yield _batch(
                records, offsets, width, index - len(records), bad, src.start + consumed + pos
            )
            records, offsets, bad = [], [], []
    if records or bad:
        yield _batch(records, offsets, width, index - len(records), bad, src.start + consumed + pos)


def _batch(  # noqa: PLR0917
    records: list[bytes],
    offsets: list[int],
    width: int,
    first: int,
    bad: list[BadRecord],
    read: int,
) -> RawBatch:
    data, lens = _pad(records, width)
    return RawBatch(data, lens, np.array(offsets, dtype=np.int64), first, bad, read)


def text_batches(src: ByteSource, width: int, batch_rows: int) -> Iterator[RawBatch]:
    """ASCII text records, one per line (``\\n`` or ``\\r\\n``); empty lines are skipped."""
    rest = b""
    consumed = 0
    index = 0
    records: list[bytes] = []
    offsets: list[int] = []
    while True:
        more = src.read(CHUNK)
        lines = (rest + more).split(b"\n")
        rest = lines.pop() if more else b""
        off = consumed
        for line in lines:
            start = off
            off += len(line) + 1
            line = line.rstrip(b"\r")
            if not line:
                continue
            records.append(line)
            offsets.append(src.start + start)
            index += 1
            if len(records) >= batch_rows:
                yield _batch(records, offsets, width, index - len(records), [], src.start + off)
                records, offsets = [], []
        consumed = off
        if not more:
            break
    if records:
        yield _batch(records, offsets, width, index - len(records), [], src.start + consumed)


def variable_occurs_batches(
    src: ByteSource,
    width: int,
    batch_rows: int,
    normalize: Callable[[bytes, int], tuple[bytes, int] | None],
) -> Iterator[RawBatch]:
    """Records whose size follows from OCCURS DEPENDING ON counts (no delimiters).

    ``normalize(buffer, pos)`` returns the record expanded to the maximum-size layout and the
    bytes it occupied in the file, or None when the buffer ends inside the record.
    """
    buf = b""
    pos = 0
    consumed = 0
    eof = False
    index = 0
    records: list[bytes] = []
    offsets: list[int] = []
    bad: list[BadRecord] = []
    while True:
        if not eof and len(buf) - pos < 4 * width + 65536:
            more = src.read(CHUNK)
            eof = not more
            buf = buf[pos:] + more
            consumed += pos
            pos = 0
        if pos >= len(buf):
            break
        got = normalize(buf, pos)
        if got is None:
            if not eof:
                more = src.read(CHUNK)
                eof = not more
                buf = buf[pos:] + more
                consumed += pos
                pos = 0
                continue
            bad.append(
                BadRecord(
                    index,
                    "truncated record at the end of the file",
                    byte_offset=src.start + consumed + pos,
                    raw=buf[pos:][:RAW_CAP],
                )
            )
            break
        rec, used = got
        records.append(rec)
        offsets.append(src.start + consumed + pos)
        pos += used
        index += 1
        if len(records) >= batch_rows:
            yield _batch(
                records, offsets, width, index - len(records), [], src.start + consumed + pos
            )
            records, offsets = [], []
    if records or bad:
        yield _batch(records, offsets, width, index - len(records), bad, src.start + consumed + pos)
