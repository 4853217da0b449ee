"""Ingest decodes a splittable file range by range on the executor: fixed-length COBOL records,
RDW (variable-length) records cut after a scan of their descriptors, and delimited text cut at
row ends outside quoted values. The ranges decode to what one pass gives, and a process pool and
Ray (a local instance, 2 workers, one killed mid-range) stage the local executor's files byte
for byte."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from core.executors import Executor, LocalExecutor, ProcessExecutor, RayExecutor
from core.settings import Settings
from core.store import open_store
from tests.tools.waves.executor_helpers import KillingExecutor
from tools.content.cobol import CobolReader
from tools.content.ingest import _shifted, ingest_file
from tools.content.readers.delimited import CsvReader
from tools.content.sources import SourceRegistry
from tools.content.staging import bad_table

CPY = """\
       01  POLICY.
           05  POL-ID          PIC X(8).
           05  PREMIUM         PIC S9(5)V99 COMP-3.
           05  AGE             PIC 9(3).
           05  STATE           PIC X(2).
"""
RECORDS, BATCH = 1_050, 100
CSV_ROWS = 24_000  # about 1 MB: four ranges of the reader's smallest range size


def _packed(value: int) -> bytes:
    digits = str(abs(value)).rjust(7, "0")
    return bytes.fromhex(digits + ("D" if value < 0 else "C"))


def _record(i: int) -> bytes:
    age = "A1B" if i % 50 == 7 else f"{i % 90:03d}"  # every 50th record: an invalid number
    premium = _packed(i * 37 - 9_000) if i % 61 else b"\x1a\x34\x56\x7c"  # a non-digit nibble
    state = ["TX", "CA", "NY"][i % 3]
    return f"P{i:07d}".encode("cp037") + premium + age.encode("cp037") + state.encode("cp037")


@pytest.fixture(scope="module")
def cobol_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("cobol")
    (folder / "pol.cpy").write_text(CPY)
    path = folder / "POLMAST.dat"
    path.write_bytes(b"".join(_record(i) for i in range(RECORDS)))
    return path, {"copybook": str(folder / "pol.cpy"), "encoding": "cp037"}


def _rdw_bytes() -> bytes:
    """RDW records: some short (13 of 15 bytes), some empty (skipped), a truncated last one."""
    out = bytearray()
    for i in range(RECORDS):
        record = _record(i)[:13] if i % 7 == 3 else _record(i)
        if i % 100 == 42:
            out += (0).to_bytes(2, "big") + b"\0\0"
        out += len(record).to_bytes(2, "big") + b"\0\0" + record
    return bytes(out + (15).to_bytes(2, "big") + b"\0\0" + b"\x40" * 5)


def _csv_text() -> str:
    """Quoted values with delimiters, doubled quotes and newlines (some long enough to hold a
    range's first cut candidate), stray quotes inside unquoted values, ragged rows, blank lines
    and a preamble line."""
    notes = ["plain", '"has, comma"', '"two\nlines ""quoted"""', 'in"side', "", '"a""b"']
    lines = ["exported 2026-12-07", "id,name,premium,code,note"]
    for i in range(CSV_ROWS):
        if i % 997 == 5:
            lines.append(f"{i},ragged row")
        elif i % 1_499 == 3:
            lines.append("")
        elif i % 2_000 == 1_999:
            lines.append(f'{i},name {i},1.50,007,"' + "long\nvalue, " * 2_000 + '"')
        else:
            lines.append(f"{i},name {i},{i * 1.25:.2f},{i % 50:03d},{notes[i % len(notes)]}")
    return "\n".join(lines) + "\n"


#: Each splittable framing: format, options, the reader's ranges for BATCH records.
SOURCES = ("fixed", "rdw", "csv")


@pytest.fixture(scope="module")
def sources(
    tmp_path_factory: pytest.TempPathFactory, cobol_file: tuple[Path, dict[str, Any]]
) -> dict[str, tuple[Path, str, dict[str, Any]]]:
    folder = tmp_path_factory.mktemp("sources")
    path, options = cobol_file
    (folder / "POLVAR.dat").write_bytes(_rdw_bytes())
    (folder / "policies.csv").write_text(_csv_text())
    return {
        "fixed": (path, "cobol", options),
        "rdw": (
            folder / "POLVAR.dat",
            "cobol",
            {**options, "record_format": "V", "rdw_big_endian": True, "generate_record_id": True},
        ),
        "csv": (folder / "policies.csv", "csv", {"skip_rows": 1}),
    }


def test_ranges_decode_what_one_pass_decodes(cobol_file: tuple[Path, dict[str, Any]]) -> None:
    path, options = cobol_file
    reader = CobolReader(path, options)
    ranges = reader.record_ranges(BATCH)
    assert ranges is not None and len(ranges) == 11 and ranges[-1] == (1_000, 50, 17_000, 17_850)
    whole = list(reader.batches(BATCH))
    parts = [b for span in ranges for b in reader.range_batches(span, BATCH)]
    assert pa.Table.from_batches([b.records for b in parts]) == pa.Table.from_batches(
        [b.records for b in whole]
    )
    bad = [b for batch in parts for b in batch.bad]
    assert bad == [b for batch in whole for b in batch.bad]
    assert len(bad) > 30 and {b.record_index for b in bad} >= {7, 57, 61, 1_007}
    # not splittable without reading what comes before: a compressed or text-record file
    assert CobolReader(path, {**options, "record_format": "D"}).record_ranges(BATCH) is None


def _same_as_one_pass(reader: Any, ranges: list[Any], batch: int) -> list[Any]:
    """Decode range by range (surveying first, like the ingest) and check against one pass;
    returns the bad records, renumbered from the file's start like the ingest does."""
    plan = None
    if hasattr(reader, "range_plan"):
        plan = reader.range_plan()
        for _ in range(getattr(reader, "survey_rounds", 0)):
            plan = reader.plan_from_surveys(plan, [reader.survey_range(s, plan) for s in ranges])
    whole = list(reader.batches(batch))
    shifted = {"relative": ("record_index", "line"), "relative_index": ("record_index",)}.get(
        getattr(reader, "range_numbering", ""), ()
    )
    tables, bad, before = [], [], 0
    for span in ranges:
        got = list(reader.range_batches(span, batch, plan))
        tables += [b.records for b in got]
        table = bad_table([b for part in got for b in part.bad])
        if shifted:
            table = _shifted(table, before, shifted)
            before += sum(b.records.num_rows for b in got) + table.num_rows
        bad.append(table)
    assert pa.Table.from_batches(tables) == pa.Table.from_batches([b.records for b in whole])
    one_pass = bad_table([b for part in whole for b in part.bad])
    # a batch's framing errors come before its values' (blocked records: batches end
    # elsewhere in ranges): the same bad records, in record order
    order = [("record_index", "ascending"), ("reason", "ascending")]
    assert pa.concat_tables(bad).sort_by(order) == one_pass.sort_by(order)
    return one_pass.to_pylist()


def test_rdw_ranges_from_a_descriptor_scan_decode_what_one_pass_decodes(
    sources: dict[str, tuple[Path, str, dict[str, Any]]],
) -> None:
    path, _, options = sources["rdw"]
    reader = CobolReader(path, options)
    ranges = reader.record_ranges(BATCH)
    assert ranges is not None and len(ranges) == 11 and ranges[-1][:2] == (1_000, 50)
    assert ranges[-1][3] == path.stat().st_size  # the last range holds the truncated tail
    bad = _same_as_one_pass(reader, ranges, BATCH)
    assert any(b["record_index"] == RECORDS and "truncated" in b["reason"] for b in bad)


def test_csv_ranges_cut_outside_quotes_and_decode_what_one_pass_decodes(
    sources: dict[str, tuple[Path, str, dict[str, Any]]],
) -> None:
    path, _, options = sources["csv"]
    reader = CsvReader(path, options)
    ranges = reader.record_ranges(BATCH)
    assert ranges is not None and len(ranges) >= 3
    data = path.read_bytes()
    # every cut follows a newline; the long quoted values hold newlines where no cut is made
    assert all(data[end - 1 : end] == b"\n" for _, end in ranges[:-1])
    long_values = [i for i in range(len(data)) if data.startswith(b',"long', i)]
    assert not any(
        start < cut < data.index(b'"\n', start) for start in long_values for _, cut in ranges
    )
    bad = _same_as_one_pass(reader, ranges, 5_000)
    ragged = [b for b in bad if "fields" in b["reason"]]
    assert len(ragged) == len(range(5, CSV_ROWS, 997)) and ragged[-1]["line"] > 20_000
    assert reader.plan_from_surveys(reader.range_plan(), [])["types"] == {}
    # an escape character in the file: an escaped newline is no row end, read in one pass
    assert CsvReader(path, {**options, "escapechar": "#"}).record_ranges(BATCH) is not None
    escaped = path.with_name("escaped.csv")
    escaped.write_bytes(data.replace(b'in"side', b"in#,side"))
    assert CsvReader(escaped, {**options, "escapechar": "#"}).record_ranges(BATCH) is None


def _ingest_with(
    root: Path, source: tuple[Path, str, dict[str, Any]], executor: Executor
) -> dict[str, Any]:
    path, fmt, options = source
    settings = Settings(home=root, batch_size=BATCH, embedding_provider="none")
    engine = open_store(settings)
    result = ingest_file(
        engine, settings, path, fmt=fmt, options=options, name="polmast", executor=executor
    )
    staged = Path(SourceRegistry(engine, tenant="default").get(result.source_id).staging_dir)
    engine.dispose()
    files = {
        str(p.relative_to(staged)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(staged.rglob("*"))
        if p.is_file()
    }
    return {"result": result.model_dump(mode="json"), "files": files}


@pytest.fixture(scope="module")
def local(
    tmp_path_factory: pytest.TempPathFactory,
    sources: dict[str, tuple[Path, str, dict[str, Any]]],
) -> dict[str, dict[str, Any]]:
    outputs = {
        kind: _ingest_with(tmp_path_factory.mktemp(f"local-{kind}"), source, LocalExecutor())
        for kind, source in sources.items()
    }
    fixed = outputs["fixed"]
    assert fixed["result"]["records"] == RECORDS
    assert fixed["result"]["bad_records"] > 20
    assert sum(name.startswith("records/part-") for name in fixed["files"]) == 11
    assert {"quarantine.parquet", "profile.json"} <= set(fixed["files"])
    assert outputs["rdw"]["result"]["records"] == RECORDS
    assert sum(name.startswith("records/part-00010-") for name in outputs["rdw"]["files"]) == 1
    csv = outputs["csv"]["result"]
    ragged, blank = len(range(5, CSV_ROWS, 997)), len(range(3, CSV_ROWS, 1_499))
    assert csv["records"] == CSV_ROWS - ragged - blank
    assert {c["name"]: c["type"] for c in csv["columns"]}["premium"] == "decimal128(38, 2)"
    assert sum(name.startswith("records/part-00002-") for name in outputs["csv"]["files"]) == 1
    return outputs


@pytest.mark.parametrize("kind", SOURCES)
def test_ingest_on_ray_stages_the_local_files_with_a_killed_worker(
    tmp_path: Path,
    kind: str,
    sources: dict[str, tuple[Path, str, dict[str, Any]]],
    local: dict[str, dict[str, Any]],
    ray_executor: RayExecutor,
) -> None:
    marker = tmp_path / "killed"
    on_ray = _ingest_with(
        tmp_path / "ws", sources[kind], KillingExecutor(ray_executor, str(marker))
    )
    assert marker.exists()  # a worker died holding a range; Ray decoded it again
    assert on_ray == local[kind]


@pytest.fixture(scope="module")
def pool() -> Iterator[ProcessExecutor]:
    executor = ProcessExecutor(2)
    yield executor
    executor.close()


@pytest.mark.parametrize("kind", SOURCES)
def test_ingest_on_a_process_pool_stages_the_local_files(
    tmp_path: Path,
    kind: str,
    sources: dict[str, tuple[Path, str, dict[str, Any]]],
    local: dict[str, dict[str, Any]],
    pool: ProcessExecutor,
) -> None:
    assert _ingest_with(tmp_path / "ws", sources[kind], pool) == local[kind]
