"""The cobrix conformance corpus: how its golden outputs are read and compared, and its cases.

Shared by the conformance tests (tests/tools/content/cobol/) and the ``content`` eval suite, so
both judge the COBOL reader by the same rules. See the corpus MANIFEST for the conventions the
comparison respects (nulls omitted, decimals compared numerically, generated columns ignored).
The corpus folder defaults to /work/shared/corpus/cobrix (``DATA_MASH_COBRIX_CORPUS`` overrides).
"""

from __future__ import annotations

import json
import os
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa

from evals.result import CaseStatus
from tools.content.cobol import CobolReader, describe_layout

CORPUS = Path(os.environ.get("DATA_MASH_COBRIX_CORPUS", "/work/shared/corpus/cobrix"))
GENERATED = re.compile(r"^(File_Id|Record_Id|Record_Byte_Length|Seg_Id\d+)$")
LAYOUT_ROW = re.compile(
    r"^(\s*)(?:(\d+)\s+)?(\S+)\s+([rR]*)\s+(\d+)\s+(\d+)\s+(\d+)(?:\s+(\d+))?\s*$"
)


def load_expected(path: Path) -> list[dict[str, Any]]:
    """Read JSON Lines, a pretty JSON array, or concatenated pretty JSON objects."""
    text = path.read_text(encoding="utf-8")
    dec = json.JSONDecoder(parse_float=Decimal)
    out: list[Any] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        obj, pos = dec.raw_decode(text, pos)
        out.extend(obj if isinstance(obj, list) else [obj])
    return [clean({k: v for k, v in o.items() if not GENERATED.match(k)}) for o in out]


def nest(row: dict[str, Any]) -> dict[str, Any]:
    """Flat dotted columns -> nested objects (recursively inside list<struct> values)."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, list):
            value = [nest(v) if isinstance(v, dict) else v for v in value]
        elif isinstance(value, dict):
            value = nest(value)
        cur = out
        parts = key.split(".")
        for p in parts[:-1]:
            cur = cur.setdefault(p, {})
        cur[parts[-1]] = value
    return out


def clean(obj: Any) -> Any:
    """Drop nulls and empty objects; numbers become Decimal."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            v = clean(v)
            if v is None or v == {}:
                continue
            out[k] = v
        return out
    if isinstance(obj, list):
        return [clean(v) for v in obj]
    if isinstance(obj, bool):
        return obj
    if isinstance(obj, (int, float, Decimal)):
        return Decimal(repr(obj)) if isinstance(obj, float) else Decimal(obj)
    return obj


def same(a: Any, b: Any, path: str = "") -> str | None:
    """None when equal (numbers numerically, floats to 1e-6 relative), else a description."""
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return (
                f"{path}: keys differ: only ours {sorted(set(a) - set(b))}, "
                f"only cobrix {sorted(set(b) - set(a))}"
            )
        for k in a:
            d = same(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} elements vs {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            d = same(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    if isinstance(a, Decimal) and isinstance(b, Decimal):
        if a == b or abs(a - b) <= Decimal("1e-6") * max(abs(a), abs(b)):
            return None
        return f"{path}: {a} != {b}"
    return None if a == b else f"{path}: {a!r} != {b!r}"


def read_all(
    data: Path, options: dict[str, Any], na_fill: bool = False
) -> tuple[list[dict[str, Any]], int]:
    """Decode a file; returns (nested cleaned rows, bad record count)."""
    # cobrix decodes a blank implied-decimal field as 0; we default to null (a blank premium
    # is missing, not zero) and ask for cobrix's behaviour explicitly when comparing with it.
    reader = CobolReader(data, {"blank_implied_decimal_as_zero": True, **options})
    rows: list[dict[str, Any]] = []
    bad = 0
    for batch in reader.batches(7000):
        bad += len(batch.bad)
        numeric = {
            f.name
            for f in batch.records.schema
            if "." not in f.name and (f.type.id in _NUMERIC_IDS)
        }
        for r in batch.records.to_pylist():
            if na_fill:
                r = {k: (0 if v is None and k in numeric else v) for k, v in r.items()}
            rows.append(clean(nest({k: v for k, v in r.items() if not GENERATED.match(k)})))
    return rows, bad


def _ids() -> set[int]:

    return {pa.int64().id, pa.int32().id, pa.float32().id, pa.float64().id, pa.decimal128(5, 2).id}


_NUMERIC_IDS = _ids()


def get(row: dict[str, Any], dotted: str) -> Any:
    cur: Any = row
    for p in dotted.split("."):
        cur = cur.get(p) if isinstance(cur, dict) else None
    return cur


def compare(
    ours: list[dict[str, Any]], expected: list[dict[str, Any]], order_by: list[str] | None
) -> str | None:
    """Compare expected rows (cobrix take(N)) with ours, in file order or sorted by keys."""
    if order_by is None:
        if len(ours) < len(expected):
            return f"we produced {len(ours)} rows, cobrix shows {len(expected)}"
        for i, e in enumerate(expected):
            d = same(ours[i], e, f"row {i}")
            if d:
                return d
        return None

    def key(r: dict[str, Any]) -> tuple[Any, ...]:
        return tuple((get(r, k) is not None, get(r, k)) for k in order_by)

    mine = sorted(ours, key=key)[: len(expected)]
    if [key(r) for r in mine] != [key(r) for r in expected]:
        return "sort keys differ from cobrix's first rows"
    pool = list(ours)
    for i, e in enumerate(expected):
        hit = next((j for j, r in enumerate(pool) if same(r, e) is None), None)
        if hit is None:
            cands = [r for r in pool if key(r) == key(e)]
            return same(cands[0], e, f"row {i}") if cands else f"row {i}: no row with its key"
        pool.pop(hit)
    return None


def parse_layout(path: Path) -> list[tuple[str, str, int, int, int]]:
    """cobrix layout table -> (name, attribs, start, end, length) rows (debug fields dropped)."""
    rows = []
    debug = "_debug" in path.read_text()
    for line in path.read_text().splitlines()[2:]:
        if not line.strip():
            continue
        m = LAYOUT_ROW.match(line)
        if m is None:
            raise ValueError(f"{path}: not a layout row: {line!r}")
        nums = [int(x) for x in m.groups()[4:] if x is not None]
        name = m.group(3)
        if name.endswith("_debug"):
            continue
        rows.append((name, "" if debug else (m.group(4) or ""), *nums[-3:]))
    return rows


# ----- running cases (used by the content eval suite) -----


def case_dir(case: str, corpus: Path = CORPUS) -> Path:
    """The folder of a case (``t01`` -> ``t01_fixed_ebcdic_comp3_odo``)."""
    found = next((p for p in sorted(corpus.iterdir()) if p.name.startswith(case + "_")), None)
    if found is None:
        raise FileNotFoundError(f"{corpus}: no folder for case {case}")
    return found


def copybooks(case: str, cb: str | list[str], corpus: Path = CORPUS) -> list[str]:
    """Absolute copybook paths of a case."""
    names = cb if isinstance(cb, list) else [cb]
    return [str(case_dir(case, corpus) / "copybook" / n) for n in names]


def run_variant(
    spec: tuple[Any, ...], corpus: Path = CORPUS, *, expected_failure: str | None = None
) -> dict[str, Any]:
    """Decode one variant and compare it with cobrix's golden rows.

    Returns:
        ``{"id", "status", "records", "expected_records", "first_difference"}`` where status is
        ``pass``, ``fail``, ``expected_failure`` (an unsupported variant that fails, as known) or
        ``unexpected_pass`` (an unsupported variant that now passes).
    """
    case, variant, data, cb, options, expected, order_by, total, na_fill = spec[:9]
    outcome: dict[str, Any] = {
        "id": f"{case}-{variant}",
        "records": None,
        "expected_records": total,
        "first_difference": None,
    }
    try:
        base = case_dir(case, corpus)
        rows, _bad = read_all(
            base / data, {"copybook": copybooks(case, cb, corpus), **options}, na_fill
        )
        outcome["records"] = len(rows)
        if len(rows) != total:
            diff: str | None = f"{len(rows)} records, cobrix has {total}"
        elif expected:
            diff = compare(rows, load_expected(base / "expected" / expected), order_by)
        else:
            diff = None
    except Exception as exc:  # noqa: BLE001  (a crash is a failed case, reported with its cause)
        diff = f"{type(exc).__name__}: {exc}"
    outcome["first_difference"] = diff
    if expected_failure is not None:
        outcome["status"] = CaseStatus.EXPECTED_FAILURE if diff else CaseStatus.UNEXPECTED_PASS
        outcome["known_gap"] = expected_failure
    else:
        outcome["status"] = CaseStatus.of(diff is None)
    return outcome


def run_layout(spec: tuple[str, str, str, dict[str, Any]], corpus: Path = CORPUS) -> dict[str, Any]:
    """Compare our field layout of a copybook with cobrix's layout table."""
    case, layout_file, cb, opts = spec
    outcome: dict[str, Any] = {"id": f"{case}-{layout_file}", "first_difference": None}
    try:
        path = case_dir(case, corpus) / "expected" / layout_file
        expected = parse_layout(path)
        got = layout_rows(copybooks(case, cb, corpus)[0], opts, debug="_debug" in path.read_text())
        outcome["first_difference"] = first_layout_difference(got, expected)
    except Exception as exc:  # noqa: BLE001
        outcome["first_difference"] = f"{type(exc).__name__}: {exc}"
    outcome["status"] = CaseStatus.of(outcome["first_difference"] is None)
    return outcome


def layout_rows(
    copybook: str, opts: dict[str, Any], *, debug: bool
) -> list[tuple[str, str, int, int, int]]:
    """Our layout in cobrix's table form: (name, r/R attributes, start, end, length)."""

    keep_value, keep_group = opts.get("keep", (False, False))
    desc = describe_layout(
        copybook,
        keep_fillers=True,
        filler_naming_policy=opts.get("filler_naming_policy", "sequence_numbers"),
    )
    got = []
    for f in desc["fields"]:
        name = f["name"]
        if f["cobol_name"].upper() == "FILLER":
            kept = keep_group if f["type"] == "group" else keep_value
            name = name if kept else "FILLER"
        attrs = "" if debug else ("r" if f["redefined"] else "") + ("R" if f["redefines"] else "")
        got.append((name, attrs, f["start"], f["end"], f["length"]))
    return got


def first_layout_difference(
    got: list[tuple[Any, ...]], expected: list[tuple[Any, ...]]
) -> str | None:
    """None when the layouts agree, else the first differing row."""
    for i, (a, b) in enumerate(zip(got, expected, strict=False)):
        if a != b:
            return f"row {i}: ours {a} != cobrix {b}"
    if len(got) != len(expected):
        return f"{len(got)} layout rows, cobrix has {len(expected)}"
    return None
