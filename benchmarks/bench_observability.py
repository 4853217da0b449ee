"""Overhead of metrics, logging and tracing on a wave: the same wave with them on and off.

Run: ``.venv/bin/python benchmarks/bench_observability.py [--policies 350000] [--repeats 2]``

Each measurement is bench_wave's whole saga (ingest, map, route, migrate, validate into
new_platform on SQLite) in a child process on a fresh workspace. "off": ``DATA_MASH_METRICS=off``,
logging at ERROR and no trace exporter (the defaults' floor); "on": Prometheus metrics counted,
JSON log lines at INFO on stderr (what ``serve`` and ``--log-format json`` do) and every span
(milestones, batches) recorded and exported (console exporter writing to /dev/null, so the
serialisation is paid). Runs alternate off/on so drift hits both; the figure is the ratio of
median saga times (goal: on/off <= 1.05).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_wave  # noqa: E402

_SETUP = """
from core.logs import configure_logging
if os.environ.get("BENCH_OBSERVE") == "on":
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter
    from core.tracing import setup_tracing
    configure_logging(fmt="json", level="INFO")
    setup_tracing("bench", exporter=ConsoleSpanExporter(out=open(os.devnull, "w")))
else:
    configure_logging(fmt="json", level="ERROR")
start = time.perf_counter()
"""


def run(mode: str, policies: int, batch: int) -> float:
    os.environ["BENCH_OBSERVE"] = mode
    os.environ["DATA_MASH_METRICS"] = "on" if mode == "on" else "off"
    result = bench_wave.measure(policies, batch, crash=False)
    assert result["status"] == "completed", result
    return float(result["saga_s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policies", type=int, default=350_000)
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    bench_wave.CHILD = bench_wave.CHILD.replace("start = time.perf_counter()\n", _SETUP, 1)
    times: dict[str, list[float]] = {"off": [], "on": []}
    for _ in range(args.repeats):
        for mode in ("off", "on"):
            times[mode].append(run(mode, args.policies, args.batch_size))
    off, on = statistics.median(times["off"]), statistics.median(times["on"])
    print(
        json.dumps(
            {
                "policies": args.policies,
                "batch_size": args.batch_size,
                "saga_s": times,
                "median_off_s": off,
                "median_on_s": on,
                "ratio_on_off": round(on / off, 3),
            }
        )
    )


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
