"""Independent, deliberately simple readers of the sample estate's files (test-only).

They share no code with the generator: fixed offsets come from reading the copybooks by eye,
decoding uses struct/bytes arithmetic, and text formats use the standard library.
"""

from __future__ import annotations

import csv
import json
import re
import sqlite3
import struct
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from python_calamine import CalamineWorkbook

from evals.estate import EstateManifest, generate_estate

ESTATE_CHUNK = 600  # small chunks so record indices and ids are exercised across chunk seams


def small_chunk_estate(out_dir: Path, policies: int, seed: int) -> EstateManifest:
    """Generate with a small chunk size (the real default is 20k)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("evals.estate.generator.CHUNK_POLICIES", ESTATE_CHUNK)
        return generate_estate(out_dir, policies=policies, seed=seed)


def unpack_comp3(raw: bytes, scale: int) -> float:
    """Decode packed decimal: digits in nibbles, last nibble the sign (D = negative)."""
    nibbles = []
    for byte in raw:
        nibbles += [byte >> 4, byte & 0x0F]
    sign = nibbles.pop()
    assert sign in (0x0C, 0x0D, 0x0F), f"bad sign nibble {sign:#x}"
    assert all(n <= 9 for n in nibbles), f"bad digit nibble in {raw.hex()}"
    value = int("".join(map(str, nibbles)))
    return (-value if sign == 0x0D else value) / 10**scale


def unpack_zoned(raw: bytes, scale: int) -> float:
    """Decode signed zoned decimal: F-zoned digits, sign overpunched in the last zone."""
    digits = [b & 0x0F for b in raw]
    assert all(b >> 4 == 0xF for b in raw[:-1]), raw.hex()
    zone = raw[-1] >> 4
    assert zone in (0xC, 0xD, 0xF), f"bad overpunch zone {zone:#x}"
    value = int("".join(map(str, digits)))
    return (-value if zone == 0xD else value) / 10**scale


def text(raw: bytes) -> str:
    """EBCDIC cp037 text, trailing spaces stripped."""
    return raw.decode("cp037").rstrip()


def read_policy_master(path: Path) -> list[dict[str, Any]]:
    """A subset of POLMAST fields at offsets read off POLMAST.cpy."""
    data = path.read_bytes()
    assert len(data) % 320 == 0
    out = []
    for off in range(0, len(data), 320):
        rec = data[off : off + 320]
        covs = []
        for k in range(3):
            b = 225 + 20 * k
            covs.append(
                {
                    "COV_CD": text(rec[b : b + 3]),
                    "COV_LMT": unpack_comp3(rec[b + 3 : b + 9], 2),
                    "COV_AGG_LMT": unpack_comp3(rec[b + 9 : b + 15], 2),
                    "COV_DED": unpack_comp3(rec[b + 15 : b + 20], 2),
                }
            )
        out.append(
            {
                "POL_NBR": text(rec[0:10]),
                "POL_STAT_CD": text(rec[10:11]),
                "LOB_CD": text(rec[11:14]),
                "EFF_DT": text(rec[18:26]),
                "ISS_DT": str(struct.unpack(">I", rec[34:38])[0]),
                "INSD_TYP_CD": text(rec[38:39]),
                "INSD_NM": text(rec[39:79]),
                "INSD_DTL.INSD_PERS.LAST_NM": text(rec[94:114]),
                "INSD_ADDR.ST_CD": text(rec[192:194]),
                "PREM_AMT": unpack_comp3(rec[208:213], 2),
                "BAL_DUE_AMT": unpack_zoned(rec[214:223], 2),
                "COV_CNT": struct.unpack(">h", rec[223:225])[0],
                "COVERAGES": covs,
            }
        )
    return out


def walk_rdw(path: Path) -> list[bytes]:
    """Record payloads of a big-endian RDW file (RDW length includes its own 4 bytes)."""
    data = path.read_bytes()
    records, off = [], 0
    while off < len(data):
        length, zeros = struct.unpack(">HH", data[off : off + 4])
        assert zeros == 0 and length > 4, f"bad RDW at byte {off}"
        records.append(data[off + 4 : off + length])
        off += length
    assert off == len(data), "RDW walk overran the end of the file"
    return records


def read_endorsements(path: Path) -> list[dict[str, Any]]:
    """ENDORSE records: fixed part then CHG-CNT change lines of 48 bytes."""
    out = []
    for rec in walk_rdw(path):
        count = struct.unpack(">h", rec[51:53])[0]
        assert len(rec) == 53 + 48 * count
        out.append(
            {
                "ENDT_NBR": text(rec[0:12]),
                "POL_NBR": text(rec[12:22]),
                "ENDT_TYP_CD": text(rec[22:24]),
                "ENDT_EFF_DT": text(rec[24:32]),
                "ENDT_PREM_CHG": unpack_comp3(rec[32:37], 2),
                "CHG_CNT": count,
            }
        )
    return out


def flatten(obj: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts to dotted keys."""
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def xml_record(elem: ET.Element, prefix: str = "") -> dict[str, Any]:
    """Child elements to dotted keys (text of leaves)."""
    out: dict[str, Any] = {}
    for child in elem:
        if len(child):
            out.update(xml_record(child, f"{prefix}{child.tag}."))
        else:
            out[f"{prefix}{child.tag}"] = child.text or ""
    return out


def read_source(root: Path, source: dict[str, Any]) -> list[dict[str, Any]]:
    """Every record of a source (from sources.yaml) as a dict of column -> value."""
    path = root / source["path"]
    opts = source["options"]
    fmt = source["format"]
    if fmt == "cobol":
        return read_policy_master(path) if opts["record_format"] == "F" else read_endorsements(path)
    if fmt == "csv":
        with path.open(encoding=opts["encoding"], newline="") as f:
            rows = list(csv.reader(f, delimiter=opts["delimiter"]))
        return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    if fmt == "jsonl":
        with path.open(encoding="utf-8") as f:
            return [flatten(json.loads(line)) for line in f if line.strip()]
    if fmt == "xlsx":
        rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(opts["sheet"]).to_python()
        return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    if fmt == "xml":
        tree = ET.parse(path)
        return [xml_record(e) for e in tree.getroot().iter(opts["record_element"])]
    if fmt == "sqlite":
        con = sqlite3.connect(path)
        con.row_factory = sqlite3.Row
        rows = con.execute(f"SELECT * FROM {opts['table']} ORDER BY rowid").fetchall()
        con.close()
        return [dict(r) for r in rows]
    raise AssertionError(f"unknown format {fmt}")


def source_columns(root: Path, source: dict[str, Any]) -> set[str]:
    """Every column a reader would produce for the source."""
    path = root / source["path"]
    fmt, opts = source["format"], source["options"]
    if fmt == "cobol":
        return copybook_columns(root / opts["copybook"])
    if fmt == "sqlite":
        con = sqlite3.connect(path)
        cols = {r[1] for r in con.execute(f"PRAGMA table_info({opts['table']})")}
        con.close()
        return cols
    cols: set[str] = set()
    for record in read_source(root, source):
        cols.update(record)
    return cols


_ITEM = re.compile(
    r"^\s+(\d\d)\s+([A-Z0-9-]+)(?:\s+REDEFINES\s+[A-Z0-9-]+)?"
    r"(?:\s+OCCURS\s+(?:\d+\s+TO\s+)?\d+\s+TIMES(?:\s+DEPENDING\s+ON\s+[A-Z0-9-]+)?)?"
    r"(\s+PIC\s+\S+(?:\s+COMP(?:-3)?)?)?\.\s*$"
)


def copybook_columns(path: Path) -> set[str]:
    """Flattened column names of a copybook: dotted groups, 01 root dropped, OCCURS as []."""
    stack: list[tuple[int, str]] = []
    cols: set[str] = set()
    for line in path.read_text().splitlines():
        if len(line) > 6 and line[6] == "*":
            continue
        match = _ITEM.match(line)
        if not match:
            assert not line.strip(), f"unparsed copybook line: {line!r}"
            continue
        level, name, pic = int(match.group(1)), match.group(2), match.group(3)
        while stack and stack[-1][0] >= level:
            stack.pop()
        part = name.replace("-", "_") + ("[]" if "OCCURS" in line else "")
        stack.append((level, part))
        if pic and name != "FILLER":
            names = [p for lvl, p in stack if lvl != 1]
            cols.add(".".join(names))
    return cols
