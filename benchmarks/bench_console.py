"""The console's REST API under load on loopback: locate, wave status, one audit page.

50 concurrent clients (bounded: --requests per endpoint) against `data-mash serve api` running
as its own process on a migrated workspace (DATA_MASH_HOME, e.g. after `data-mash demo`).
Baseline in the same run: the same query through the CLI (`data-mash locate ID --json`, ...),
one process per query, which is what a script without the API pays.

    DATA_MASH_HOME=... python benchmarks/bench_console.py [--clients 50] [--requests 2000] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from core.settings import Settings
from core.store import open_store
from tools.waves import WaveContext
from tools.waves.listing import list_waves

CLI = str(Path(sys.executable).with_name("data-mash"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _targets(settings: Settings) -> tuple[str, str]:
    """A located policy and a wave of the workspace."""
    from sqlalchemy import select

    from core.store.models import PolicyLocation, table_of

    engine = open_store(settings)
    waves = list_waves(WaveContext.default(engine, settings, settings.tenant))
    location = table_of(PolicyLocation)
    with engine.connect() as conn:
        policy = conn.execute(
            select(location.c.policy_id).where(location.c.tenant == settings.tenant).limit(1)
        ).scalar_one()
    engine.dispose()
    return str(policy), waves[0].wave_id


async def _load(url: str, clients: int, requests: int) -> dict[str, float]:
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(requests):
        queue.put_nowait(n)

    async def client(http: httpx.AsyncClient) -> None:
        while True:
            try:
                queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            t0 = time.perf_counter()
            response = await http.get(url)
            latencies.append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 200, response.text[:200]

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:
        await http.get(url)  # warm caches
        start = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "requests_per_s": requests / elapsed,
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[int(0.99 * (len(latencies) - 1))],
    }


def _cli_seconds(args: list[str], runs: int) -> float:
    start = time.perf_counter()
    for _ in range(runs):
        subprocess.run([CLI, *args, "--json"], check=True, capture_output=True)
    return (time.perf_counter() - start) / runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--cli-runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    opts = parser.parse_args()
    settings = Settings()
    policy, wave = _targets(settings)
    port = _free_port()
    server = subprocess.Popen(
        [CLI, "serve", "api", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=os.environ.copy(),
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                httpx.get(base + "/openapi.json", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        cases = {
            "locate": (f"/api/v1/policies/{policy}", ["locate", policy]),
            "wave_status": (f"/api/v1/waves/{wave}", ["wave", "status", wave]),
            "audit_page": ("/api/v1/audit?limit=50", ["replay", "--limit", "50"]),
        }
        results = {}
        for name, (path, cli_args) in cases.items():
            api = asyncio.run(_load(base + path, opts.clients, opts.requests))
            cli_s = _cli_seconds(cli_args, opts.cli_runs)
            api["cli_requests_per_s"] = 1 / cli_s
            api["speedup_vs_cli"] = api["requests_per_s"] / api["cli_requests_per_s"]
            results[name] = api
    finally:
        server.terminate()
        server.wait(10)
    if opts.json:
        print(json.dumps(results, indent=1))
        return
    for name, r in results.items():
        print(
            f"{name:12s} {r['requests_per_s']:8.0f} req/s  p50 {r['p50_ms']:6.1f} ms  "
            f"p99 {r['p99_ms']:6.1f} ms   CLI {r['cli_requests_per_s']:5.2f} req/s  "
            f"x{r['speedup_vs_cli']:.0f}"
        )


if __name__ == "__main__":
    main()
