"""Memory of an HTTP MCP server under many sessions: three rounds of N sessions, RSS per round.

Run: ``.venv/bin/python benchmarks/bench_http_sessions.py [--sessions 1000] [--abandon]``

Starts ``data-mash serve content --http 127.0.0.1:PORT`` and opens N sessions per round
(initialize, list_tools). By default each client ends its session (DELETE); with ``--abandon``
clients just go away, as crashed ones do, and the server's cap (DATA_MASH_HTTP_MAX_SESSIONS) and
idle timeout must bound it. Goal (issue 13 item 12): RSS after round 3 within 1.2x of round 1.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio
import httpx
import psutil
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

ROOT = Path(__file__).resolve().parents[1]
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "bench", "version": "1"},
    },
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def round_of(url: str, sessions: int, abandon: bool) -> dict[str, int]:
    statuses: dict[str, int] = {}
    if abandon:
        headers = {"accept": "application/json, text/event-stream"}
        async with httpx.AsyncClient(timeout=30) as http:
            for _ in range(sessions):
                answer = await http.post(url, json=INITIALIZE, headers=headers)
                statuses[str(answer.status_code)] = statuses.get(str(answer.status_code), 0) + 1
        return statuses
    for _ in range(sessions):
        async with streamable_http_client(url) as (read, write, _):
            async with ClientSession(read, write) as session:
                await session.initialize()
                await session.list_tools()
        statuses["200"] = statuses.get("200", 0) + 1
    return statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--abandon", action="store_true")
    args = parser.parse_args()
    port = free_port()
    home = Path(tempfile.mkdtemp(prefix="bench-sessions-"))
    env = {**os.environ, "DATA_MASH_HOME": str(home), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "-q", "serve", "content", "--http", f"127.0.0.1:{port}"],
        env=env,
        cwd=ROOT,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/mcp"
        for _ in range(300):
            try:
                httpx.get(f"http://127.0.0.1:{port}/livez", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        server = psutil.Process(proc.pid)
        rounds = []
        for number in range(1, args.rounds + 1):
            started = time.perf_counter()
            statuses = anyio.run(round_of, url, args.sessions, args.abandon)
            rounds.append(
                {
                    "round": number,
                    "statuses": statuses,
                    "seconds": round(time.perf_counter() - started, 1),
                    "rss_mib": round(server.memory_info().rss / 2**20, 1),
                }
            )
            print(json.dumps(rounds[-1]), flush=True)
        print(
            json.dumps(
                {
                    "sessions_per_round": args.sessions,
                    "abandon": args.abandon,
                    "rss_ratio_last_first": round(rounds[-1]["rss_mib"] / rounds[0]["rss_mib"], 3),
                }
            )
        )
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
