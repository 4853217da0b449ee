"""An assembly run's totals count the stage's side files (child errors, duplicates, records per
policy) in bounded batches with Arrow: hundreds of thousands of child errors make no Python
object per record, and the counts, reasons and examples are those of the records."""

from __future__ import annotations

import tracemalloc
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tools.assembly.stage import POS, ROW, Contributor
from tools.assembly.totals import EXAMPLES, Totals

ERRORS = 300_000


def _part(index: int, kind: str, name: str) -> Contributor:
    info: Any = SimpleNamespace(name=name)
    return Contributor(index, kind, info, [], None)  # type: ignore[arg-type]


def _stage(folder: Path) -> list[Contributor]:
    """A root of 100,000 policies, a child of 3 records each; child errors on every row but
    a tenth of them from rows of other policies (a source shared by several roots)."""
    parts = [_part(0, "root", "master"), _part(1, "child", "billing")]
    pos = np.arange(100_000)
    pq.write_table(pa.table({POS: pos, ROW: pos}), folder / parts[0].file)
    child = np.repeat(pos, 3)
    pq.write_table(pa.table({POS: child, ROW: np.arange(len(child))}), folder / parts[1].file)
    rows = np.arange(ERRORS) % (len(child) + 30_000)  # rows past the child's: not placed here
    pq.write_table(
        pa.table(
            {
                "source": pa.array(["billing"] * ERRORS),
                "row": pa.array(rows, pa.int64()),
                "key": pa.array([f"K{r:07d}" for r in rows]),
                "path": pa.array([f"payments.payment_history[{r % 3}].payment_date" for r in rows]),
                "message": pa.array([f"'{r}' is not a date" for r in rows]),
                "kind": pa.array(["transform_error"] * ERRORS),
            }
        ),
        folder / "child_quarantine.parquet",
        row_group_size=50_000,
    )
    pq.write_table(
        pa.table({"source": pa.array(["billing"] * 70_000 + ["master"] * 5)}),
        folder / "duplicates.parquet",
    )
    return parts


def test_totals_count_the_side_files_without_an_object_per_record(tmp_path: Path) -> None:
    parts = _stage(tmp_path)
    spec: Any = SimpleNamespace(assembly_id="asm-x")
    totals = Totals(parts)
    totals.add(
        {
            "policies": 100_000,
            "valid": 90_000,
            "quarantined": 10_000,
            "partial": 5,
            "conflicts": 0,
            "arrived": {"billing": 1},
        }
    )
    tracemalloc.start()
    result = totals.result(spec, {"duplicates": 70_005}, tmp_path, 5, 0, tmp_path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # one Python object per record would be some 100 MB here (300,000 errors x 6 values)
    assert peak < 16 * 2**20, peak
    by = {c.source: c for c in result.components}
    assert (by["master"].policies_held, by["master"].records_held) == (100_000, 100_000)
    assert (by["billing"].policies_held, by["billing"].records_held) == (100_000, 300_000)
    assert (by["billing"].duplicates, by["master"].duplicates) == (70_000, 5)
    rows = np.arange(ERRORS) % 330_000
    placed = rows[rows < 300_000]
    assert by["billing"].quarantined_records == len(np.unique(placed))
    [reason] = result.partial_reasons
    assert (reason.source, reason.path, reason.records) == (
        "billing",
        "payments.payment_history[].payment_date",
        len(placed),
    )
    assert reason.message == "'0' is not a date"
    assert reason.examples == [f"K{r:07d}" for r in range(EXAMPLES)]
