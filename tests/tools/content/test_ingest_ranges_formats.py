"""Ingest by range for the formats beyond CSV and RDW: fixed-width text and JSON Lines by byte
range (cut at line ends, or at record_length multiples), VB records by a scan of their block
descriptors, a JSON array, an XML document and a workbook by record range after a streaming
pass. Each reader's ranges decode what one pass decodes; Ray (2 workers, one killed mid-range)
and a process pool stage the local executor's files byte for byte."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.executors import LocalExecutor, ProcessExecutor, RayExecutor
from tests.tools.content.conftest import write_xlsx
from tests.tools.content.test_ingest_ranges import CPY, _ingest_with, _record, _same_as_one_pass
from tests.tools.waves.executor_helpers import KillingExecutor
from tools.content.cobol import CobolReader
from tools.content.readers.registry import reader_for

LINES = 20_000  # line formats: over 512 KB, three ranges of the smallest range size
RECORDS = 1_500  # record-range formats: 15 ranges of BATCH
BATCH = 100
KINDS = ("fixed_width", "fixed_length", "vb", "jsonl", "json", "xml", "xlsx")
Source = tuple[Path, str, dict[str, Any]]


def _fixed_width(folder: Path) -> Source:
    """A preamble, blank lines, short lines (quarantined), decimals and codes."""
    lines = ["EXPORT 2026-12-08", "ID    NAME      PREMIUM   F"]
    for i in range(LINES):
        if i % 997 == 5:
            lines.append("   ")
        elif i % 1_201 == 7:
            lines.append(f"{i:06d}short")
        else:
            lines.append(f"{i:06d}näme{i % 97:<6d}{i * 1.25:>10.2f}{'XY'[i % 2]}")
    path = folder / "policies.txt"
    path.write_text("\n".join(lines) + "\n")
    fields = [
        {"name": "id", "start": 1, "length": 6},
        {"name": "name", "start": 7, "length": 10},
        {"name": "premium", "start": 17, "length": 10},
        {"name": "flag", "start": 27, "length": 1},
    ]
    return path, "fixed_width", {"fields": fields, "skip_rows": 2, "allow_short_lines": False}


def _fixed_length(folder: Path) -> Source:
    """Records of 40 bytes without newlines (the last one partial)."""
    body = b"".join(f"{i:06d}{i % 89:<8d}{i * 3:>10d}{'':16}".encode() for i in range(LINES))
    path = folder / "policies.fix"
    path.write_bytes(b"HEADER-RECORD-SKIPPED-".ljust(40, b"-") + body + b"0000")
    fields = [
        {"name": "id", "start": 1, "length": 6},
        {"name": "code", "start": 7, "length": 8},
        {"name": "amount", "start": 15, "length": 10},
    ]
    return path, "fixed_width", {"fields": fields, "record_length": 40, "skip_rows": 1}


def _vb(folder: Path) -> Source:
    """VB blocks of 1-9 RDW records: short records, empty ones (skipped), invalid values."""
    (folder / "pol.cpy").write_text(CPY)
    out, block = bytearray(), bytearray()
    for i in range(RECORDS):
        record = _record(i)[:13] if i % 7 == 3 else _record(i)
        if i % 100 == 42:
            block += (0).to_bytes(2, "big") + b"\0\0"
        block += len(record).to_bytes(2, "big") + b"\0\0" + record
        if i % (1 + i % 9) == 0 or i == RECORDS - 1:
            out += (len(block) + 4).to_bytes(2, "big") + b"\0\0" + block
            block = bytearray()
    path = folder / "POLVB.dat"
    path.write_bytes(bytes(out))
    options = {"copybook": str(folder / "pol.cpy"), "encoding": "cp037", "record_format": "VB"}
    options["rdw_big_endian"] = True
    return path, "cobol", {**options, "generate_record_id": True}


def _record_dict(i: int) -> dict[str, Any]:
    record: dict[str, Any] = {"id": i, "name": f"Prénom {i}", "address": {"city": f"c{i % 7}"}}
    if i % 5 == 0:
        record["premium"] = i * 0.5
    if i > RECORDS * 2 // 3:  # a column first seen late in the file
        record["riders"] = [{"code": f"R{i % 3}"}]
    return record


def _jsonl(folder: Path) -> Source:
    """Blank lines, invalid JSON and non-objects (quarantined), a late nested column."""
    path = folder / "policies.jsonl"
    with path.open("w") as out:
        for i in range(LINES):
            if i % 997 == 5:
                out.write("\n")
            elif i % 1_201 == 7:
                out.write("{not json\n")
            elif i % 1_301 == 9:
                out.write("[1, 2]\n")
            else:
                out.write(json.dumps(_record_dict(i % RECORDS + LINES), ensure_ascii=False) + "\n")
    return path, "jsonl", {}


def _json(folder: Path) -> Source:
    """An indented document with the array under a key; some elements are not objects."""
    records: list[Any] = [[i] if i % 301 == 9 else _record_dict(i) for i in range(RECORDS)]
    path = folder / "policies.json"
    path.write_text(json.dumps({"meta": {"rows": RECORDS}, "records": records}, indent=1))
    return path, "json", {}


def _xml(folder: Path) -> Source:
    """Prefixed records under two regions, a header before them, a tag that repeats late."""
    parts = ['<?xml version="1.0" encoding="utf-8"?>', '<Estate xmlns:p="urn:pol">']
    parts.append("<Header><Run>7</Run></Header><Region>")
    for i in range(RECORDS):
        if i == RECORDS // 2:
            parts.append("</Region><Region>")
        phones = "".join(f"<Tel>{k}</Tel>" for k in range(2 if i > RECORDS - 200 else 1))
        parts.append(
            f'<p:Policy id="{i}"><Name>Prénom {i}</Name>{phones}'
            f'<Premium currency="EUR">{i}.5</Premium></p:Policy>'
        )
    parts.append("</Region></Estate>")
    path = folder / "policies.xml"
    path.write_text("\n".join(parts))
    return path, "xml", {"record_element": "Policy"}


def _xlsx(folder: Path) -> Source:
    """A duplicate header, an empty row, a column of mixed types, dates."""
    rows: list[list[Any]] = [["id", "name", "premium", "since", "id"]]
    for i in range(RECORDS):
        premium: Any = "n/a" if i % 400 == 17 else i * 1.5
        rows.append([f"P{i:05d}", f"name {i}", premium, dt.date(2020, 1, 1 + i % 28), i])
    rows[700] = [None] * 5
    return write_xlsx(folder / "policies.xlsx", {"Policies": rows}), "xlsx", {}


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Source]:
    makers = {
        "fixed_width": _fixed_width,
        "fixed_length": _fixed_length,
        "vb": _vb,
        "jsonl": _jsonl,
        "json": _json,
        "xml": _xml,
        "xlsx": _xlsx,
    }
    return {kind: make(tmp_path_factory.mktemp(kind)) for kind, make in makers.items()}


@pytest.mark.parametrize("kind", KINDS)
def test_ranges_decode_what_one_pass_decodes(kind: str, sources: dict[str, Source]) -> None:
    path, fmt, options = sources[kind]
    reader = reader_for(fmt)(path, options)
    ranges = reader.record_ranges(BATCH)
    assert ranges is not None and len(ranges) >= 3
    bad = _same_as_one_pass(reader, ranges, BATCH)
    expected_bad = {
        "fixed_width": len(range(7, LINES, 1_201)),
        "jsonl": len(range(7, LINES, 1_201)) + len(range(9, LINES, 1_301)),
        "json": len(range(9, RECORDS, 301)),
    }
    if kind in expected_bad:
        assert len(bad) == expected_bad[kind]
    if kind in ("fixed_width", "jsonl"):  # lines are the file's, indexes count records
        assert bad[-1]["line"] > LINES * 9 // 10 and bad[-1]["record_index"] < bad[-1]["line"]


def test_what_cannot_be_split_is_read_in_one_pass(
    sources: dict[str, Source], tmp_path: Path
) -> None:
    path, _, options = sources["vb"]
    data = bytearray(path.read_bytes())
    data[4:6] = (int.from_bytes(data[4:6], "big") + 1).to_bytes(2, "big")  # runs past its block
    broken = tmp_path / "broken.dat"
    broken.write_bytes(bytes(data))
    assert CobolReader(broken, options).record_ranges(BATCH) is None
    # XML records under different ancestors: a range's head would open the wrong ones
    xml_path, _, xml_options = sources["xml"]
    text = xml_path.read_text().replace("</Region><Region>", "</Region><Other>")
    mixed = tmp_path / "mixed.xml"
    mixed.write_text(text.replace("</Region></Estate>", "</Other></Estate>"))
    assert reader_for("xml")(mixed, xml_options).record_ranges(BATCH) is None
    # a namespace declared between records: a later range would not know its prefix
    declared = tmp_path / "declared.xml"
    declared.write_text(
        xml_path.read_text().replace("</Region><Region>", '</Region><Region xmlns:q="urn:q">')
    )
    assert reader_for("xml")(declared, xml_options).record_ranges(BATCH) is None
    json_path, _, _ = sources["json"]
    utf16 = tmp_path / "utf16.json"
    utf16.write_text(json_path.read_text(), encoding="utf-16")
    assert reader_for("json")(utf16, {"encoding": "utf-16"}).record_ranges(BATCH) is None


@pytest.fixture(scope="module")
def local(
    tmp_path_factory: pytest.TempPathFactory, sources: dict[str, Source]
) -> dict[str, dict[str, Any]]:
    outputs = {
        kind: _ingest_with(tmp_path_factory.mktemp(f"local-{kind}"), source, LocalExecutor())
        for kind, source in sources.items()
    }
    for output in outputs.values():  # staged range by range: a part file per range
        assert any(name.startswith("records/part-00002-") for name in output["files"])
    assert outputs["vb"]["result"]["records"] == RECORDS
    assert outputs["xml"]["result"]["records"] == RECORDS
    assert outputs["xlsx"]["result"]["records"] == RECORDS - 1  # the empty row
    return outputs


@pytest.mark.parametrize("kind", KINDS)
def test_ingest_on_ray_stages_the_local_files_with_a_killed_worker(
    tmp_path: Path,
    kind: str,
    sources: dict[str, Source],
    local: dict[str, dict[str, Any]],
    ray_executor: RayExecutor,
) -> None:
    marker = tmp_path / "killed"
    on_ray = _ingest_with(
        tmp_path / "ws", sources[kind], KillingExecutor(ray_executor, str(marker))
    )
    assert marker.exists()  # a worker died holding a range; Ray read it again
    assert on_ray == local[kind]


@pytest.fixture(scope="module")
def pool() -> Iterator[ProcessExecutor]:
    executor = ProcessExecutor(2)
    yield executor
    executor.close()


@pytest.mark.parametrize("kind", KINDS)
def test_ingest_on_a_process_pool_stages_the_local_files(
    tmp_path: Path,
    kind: str,
    sources: dict[str, Source],
    local: dict[str, dict[str, Any]],
    pool: ProcessExecutor,
) -> None:
    assert _ingest_with(tmp_path / "ws", sources[kind], pool) == local[kind]
