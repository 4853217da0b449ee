"""The child process of :class:`knowledge.embeddings.worker.EmbeddingWorker`: embeds each
request with the in-process MiniLM until its stdin closes (protocol in that module).

Its own module so the client (imported by :mod:`knowledge.embeddings.semantic`) never imports
the model's module back.
"""

from __future__ import annotations

import json
import os
import sys
from typing import IO, Any

import numpy as np

from knowledge.embeddings.semantic import LocalMiniLMEmbedder
from knowledge.embeddings.worker import read_frame, write_frame


def serve(stdin: IO[bytes], stdout: IO[bytes], batch_size: int) -> None:
    """The child's loop: embed each request until stdin closes."""
    model = LocalMiniLMEmbedder(batch_size=batch_size)
    failure: str | None = None
    try:
        model.load()  # before the first request: a child started ahead loads while its caller works
    except Exception as error:  # noqa: BLE001 (reported to the caller at its first request)
        failure = f"{type(error).__name__}: {error}"
    while (request := read_frame(stdin)) is not None:
        reply: dict[str, Any]
        try:
            if failure is not None:
                raise RuntimeError(failure)
            vectors = model.embed(json.loads(request))
        except Exception as error:  # noqa: BLE001 (reported to the caller, which raises)
            message = failure or f"{type(error).__name__}: {error}"
            write_frame(stdout, json.dumps({"error": message}).encode())
        else:
            reply = {"rows": int(vectors.shape[0]), "dimension": int(vectors.shape[1])}
            write_frame(stdout, json.dumps(reply).encode())
            stdout.write(np.ascontiguousarray(vectors, dtype="<f4").tobytes())
        stdout.flush()


if __name__ == "__main__":
    # Replies go to a private copy of stdout; anything a library prints goes to stderr instead
    # of garbling the protocol.
    _channel = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    serve(sys.stdin.buffer, _channel, int(sys.argv[1]) if len(sys.argv) > 1 else 64)
