"""Benchmark: ingest of wide CSV files must be linear in the column count.

Ingests (decode, stage to Parquet, profile, register; embeddings off) a CSV of 1,000, 4,000 and
20,000 columns with the same number of rows, each in the same process one after the other, and
reports the wall time per column. Linear means the time per column stays flat: the figures are
printed as ratios against the 1,000-column run of the same invocation (no absolute threshold).

    .venv/bin/python benchmarks/bench_wide_csv.py [--columns 1000 4000 20000] [--rows 50]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def write_wide_csv(path: Path, columns: int, rows: int) -> None:
    """A CSV with ``columns`` columns mixing integers, decimals and short text."""
    header = ",".join(f"COL_{i:05d}" for i in range(columns))
    with path.open("w") as out:
        out.write(header + "\n")
        for r in range(rows):
            out.write(",".join(_cell(r, i) for i in range(columns)) + "\n")


def _cell(row: int, column: int) -> str:
    kind = column % 3
    if kind == 0:
        return str(row * 7 + column)
    return f"{row}.{column % 100:02d}" if kind == 1 else f"v{column % 17}"


def time_ingest(work: Path, columns: int, rows: int) -> dict[str, Any]:
    from core.settings import Settings
    from core.store import open_store
    from tools.content.ingest import ingest_file

    file = work / f"wide_{columns}.csv"
    write_wide_csv(file, columns, rows)
    settings = Settings(home=work / f"ws_{columns}", embedding_provider="none")
    engine = open_store(settings)
    started = time.perf_counter()
    result = ingest_file(engine, settings, file, fmt="csv", options={"header": True})
    seconds = time.perf_counter() - started
    engine.dispose()
    assert len(result.columns) == columns and result.records == rows
    return {"columns": columns, "rows": rows, "seconds": round(seconds, 3)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--columns", type=int, nargs="+", default=[1000, 4000, 20000])
    parser.add_argument("--rows", type=int, default=50)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench_wide_") as tmp:
        runs = [time_ingest(Path(tmp), n, args.rows) for n in sorted(args.columns)]
    base = runs[0]["seconds"] / runs[0]["columns"]
    for run in runs:
        per_column = run["seconds"] / run["columns"]
        run["ms_per_column"] = round(per_column * 1000, 3)
        run["per_column_ratio_vs_smallest"] = round(per_column / base, 2)
    report = {"benchmark": "wide_csv", "runs": runs}
    print(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
