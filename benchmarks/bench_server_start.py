"""How long an MCP server takes to answer ``initialize`` after it is started, A/B between trees.

Run: ``.venv/bin/python benchmarks/bench_server_start.py [--runs 5] [--tree LABEL=PATH ...]``

For each server and each tree (a checkout of the repository, e.g. main and a branch), starts
``python -m cli.main serve NAME`` over stdio from that tree, as an IDE assistant does, opens a
real MCP client session and times spawn to the ``initialize`` answer (wall), with the CPU
seconds the server process had spent by then (psutil). Runs alternate between the trees so load
on a shared machine hits both alike; the figures are medians. Each run uses a fresh
DATA_MASH_HOME.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio
import psutil
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

ROOT = Path(__file__).resolve().parents[1]
SERVERS = ("content", "canonical", "routing", "waves", "governance", "sync")


def _server_cpu(known: set[int]) -> float:
    """CPU seconds so far of the one server process started since ``known`` was taken."""
    fresh = [p for p in psutil.Process().children() if p.pid not in known]
    assert len(fresh) == 1, f"expected one new server process, found {len(fresh)}"
    times = fresh[0].cpu_times()
    return times.user + times.system


async def one_start(tree: Path, name: str) -> tuple[float, float]:
    """(wall seconds from spawn to the initialize answer, CPU seconds the server spent by then)."""
    with tempfile.TemporaryDirectory(prefix="bench-start-") as home:
        env = {
            **os.environ,
            "PYTHONPATH": str(tree),
            "DATA_MASH_HOME": home,
            "HF_HUB_OFFLINE": "1",
        }
        params = StdioServerParameters(
            command=sys.executable, args=["-m", "cli.main", "serve", name], env=env, cwd=tree
        )
        known = {p.pid for p in psutil.Process().children()}
        started = time.perf_counter()
        with open(os.devnull, "w") as quiet:  # the server's JSON log lines on stderr
            async with stdio_client(params, errlog=quiet) as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    wall = time.perf_counter() - started
                    cpu = _server_cpu(known)
        return wall, cpu


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--tree", action="append", default=[], help="LABEL=PATH (default: this checkout)"
    )
    parser.add_argument("--server", action="append", default=[], choices=SERVERS)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    trees = dict(t.split("=", 1) for t in args.tree) or {"this": str(ROOT)}
    servers = args.server or list(SERVERS)
    figures: dict[str, dict[str, dict[str, float]]] = {}
    for name in servers:
        samples: dict[str, list[tuple[float, float]]] = {label: [] for label in trees}
        for _ in range(args.runs):
            for label, path in trees.items():
                samples[label].append(await one_start(Path(path).resolve(), name))
        figures[name] = {
            label: {
                "wall_s": round(statistics.median(w for w, _ in runs), 3),
                "cpu_s": round(statistics.median(c for _, c in runs), 3),
            }
            for label, runs in samples.items()
        }
        if not args.json:
            shown = "  ".join(
                f"{label}: {f['wall_s']:.2f} s wall, {f['cpu_s']:.2f} s CPU"
                for label, f in figures[name].items()
            )
            print(f"{name:<11} {shown}", flush=True)
    if args.json:
        print(json.dumps({"runs": args.runs, "load": os.getloadavg(), "servers": figures}))


if __name__ == "__main__":
    anyio.run(main)
