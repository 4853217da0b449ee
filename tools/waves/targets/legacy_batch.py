"""File drop for the legacy batch loader: CSV or fixed-width part files, one set per wave.

Each written batch becomes one part file, `wave-<id>.part-<seq>-<sha16>.csv` (`.dat` for the
fixed layout), created atomically (temp file + os.replace). The loader reads a wave's parts in
name order. Semantics:

* idempotent: the part's name carries the sha256 of its content, so re-writing the same batch
  (a retry) finds its part and writes nothing;
* upsert: after a new part is in place, the policies it carries are removed from the wave's older
  parts (each rewritten atomically, or removed when emptied). Should a crash come between the
  two steps, the newer part still wins: read_back and count take a policy from its newest part;
* delete removes exactly the wave's part files (or rewrites them without the given policies).

No Python object per policy: a part's ids are an Arrow array (the upsert's semi-join is Arrow's
``is_in``), and which part holds each policy's newest copy (read_back, count) is a DuckDB
window over every part's ids, spilled to disk beyond a fixed memory budget, so a wave of any
size reads back in the memory of one part.

CSV: a header of canonical dotted column names; list components as JSON text; an empty field
reads back as null (empty strings are not kept). Fixed: one line per policy, fields in canonical
order at the widths written to `layout-<ext>.json` in the folder (name, 1-based start, length) -
the format the `fixed_width` reader takes; strings are left-aligned, numbers right-aligned, list
components are JSON text; a value wider than its field is refused with the field named.
"""

from __future__ import annotations

import codecs
import io
import json
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from core.errors import InputError
from tools.assembly.keyspace import connect
from tools.waves.targets import files
from tools.waves.targets.base import POLICY_ID, TargetHealth
from tools.waves.targets.codec import (
    FlatColumn,
    check_wave_id,
    conform,
    decode,
    encode,
    flat_columns,
)
from tools.waves.targets.new_platform import _refuse_duplicates

DEFAULT_WIDTHS = {
    "string": 100,
    "date": 10,
    "decimal": 21,
    "integer": 20,
    "boolean": 5,
    "list": 4000,
}
_SUFFIX = re.compile(r"^(?P<seq>\d{6})-(?P<hash>[0-9a-f]{16})$")


def _kind(flat: FlatColumn) -> str:
    t = flat.type
    if flat.is_list:
        return "list"
    if pa.types.is_decimal(t):
        return "decimal"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_integer(t):
        return "integer"
    return "boolean" if pa.types.is_boolean(t) else "string"


class LegacyBatchTarget:
    """Drops each wave as CSV or fixed-width part files for the legacy batch loader.

    Config:
        dir: folder the files go to (required; created on first write).
        layout: `csv` (default) or `fixed`.
        encoding: file encoding (default utf-8).
        widths: fixed layout only, {canonical column: characters} overriding the defaults
            (strings 100, dates 10, decimals 21, list components 4000).
        canonical_version: default `policy_v1`.
    """

    name: ClassVar[str] = "legacy_batch"

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.dir = files.target_dir(config, self.name)
        self.layout = str(config.get("layout", "csv")).lower()
        if self.layout not in {"csv", "fixed"}:
            raise InputError(
                f"unknown layout {config.get('layout')!r}",
                where=f"target {self.name}: layout",
                fix="use csv or fixed",
            )
        self.ext = "csv" if self.layout == "csv" else "dat"
        self.encoding = str(config.get("encoding", "utf-8"))
        try:
            codecs.lookup(self.encoding)
        except LookupError:
            raise InputError(
                f"unknown encoding {self.encoding!r}",
                where=f"target {self.name}: encoding",
                fix="use a Python codec name such as utf-8 or latin-1",
            ) from None
        self.version = str(config.get("canonical_version", "policy_v1"))
        self.columns = flat_columns(self.version)
        self.widths = self._widths(config.get("widths") or {})
        #: part name -> (size, mtime, its policy ids): each write checks the older parts
        self._ids_cache: dict[str, tuple[int, int, pa.Array]] = {}

    def _widths(self, overrides: Any) -> list[int]:
        known = {c.path for c in self.columns}
        if not isinstance(overrides, Mapping) or any(
            k not in known or not isinstance(v, int) or v < 1 for k, v in overrides.items()
        ):
            raise InputError(
                "widths must map canonical column names to positive integers",
                where=f"target {self.name}: widths",
                fix=f"e.g. {{{POLICY_ID}: 20}}",
            )
        return [overrides.get(c.path, DEFAULT_WIDTHS[_kind(c)]) for c in self.columns]

    # -- files ----------------------------------------------------------------------------------
    def _parts(self, wave_id: str) -> list[Path]:
        prefix = f"wave-{wave_id}.part-"
        found = []
        for path in self.dir.glob(f"{prefix}*.{self.ext}"):
            suffix = path.name[len(prefix) : -len(self.ext) - 1]
            if _SUFFIX.match(suffix):
                found.append(path)
        return sorted(found)

    def _write_layout(self) -> None:
        path = self.dir / f"layout-{self.ext}.json"
        fields, start = [], 1
        for flat, width in zip(self.columns, self.widths, strict=True):
            fields.append({"name": flat.path, "start": start, "length": width})
            start += width
        data = json.dumps(
            {"encoding": self.encoding, "start_origin": 1, "fields": fields}, indent=1
        ).encode()
        if not path.exists() or path.read_bytes() != data:
            files.atomic_write(path, data)

    def _to_bytes(self, text: pa.Table) -> bytes:
        """Serialise a table of string columns (canonical names) in the layout."""
        if self.layout == "csv":
            sink = io.BytesIO()
            pacsv.write_csv(text, sink)
            return sink.getvalue().decode("utf-8").encode(self.encoding)
        columns = [text.column(c.path).to_pylist() for c in self.columns]
        ids = text.column(POLICY_ID).to_pylist()
        lines = []
        for row, pid in zip(zip(*columns, strict=True), ids, strict=True):
            cells = []
            for value, width, flat in zip(row, self.widths, self.columns, strict=True):
                value = "" if value is None else value
                if len(value) > width or "\n" in value or "\r" in value:
                    raise InputError(
                        f"value of {len(value)} characters does not fit the fixed layout "
                        f"(width {width}, or contains a line break)",
                        where=f"policy {pid}, field {flat.path}",
                        fix=f"raise widths.{flat.path} in the target config or use layout: csv",
                    )
                numeric = _kind(flat) in {"decimal", "integer"}
                cells.append(value.rjust(width) if numeric else value.ljust(width))
            lines.append("".join(cells))
        return ("\n".join(lines) + "\n").encode(self.encoding)

    def _read_text(self, path: Path) -> pa.Table:
        """A part file as string columns with canonical names (empty -> null)."""
        if self.layout == "csv":
            names = [c.path for c in self.columns]
            return pacsv.read_csv(
                path,
                read_options=pacsv.ReadOptions(encoding=self.encoding),
                parse_options=pacsv.ParseOptions(newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(
                    column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=True
                ),
            )
        lines = path.read_text(encoding=self.encoding).splitlines()
        arrays, start = [], 0
        for width in self.widths:
            values = [line[start : start + width].strip() or None for line in lines]
            arrays.append(pa.array(values, pa.string()))
            start += width
        return pa.Table.from_arrays(arrays, names=[c.path for c in self.columns])

    def _ids(self, path: Path) -> pa.Array:
        """The part's policy ids in row order (kept while the file is unchanged)."""
        stat = path.stat()
        cached = self._ids_cache.get(path.name)
        if cached is None or cached[:2] != (stat.st_size, stat.st_mtime_ns):
            ids = self._read_text(path).column(POLICY_ID).combine_chunks()
            cached = self._ids_cache[path.name] = (stat.st_size, stat.st_mtime_ns, ids)
        return cached[2]

    def _prune(self, parts: Sequence[Path], ids: pa.Array) -> int:
        """Remove `ids` from the parts; each part is rewritten atomically or deleted."""
        removed = 0
        for part in parts:
            hit = pc.is_in(self._ids(part), value_set=ids)
            if not pc.any(hit).as_py():
                continue
            text = self._read_text(part)
            kept = text.filter(pc.invert(hit))
            removed += text.num_rows - kept.num_rows
            if kept.num_rows:
                files.atomic_write(part, self._to_bytes(kept))
            else:
                part.unlink(missing_ok=True)
        return removed

    # -- MigrationTarget ------------------------------------------------------------------------
    def health(self) -> TargetHealth:
        """Can the folder be created and written? Never raises."""
        return files.folder_health(self.dir, self.name, f"{self.layout} drop folder")

    def write(self, wave_id: str, records: pa.Table) -> int:
        """Write the batch as one new part (atomic); returns how many policies it holds."""
        check_wave_id(wave_id)
        table = conform(records, self.version)
        if table.num_rows == 0:
            return 0
        _refuse_duplicates(table)
        values = encode(table, self.version, text=True)
        text = pa.Table.from_arrays(
            [pa.array(v, pa.string()) for v in values], names=[c.path for c in self.columns]
        )
        data = self._to_bytes(text)
        batch_hash = files.digest(data)
        files.ensure_dir(self.dir, self.name)
        files.remove_stale_temps(self.dir, f"wave-{wave_id}.part-")
        if self.layout == "fixed":
            self._write_layout()
        parts = self._parts(wave_id)
        if any(p.stem.endswith(f"-{batch_hash}") for p in parts):
            return table.num_rows  # this exact batch is already in the drop: a retry
        seq = 1 + max((int(p.stem.rsplit(".part-", 1)[1][:6]) for p in parts), default=0)
        files.atomic_write(
            self.dir / f"wave-{wave_id}.part-{seq:06d}-{batch_hash}.{self.ext}", data
        )
        self._prune(parts, table.column(POLICY_ID).combine_chunks())
        return table.num_rows

    def delete(self, wave_id: str, policy_ids: Sequence[str] | None = None) -> int:
        """Remove the wave's part files, or those policies from them; returns policies removed."""
        check_wave_id(wave_id)
        if not self.dir.exists():
            return 0
        parts = self._parts(wave_id)
        if policy_ids is not None:
            return self._prune(parts, pa.array(list(policy_ids), pa.string()))
        count = self.count(wave_id)
        for part in parts:
            part.unlink(missing_ok=True)
        files.remove_stale_temps(self.dir, f"wave-{wave_id}.part-")
        return count

    def read_back(self, wave_id: str, *, batch_rows: int = 50_000) -> Iterator[pa.RecordBatch]:
        """Parse the wave's parts back into canonical batches (each policy from its newest part)."""
        check_wave_id(wave_id)
        if not self.dir.exists():
            return
        names = {c.path: c.name for c in self.columns}
        parts = self._parts(wave_id)
        with self._newest(parts) as con:
            for k in reversed(range(len(parts))):
                text = self._read_text(parts[k])
                rows = con.execute("SELECT row FROM newest WHERE part = ? ORDER BY row", [k])
                kept = rows.fetchnumpy()["row"]
                if len(kept) < text.num_rows:  # some of its policies have a newer copy
                    newest = np.zeros(text.num_rows, dtype=bool)
                    newest[kept] = True
                    text = text.filter(pa.array(newest))
                for chunk in text.to_batches(max_chunksize=batch_rows):
                    yield decode(
                        {names[n]: chunk.column(n) for n in chunk.schema.names if n in names},
                        self.version,
                        text=True,
                    )

    def count(self, wave_id: str) -> int:
        """How many distinct policies the wave's parts hold."""
        check_wave_id(wave_id)
        if not self.dir.exists():
            return 0
        with self._newest(self._parts(wave_id)) as con:
            return int(con.execute("SELECT count(*) FROM newest").fetchone()[0])  # type: ignore[index]

    @contextmanager
    def _newest(self, parts: Sequence[Path]) -> Iterator[duckdb.DuckDBPyConnection]:
        """A DuckDB holding ``newest(part, row)``: where each policy's newest copy is (the
        part with the highest sequence that holds it), from each part's ids read in turn."""
        with tempfile.TemporaryDirectory(prefix="dm-legacy-batch-") as spill:
            con = connect(Path(spill))
            try:
                con.execute("CREATE TABLE ids (id VARCHAR, part INTEGER, row BIGINT)")
                for k, part in enumerate(parts):
                    ids = self._read_text(part).column(POLICY_ID)
                    rows = np.arange(len(ids), dtype=np.int64)
                    chunk = pa.table(
                        {"id": ids, "part": np.full(len(ids), k, np.int32), "row": rows}
                    )
                    con.register("chunk", chunk)
                    con.execute("INSERT INTO ids SELECT * FROM chunk")
                    con.unregister("chunk")
                con.execute(
                    "CREATE TABLE newest AS SELECT part, row FROM ids "
                    "QUALIFY part = max(part) OVER (PARTITION BY id)"
                )
                con.execute("DROP TABLE ids")
                yield con
            finally:
                con.close()
