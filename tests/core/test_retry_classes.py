"""Retry classes against a real flaky HTTP server on loopback: transient failures (5xx, 429,
refused connections) are retried with the server's Retry-After or backoff, permanent ones (4xx,
bad input) are tried once; both variants (blocking and async) and the embedding client use it."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import httpx
import numpy as np
import pytest

from core.errors import ConfigError, InputError
from core.metrics import ERRORS, RETRIES
from core.retry import ErrorClass, classify, retry_after, retry_call, retry_call_async
from knowledge.embeddings.openai_embedder import EmbeddingServiceError, OpenAIEmbedder
from knowledge.embeddings.spend import SpendLedger


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FlakyServer:
    """Answers each request with the next scripted status; 200s carry a real body."""

    script: list[Answer]
    url: str = ""
    paths: list[str] = field(default_factory=list)

    def handler(self) -> type[BaseHTTPRequestHandler]:
        flaky = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._answer({"ok": True})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
                texts = body.get("input") or []
                self._answer(
                    {
                        "object": "list",
                        "model": body.get("model"),
                        "data": [
                            {"object": "embedding", "index": i, "embedding": [len(t), 1.0, 0.0]}
                            for i, t in enumerate(texts)
                        ],
                        "usage": {"prompt_tokens": 3, "total_tokens": 3},
                    }
                )

            def _answer(self, ok_body: dict[str, Any]) -> None:
                flaky.paths.append(self.path)
                answer = flaky.script.pop(0) if flaky.script else Answer()
                body = json.dumps(
                    ok_body if answer.status == 200 else {"error": {"message": "flaky"}}
                ).encode()
                self.send_response(answer.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                for key, value in answer.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

        return Handler


@contextmanager
def flaky_server(*script: Answer) -> Iterator[FlakyServer]:
    flaky = FlakyServer(list(script))
    server = ThreadingHTTPServer(("127.0.0.1", 0), flaky.handler())
    flaky.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield flaky
    finally:
        server.shutdown()
        server.server_close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> Any:
    response = httpx.get(url, timeout=5)
    response.raise_for_status()
    return response.json()


def _value(counter: Any, *labels: str) -> float:
    return float(counter.labels(*labels)._value.get())


def test_transient_statuses_are_retried_until_the_server_answers() -> None:
    slept: list[float] = []
    retries = _value(RETRIES, "probe_5xx")
    with flaky_server(Answer(503), Answer(500), Answer(200)) as flaky:
        body = retry_call(
            "probe_5xx", lambda: _get(flaky.url + "/x"), initial_wait=0.1, sleep=slept.append
        )
    assert body == {"ok": True}
    assert len(flaky.paths) == 3
    assert _value(RETRIES, "probe_5xx") - retries == 2
    # Exponential backoff with jitter, bounded: 0.1 * 2**(n-1) plus up to 0.1.
    assert 0.1 <= slept[0] <= 0.2 and 0.2 <= slept[1] <= 0.3


def test_the_servers_retry_after_replaces_the_backoff_and_is_capped() -> None:
    slept: list[float] = []
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    with flaky_server(
        Answer(429, {"Retry-After": "2"}),
        Answer(429, {"retry-after-ms": "150"}),
        Answer(503, {"Retry-After": soon}),
        Answer(200),
    ) as flaky:
        retry_call(
            "probe_429",
            lambda: _get(flaky.url),
            attempts=5,
            max_hint=10.0,
            sleep=slept.append,
        )
    assert slept[:2] == [2.0, 0.15]
    assert slept[2] == 10.0  # an HTTP date 30 s away, capped at max_hint
    assert len(flaky.paths) == 4


def test_permanent_statuses_are_tried_once_and_counted_as_permanent() -> None:
    retries = _value(RETRIES, "probe_4xx")
    permanent = _value(ERRORS, "probe_4xx", "permanent")
    with flaky_server(Answer(400), Answer(200)) as flaky:
        with pytest.raises(httpx.HTTPStatusError) as caught:
            retry_call("probe_4xx", lambda: _get(flaky.url), sleep=lambda _s: None)
    assert classify(caught.value) is ErrorClass.PERMANENT
    assert len(flaky.paths) == 1
    assert _value(RETRIES, "probe_4xx") == retries
    assert _value(ERRORS, "probe_4xx", "permanent") == permanent + 1


def test_bad_input_is_never_retried() -> None:
    calls: list[int] = []

    def refuse() -> None:
        calls.append(1)
        raise InputError("premium column has text in it")

    with pytest.raises(InputError):
        retry_call("probe_input", refuse, sleep=lambda _s: None)
    assert calls == [1]


def test_a_refused_connection_is_transient_and_gives_up_after_the_attempts() -> None:
    transient = _value(ERRORS, "probe_refused", "transient")
    url = f"http://127.0.0.1:{_closed_port()}/"
    slept: list[float] = []
    with pytest.raises(httpx.ConnectError) as caught:
        retry_call("probe_refused", lambda: _get(url), attempts=3, sleep=slept.append)
    assert classify(caught.value) is ErrorClass.TRANSIENT
    assert len(slept) == 2  # three attempts, two waits
    assert _value(ERRORS, "probe_refused", "transient") == transient + 1


def test_retry_if_vetoes_a_retry() -> None:
    """A transient failure the caller must not repeat (a stream already half shown)."""
    with flaky_server(Answer(503), Answer(200)) as flaky:
        with pytest.raises(httpx.HTTPStatusError):
            retry_call(
                "probe_veto",
                lambda: _get(flaky.url),
                retry_if=lambda _e: False,
                sleep=lambda _s: None,
            )
    assert len(flaky.paths) == 1


def test_the_async_variant_retries_without_blocking_the_loop() -> None:
    ticks: list[int] = []

    async def main() -> Any:
        async with httpx.AsyncClient(timeout=5) as client:

            async def fetch() -> Any:
                response = await client.get(flaky.url)
                response.raise_for_status()
                return response.json()

            async def ticker() -> None:
                for _ in range(5):
                    ticks.append(1)
                    await anyio.sleep(0.01)

            async with anyio.create_task_group() as group:
                group.start_soon(ticker)
                result = await retry_call_async(
                    "probe_async", fetch, initial_wait=0.05, max_wait=0.1
                )
            return result

    retries = _value(RETRIES, "probe_async")
    with flaky_server(Answer(502), Answer(429, {"retry-after-ms": "20"}), Answer(200)) as flaky:
        assert anyio.run(main) == {"ok": True}
    assert len(flaky.paths) == 3
    assert _value(RETRIES, "probe_async") - retries == 2
    assert len(ticks) == 5  # the loop kept running while the retries waited


def test_retry_after_reads_the_header_forms() -> None:
    request = httpx.Request("GET", "http://127.0.0.1/")

    def failed(headers: dict[str, str]) -> httpx.HTTPStatusError:
        response = httpx.Response(429, headers=headers, request=request)
        return httpx.HTTPStatusError("429", request=request, response=response)

    assert retry_after(failed({"Retry-After": "7"})) == 7.0
    assert retry_after(failed({"retry-after-ms": "250", "Retry-After": "7"})) == 0.25
    assert retry_after(failed({"Retry-After": "not a date"})) is None
    assert retry_after(failed({})) is None
    assert retry_after(ValueError("no response")) is None


def _embedder(tmp_path: Path, url: str, **kwargs: Any) -> OpenAIEmbedder:
    return OpenAIEmbedder(
        api_key="sk-test",
        base_url=url + "/v1",
        model="text-embedding-3-small",
        ledger=SpendLedger(tmp_path / "spend.sqlite"),
        requests_per_minute=0,
        base_delay=0.01,
        **kwargs,
    )


def test_the_embedding_client_retries_a_flaky_endpoint(tmp_path: Path) -> None:
    retries = _value(RETRIES, "embedding_request")
    with flaky_server(Answer(429, {"retry-after-ms": "30"}), Answer(503), Answer(200)) as flaky:
        vectors = _embedder(tmp_path, flaky.url).embed(["premium", "policy number"])
    assert vectors.shape == (2, 3)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    assert flaky.paths == ["/v1/embeddings"] * 3
    assert _value(RETRIES, "embedding_request") - retries == 2


def test_the_embedding_client_names_the_class_when_it_gives_up(tmp_path: Path) -> None:
    with flaky_server(*[Answer(500)] * 5) as flaky:
        with pytest.raises(EmbeddingServiceError, match=r"after 3 tries: \(transient\)"):
            _embedder(tmp_path, flaky.url, max_retries=2).embed(["premium"])
    assert len(flaky.paths) == 3


def test_the_embedding_client_never_retries_a_refused_key(tmp_path: Path) -> None:
    permanent = _value(ERRORS, "embedding_request", "permanent")
    with flaky_server(Answer(401), Answer(200)) as flaky:
        with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
            _embedder(tmp_path, flaky.url).embed(["premium"])
    assert len(flaky.paths) == 1
    assert _value(ERRORS, "embedding_request", "permanent") == permanent + 1
