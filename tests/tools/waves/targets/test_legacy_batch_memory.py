"""legacy_batch reads a wave back, and counts it, without a Python object per policy: which
part holds each policy's newest copy is a DuckDB window over the parts' ids, so the Python
memory of read_back and count is that of one part, whatever the number of parts."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from tools.waves.targets import make_target
from tools.waves.targets.base import POLICY_ID

PER_PART = 1_000


def _python_peaks(folder: Path, parts: int, make_records: Callable[..., pa.Table]) -> list[int]:
    """Peak Python allocations (bytes) of count() and of reading the wave back (batches
    dropped as they come); every part after the first re-sends 10 policies of the part before
    (the upsert moves them to the newer part)."""
    target = make_target("legacy_batch", {"dir": str(folder)})
    for k in range(parts):
        first = k * PER_PART - (10 if k else 0)
        target.write("w1", make_records(range(first, (k + 1) * PER_PART)))
    target = make_target("legacy_batch", {"dir": str(folder)})  # nothing cached
    peaks = []
    tracemalloc.start()
    try:
        assert target.count("w1") == parts * PER_PART
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.reset_peak()
        rows, last = 0, None
        for batch in target.read_back("w1"):
            rows += batch.num_rows
            last = batch.column(POLICY_ID)[0].as_py()
        peaks.append(tracemalloc.get_traced_memory()[1])
    finally:
        tracemalloc.stop()
    assert rows == parts * PER_PART and last is not None
    return peaks


def test_reading_back_and_counting_a_wave_holds_no_object_per_policy(
    tmp_path: Path, make_records: Callable[..., pa.Table]
) -> None:
    small = _python_peaks(tmp_path / "small", 2, make_records)
    large = _python_peaks(tmp_path / "large", 12, make_records)
    # six times the policies: the same memory (a set of every id grew with the wave)
    assert large[0] < 1.5 * small[0] + 200_000, (small, large)
    assert large[1] < 1.5 * small[1] + 200_000, (small, large)
