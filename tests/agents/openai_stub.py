"""A small OpenAI-compatible HTTP server on 127.0.0.1 for LLM tests: it answers
/v1/chat/completions from a script of responses (streamed chunks, tool calls, error statuses,
429 with retry-after) and records every request it got."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted response: an HTTP error, or a streamed assistant turn."""

    status: int = 200
    text: str = ""
    tool_call: tuple[str, dict[str, Any]] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    usage: tuple[int, int] = (100, 20)


def _chunk(
    delta: dict[str, Any] | None, finish: str | None = None, usage: tuple[int, int] | None = None
) -> bytes:
    body: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "stub-model",
    }
    if usage is not None:
        body.update(
            choices=[],
            usage={
                "prompt_tokens": usage[0],
                "completion_tokens": usage[1],
                "total_tokens": sum(usage),
            },
        )
    else:
        body["choices"] = [{"index": 0, "delta": delta, "finish_reason": finish}]
    return f"data: {json.dumps(body)}\n\n".encode()


def _stream(reply: Reply) -> Iterator[bytes]:
    yield _chunk({"role": "assistant", "content": ""})
    if reply.tool_call:
        name, args = reply.tool_call
        yield _chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": name, "arguments": ""},
                    }
                ]
            }
        )
        yield _chunk({"tool_calls": [{"index": 0, "function": {"arguments": json.dumps(args)}}]})
        yield _chunk({}, "tool_calls")
    else:
        for word in reply.text.split(" "):
            yield _chunk({"content": word + " "})
        yield _chunk({}, "stop")
    yield _chunk(None, usage=reply.usage)
    yield b"data: [DONE]\n\n"


class StubOpenAI:
    def __init__(self, replies: list[Reply]) -> None:
        self.replies = replies
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []

    def handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._send(200, {"data": [{"id": "stub-model", "object": "model"}]})

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                stub.requests.append(json.loads(self.rfile.read(length)))
                stub.headers.append(dict(self.headers))
                reply = stub.replies.pop(0) if stub.replies else Reply(status=500)
                if reply.status != 200:
                    self._send(
                        reply.status,
                        {"error": {"message": f"stub error {reply.status}", "type": "stub"}},
                        reply.headers,
                    )
                    return
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.end_headers()
                for part in _stream(reply):
                    self.wfile.write(part)
                    self.wfile.flush()

            def _send(
                self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
            ) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler


@contextmanager
def serve_stub(replies: list[Reply]) -> Iterator[tuple[StubOpenAI, str]]:
    """Run the stub on a free loopback port; yield it and its base URL (…/v1)."""
    stub = StubOpenAI(replies)
    server = ThreadingHTTPServer(("127.0.0.1", 0), stub.handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stub, f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
