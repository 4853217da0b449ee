"""The console's REST API under load on loopback: locate, wave status, one audit page.

50 concurrent clients for a bounded time per endpoint against `data-mash serve api` running as
its own process on a migrated workspace (DATA_MASH_HOME, e.g. after `data-mash demo --policies
350000`), with a viewer token as a real client sends it. The load comes from `wrk` (Debian's
`wrk` package) when it is installed, else from a bounded asyncio loop in a separate process.
Baseline in the same run: the same query through the CLI (`data-mash locate ID --json`, ...),
one process per query, which is what a script without the API pays.

Beside requests/s and latency it reports the server's CPU time per request (steadier than
wall time on a shared machine), the load average, and every socket error or non-2xx answer;
the server's log is kept, so a reset has a cause to read. Before the server starts, each
endpoint is also timed through the app in this process, without HTTP (CPU per request, best of
five rounds): the steadiest figure to compare two versions of the handlers on a busy machine.

    DATA_MASH_HOME=... python benchmarks/bench_console.py [--clients 50] [--seconds 10]
        [--workers N] [--in-process-calls 200] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

CLI = str(Path(sys.executable).with_name("data-mash"))
# wrk prints latencies as 1.23ms, 812.00us, 1.10s, 2.00m.
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _workspace() -> tuple[str, str, str, str]:
    """A migrated policy, a wave, and a fresh viewer token (its id and secret) of the workspace."""
    from sqlalchemy import select  # noqa: PLC0415  (heavy; only the parent process needs it)

    from core.settings import Settings  # noqa: PLC0415
    from core.store import open_store  # noqa: PLC0415
    from core.store.models import PolicyLocation, table_of  # noqa: PLC0415
    from tools.access import TokenStore  # noqa: PLC0415
    from tools.waves import WaveContext  # noqa: PLC0415
    from tools.waves.listing import list_waves  # noqa: PLC0415

    settings = Settings()
    engine = open_store(settings)
    waves = list_waves(WaveContext.default(engine, settings, settings.tenant))
    location = table_of(PolicyLocation)
    with engine.connect() as conn:
        policy = conn.execute(
            select(location.c.policy_id)
            .where(location.c.tenant == settings.tenant, location.c.wave.is_not(None))
            .limit(1)
        ).scalar_one()
    token = TokenStore(engine).create(settings.tenant, "viewer", label="bench_console")
    engine.dispose()
    return str(policy), waves[0].wave_id, token.token_id, token.token


def _revoke(token_id: str) -> None:
    from core.settings import Settings  # noqa: PLC0415
    from core.store import open_store  # noqa: PLC0415
    from tools.access import TokenStore  # noqa: PLC0415

    engine = open_store(Settings())
    TokenStore(engine).revoke(token_id)
    engine.dispose()


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([0-9.]+)([a-z]+)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNIT_MS[unit]


def _wrk(url: str, token: str, clients: int, seconds: int) -> dict[str, Any]:
    """One wrk run; latency percentiles from its --latency table, errors as wrk counts them."""
    out = subprocess.run(
        [
            "wrk",
            f"-t{min(2, clients)}",
            f"-c{clients}",
            f"-d{seconds}s",
            "--timeout",
            "30s",
            "--latency",
            "-H",
            f"Authorization: Bearer {token}",
            url,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    percentiles = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)\s*$", out, re.M))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    done = re.search(r"(\d+) requests in", out)
    return {
        "requests": int(done.group(1)) if done else 0,
        "requests_per_s": float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": _ms(percentiles["50"]),
        "p99_ms": _ms(percentiles["99"]),
        "socket_errors": dict(
            zip(("connect", "read", "write", "timeout"), map(int, errors.groups()), strict=True)
        )
        if errors
        else {},
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
    }


async def _python_load(url: str, token: str, clients: int, seconds: float) -> dict[str, Any]:
    """The fallback generator: ``clients`` keep-alive connections, each looping until the time
    is up (bounded), counting failures by kind instead of stopping at the first."""
    latencies: list[float] = []
    failures: dict[str, int] = {}
    non_2xx = 0
    deadline = time.perf_counter() + seconds
    headers = {"authorization": f"Bearer {token}"}

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal non_2xx
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                response = await http.get(url, headers=headers)
            except httpx.TransportError as exc:
                failures[type(exc).__name__] = failures.get(type(exc).__name__, 0) + 1
                continue
            latencies.append((time.perf_counter() - started) * 1000)
            non_2xx += not 200 <= response.status_code < 400

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "requests_per_s": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) if latencies else None,
        "p99_ms": latencies[int(0.99 * (len(latencies) - 1))] if latencies else None,
        "socket_errors": failures,
        "non_2xx": non_2xx,
    }


def _load(url: str, token: str, clients: int, seconds: int) -> dict[str, Any]:
    if shutil.which("wrk"):
        return {"generator": "wrk", **_wrk(url, token, clients, seconds)}
    # A separate process, so the generator and this script's bookkeeping share no GIL.
    out = subprocess.run(
        [sys.executable, __file__, "--generate", url, "--clients", str(clients)]
        + ["--seconds", str(seconds)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "BENCH_CONSOLE_TOKEN": token},
    ).stdout
    return {"generator": "python", **json.loads(out)}


def _cpu_seconds(process: psutil.Process) -> float:
    """CPU time of the server: the process and its workers (``serve api --workers N``)."""
    total = 0.0
    for each in [process, *process.children(recursive=True)]:
        try:
            times = each.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def _in_process_cpu_ms(paths: dict[str, str], token: str, calls: int) -> dict[str, float]:
    """Server CPU per request without HTTP: each path through the app's ASGI callable, in this
    process, ``calls`` times, best of five rounds. Steadier than the HTTP legs on a shared
    machine (no load generator, no scheduler between client and server), so before/after
    comparisons of the handlers read from it."""
    from api.auth import StoreTokens  # noqa: PLC0415
    from api.main import create_app  # noqa: PLC0415
    from core.settings import Settings  # noqa: PLC0415
    from core.store import open_store  # noqa: PLC0415
    from tools.access import TokenStore  # noqa: PLC0415

    settings = Settings()
    engine = open_store(settings)
    app = create_app(settings, verifier=StoreTokens(TokenStore(engine)))
    headers = [(b"authorization", f"Bearer {token}".encode()), (b"host", b"127.0.0.1")]

    async def call(target: str) -> int:
        path, _, query = target.partition("?")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
        }
        status = 0

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await app(scope, receive, send)
        return status

    async def measure() -> dict[str, float]:
        best: dict[str, float] = {}
        for name, target in paths.items():
            if await call(target) != 200:
                sys.exit(f"{name}: {target} did not answer 200 in process")
            rounds = []
            for _ in range(5):
                started = time.process_time()
                for _ in range(calls):
                    await call(target)
                rounds.append(1000 * (time.process_time() - started) / calls)
            best[name] = min(rounds)
        return best

    try:
        return asyncio.run(measure())
    finally:
        engine.dispose()


def _cli_seconds(args: list[str], runs: int) -> float:
    start = time.perf_counter()
    for _ in range(runs):
        subprocess.run([CLI, *args, "--json"], check=True, capture_output=True)
    return (time.perf_counter() - start) / runs


def _wait_until_up(base: str, server: subprocess.Popen[bytes], log: Path) -> None:
    for _ in range(600):
        if server.poll() is not None:
            sys.exit(f"the server exited with {server.returncode}:\n{log.read_text()[-2000:]}")
        try:
            httpx.get(base + "/livez", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    sys.exit("the server did not answer /livez within 60 s")


def run(opts: argparse.Namespace) -> dict[str, Any]:
    policy, wave, token_id, token = _workspace()
    port = _free_port()
    log = Path(opts.server_log or tempfile.mkstemp(prefix="bench_console_", suffix=".log")[1])
    with log.open("wb") as sink:
        server = subprocess.Popen(
            [CLI, "serve", "api", "--port", str(port), "--workers", str(opts.workers)],
            stdout=sink,
            stderr=sink,
        )
    base = f"http://127.0.0.1:{port}"
    cases = {
        "locate": (f"/api/v1/policies/{policy}", ["locate", policy]),
        "wave_status": (f"/api/v1/waves/{wave}", ["wave", "status", wave]),
        "audit_page": ("/api/v1/audit?limit=50", ["replay", "--limit", "50"]),
    }
    results: dict[str, Any] = {
        "clients": opts.clients,
        "workers": opts.workers,
        "seconds": opts.seconds,
        "load_average_before": os.getloadavg()[0],
        "server_log": str(log),
    }
    try:
        if opts.in_process_calls:
            in_process = _in_process_cpu_ms(
                {name: path for name, (path, _) in cases.items()}, token, opts.in_process_calls
            )
        _wait_until_up(base, server, log)
        measured = psutil.Process(server.pid)  # with its worker processes
        for name, (path, cli_args) in cases.items():
            answer = httpx.get(base + path, headers={"authorization": f"Bearer {token}"})
            answer.raise_for_status()  # warm, and the right answer before timing it
            cpu_before = _cpu_seconds(measured)
            api = _load(base + path, token, opts.clients, opts.seconds)
            cpu = _cpu_seconds(measured) - cpu_before
            api["server_cpu_ms_per_request"] = 1000 * cpu / max(api["requests"], 1)
            api["response_bytes"] = len(answer.content)
            api["server_alive"] = server.poll() is None
            cli_s = _cli_seconds(cli_args, opts.cli_runs)
            if opts.in_process_calls:
                api["in_process_cpu_ms_per_request"] = in_process[name]
            api["cli_requests_per_s"] = 1 / cli_s
            api["speedup_vs_cli"] = api["requests_per_s"] / api["cli_requests_per_s"]
            results[name] = api
    finally:
        server.terminate()
        server.wait(10)
        _revoke(token_id)
    results["load_average_after"] = os.getloadavg()[0]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=10, help="Load time per endpoint.")
    parser.add_argument("--cli-runs", type=int, default=3)
    parser.add_argument(
        "--workers", type=int, default=1, help="Server processes (serve api --workers)."
    )
    parser.add_argument(
        "--server-log", help="Keep the server's stderr here (default: a temp file)."
    )
    parser.add_argument(
        "--in-process-calls",
        type=int,
        default=200,
        help="Also time each endpoint in this process, without HTTP (0: skip).",
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--generate", metavar="URL", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.generate:  # the fallback load generator's own process
        token = os.environ["BENCH_CONSOLE_TOKEN"]
        print(
            json.dumps(asyncio.run(_python_load(opts.generate, token, opts.clients, opts.seconds)))
        )
        return
    results = run(opts)
    if opts.json:
        print(json.dumps(results, indent=1))
        return
    print(
        f"{opts.clients} clients, {opts.workers} worker(s), {opts.seconds} s per endpoint, "
        "load average "
        f"{results['load_average_before']:.1f} -> {results['load_average_after']:.1f}"
    )
    for name in ("locate", "wave_status", "audit_page"):
        r = results[name]
        in_process = r.get("in_process_cpu_ms_per_request")
        print(
            f"{name:12s} {r['requests_per_s']:7.0f} req/s  p50 {r['p50_ms']:7.1f} ms  "
            f"p99 {r['p99_ms']:7.1f} ms  server CPU {r['server_cpu_ms_per_request']:.2f} ms/req  "
            + (f"(in process {in_process:.2f})  " if in_process is not None else "")
            + f"errors {r['socket_errors']} non-2xx {r['non_2xx']}   "
            f"CLI {r['cli_requests_per_s']:5.2f} req/s  x{r['speedup_vs_cli']:.0f}"
        )
    print(f"server log: {results['server_log']}")


if __name__ == "__main__":
    main()
