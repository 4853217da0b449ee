"""Overhead of metrics, logging and tracing on a wave: the same wave with them on and off.

Run: ``.venv/bin/python benchmarks/bench_observability.py [--policies 350000] [--repeats 2]``

Each measurement is bench_wave's whole saga (ingest, map, route, migrate, validate into
new_platform on SQLite) in a child process on a fresh workspace. "off": ``DATA_MASH_METRICS=off``,
logging at ERROR and no trace exporter (the defaults' floor); "on": Prometheus metrics counted,
JSON log lines at INFO on stderr (what ``serve`` and ``--log-format json`` do) and every span
(milestones, batches) recorded and exported (console exporter writing to /dev/null, so the
serialisation is paid). Runs alternate off/on so drift hits both; the figure is the ratio of
median saga times (goal: on/off <= 1.05).

On a shared machine the saga times of two identical runs can differ by more than the overhead,
so the script also measures the instrumentation of one batch by itself (the span, the metric
observation and the log line a committed batch costs, on and off, in child processes, many
times) and reports that cost over all batches of the wave as a share of its saga time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
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


_MICRO = r"""
import os, sys, time
sys.path.insert(0, {root!r})
from core.logs import configure_logging, get_logger
from core.metrics import observe_batch
from core.tracing import setup_tracing, span
on = os.environ["DATA_MASH_METRICS"] == "on"
configure_logging(fmt="json", level="INFO" if on else "ERROR")
if on:
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter
    setup_tracing("bench", exporter=ConsoleSpanExporter(out=open(os.devnull, "w")))
log = get_logger("tools.waves.saga")
n = {n}
start = time.perf_counter()
for batch_no in range(n):
    with span("wave.batch", wave_id="w-1", milestone="migrate", batch_no=batch_no):
        pass
    observe_batch("migrate", 10_000, 0.5)
    log.info("wave_batch_committed", wave_id="w-1", milestone="migrate", batch_no=batch_no,
             rows=10_000, seconds=0.5)
print((time.perf_counter() - start) / n)
"""


def per_batch_seconds(mode: str, iterations: int = 5000) -> float:
    """Seconds the instrumentation of one committed batch costs (stderr to /dev/null)."""
    script = _MICRO.format(root=str(bench_wave.ROOT), n=iterations)
    env = {**os.environ, "DATA_MASH_METRICS": mode}
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        check=True,
    )
    return float(done.stdout.strip())


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
    micro = {mode: per_batch_seconds(mode) for mode in ("off", "on")}
    # Every milestone (ingest, map, route, migrate, validate) commits its batches.
    batches = 5 * -(-args.policies // args.batch_size)
    print(
        json.dumps(
            {
                "policies": args.policies,
                "batch_size": args.batch_size,
                "saga_s": times,
                "median_off_s": off,
                "median_on_s": on,
                "ratio_on_off": round(on / off, 3),
                "per_batch_us": {k: round(v * 1e6, 1) for k, v in micro.items()},
                "batches": batches,
                "instrumentation_share_of_saga": round(
                    (micro["on"] - micro["off"]) * batches / on, 6
                ),
            }
        )
    )


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
