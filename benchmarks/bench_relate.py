"""Relationship discovery time and peak memory, against a naive Python baseline in the same run.

Run: ``.venv/bin/python benchmarks/bench_relate.py [--policies 35000] [--seed 7] [--keep DIR]``

Generates the estate, ingests every source into a scratch workspace, then times
``propose_relationships`` (DuckDB containment over distinct-key tables) and the baseline: the
same candidate columns read into Python sets (as written and by number) and compared pair by
pair, the way a first version would. Both see the same staged Parquet; the figures are printed
with their ratio, and peak RSS of the discovery is sampled. Goal (issue 15): <= 20 s across
the estate's sources at 350,000 policies. CPU seconds (all threads) are printed next to the wall
time: on a shared machine the wall time mostly measures the other processes.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import pyarrow.dataset as ds

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.settings import Settings  # noqa: E402
from core.store import open_store  # noqa: E402
from evals.demo import sources_step  # noqa: E402
from evals.estate import generate_estate  # noqa: E402
from tools.assembly import keyspace, propose_relationships  # noqa: E402
from tools.content.sources import SourceRegistry  # noqa: E402

_KEY = re.compile(keyspace.KEY_REGEX)


class PeakRss:
    """Samples the process's resident memory every 50 ms while in the block."""

    def __enter__(self) -> PeakRss:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        proc = psutil.Process()
        while not self._stop.is_set():
            self.peak = max(self.peak, proc.memory_info().rss)
            time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def naive(infos: list) -> int:  # type: ignore[type-arg]
    """Python sets of every key-shaped column; containment of each pair. Returns pairs >= 90%."""
    columns = {}
    for info in infos:
        files = keyspace.parquet_files(info)
        if not files:
            continue
        table = ds.dataset(files, format="parquet").to_table()
        for name in table.column_names:
            values = [str(v).strip() for v in table.column(name).to_pylist() if v is not None]
            parsed = [_KEY.match(v) for v in values]
            if not values or sum(m is not None for m in parsed) < 0.95 * len(values):
                continue
            numbers = [int(m[3]) for m in parsed if m is not None]
            columns[(info.source_id, name)] = (values, set(values), set(numbers), numbers)
    related = 0
    for (child_src, _), (values, _, _, numbers) in columns.items():
        for (parent_src, _), (_, exact, by_number, _) in columns.items():
            if parent_src == child_src:
                continue
            hits = max(sum(v in exact for v in values), sum(n in by_number for n in numbers))
            related += hits >= 0.9 * len(values)
    return related


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--policies", type=int, default=35_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, default=None, help="Workspace to create or reuse.")
    parser.add_argument(
        "--skip-baseline",
        action="store_true",
        help="Time discovery only (the naive baseline needs GiBs of Python sets at 350,000).",
    )
    args = parser.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="bench-relate-"))
    estate = base / "estate"
    if not (estate / "estate.json").is_file():
        generate_estate(estate, policies=args.policies, seed=args.seed)
    settings = Settings(home=base / "ws", embedding_provider="none")
    engine = open_store(settings)
    sources_step(engine, settings, estate)
    infos = SourceRegistry(engine, tenant=settings.tenant).list()
    ids = [i.source_id for i in infos]
    with PeakRss() as rss:
        t0, c0 = time.perf_counter(), time.process_time()
        found = propose_relationships(engine, settings, ids, tenant=settings.tenant)
        relate_s, relate_cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"policies {args.policies}, sources {len(ids)}")
    print(
        f"relate: {relate_s:.2f} s ({relate_cpu:.2f} s CPU, all threads), "
        f"{len(found.relationships)} relationships, "
        f"peak RSS {rss.peak / 2**20:.0f} MiB"
    )
    if args.skip_baseline:
        return 0
    with PeakRss() as naive_rss:
        t0, c0 = time.perf_counter(), time.process_time()
        naive(infos)
        naive_s, naive_cpu = time.perf_counter() - t0, time.process_time() - c0
    print(
        f"naive Python sets baseline: {naive_s:.2f} s ({naive_cpu:.2f} s CPU), "
        f"peak RSS {naive_rss.peak / 2**20:.0f} MiB"
    )
    print(f"ratio naive / relate: {naive_s / relate_s:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
