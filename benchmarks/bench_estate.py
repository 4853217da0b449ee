"""Scale run of the sample-estate generator: wall time and peak RSS.

Usage: ``python benchmarks/bench_estate.py [--policies 350000] [--seed 7] [--keep DIR]``
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evals.estate import generate_estate  # noqa: E402


class PeakRss:
    """Samples this process's RSS in a thread (ru_maxrss also reported as a cross-check)."""

    def __init__(self, interval: float = 0.05) -> None:
        self.peak = 0
        self._proc = psutil.Process()
        self._stop = threading.Event()
        self._interval = interval
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._proc.memory_info().rss)
            self._stop.wait(self._interval)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run(policies: int, seed: int, out_dir: Path) -> None:
    """Generate an estate into ``out_dir`` and print the figures."""
    start_rss = psutil.Process().memory_info().rss
    with PeakRss() as sampler:
        t0 = time.perf_counter()
        manifest = generate_estate(out_dir, policies=policies, seed=seed)
        wall = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in out_dir.rglob("*") if p.is_file())
    records = sum(s.records for s in manifest.sources)
    ru_max_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"policies          {policies:,}")
    print(f"wall time         {wall:.1f} s")
    print(
        f"peak RSS          {sampler.peak / 2**20:.0f} MiB (ru_maxrss {ru_max_mib:.0f} MiB,"
        f" at start {start_rss / 2**20:.0f} MiB)"
    )
    print(f"records written   {records:,} in {len(manifest.sources)} sources")
    print(f"bytes written     {size / 2**20:.0f} MiB")
    for source in manifest.sources:
        print(f"  {source.name:<20} {source.records:>9,}")


def main() -> None:
    """Parse arguments and run the benchmark in a temporary directory (or --keep DIR)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--policies", type=int, default=350_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="write here instead of a temp dir")
    args = parser.parse_args()
    if args.keep:
        run(args.policies, args.seed, args.keep)
        return
    with tempfile.TemporaryDirectory(prefix="estate-bench-") as tmp:
        run(args.policies, args.seed, Path(tmp))


if __name__ == "__main__":
    main()
