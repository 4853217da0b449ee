"""The local MiniLM model in a child process, so torch never loads into the caller.

torch, transformers and sentence-transformers hold about 500 MiB of resident memory in the
process that imports them, and none of it is returned when the model is dropped (shared
libraries stay mapped). A CLI run embeds only while it ingests and maps (one text per column,
never per record), then assembles, routes and migrates for minutes: with the model in its own
process, that memory is handed back the moment the embedding work is over
(:meth:`EmbeddingWorker.close`), and the rest of the run never carries it.

Protocol, over the child's stdin and stdout: a request is a 4-byte little-endian length and the
JSON list of texts; a reply is a 4-byte length and a JSON header (``{"rows", "dimension"}`` or
``{"error"}``), then ``rows * dimension`` little-endian float32 values. The child ends when its
stdin closes (the caller closed it, or died).

The child runs :mod:`knowledge.embeddings.worker_process` (the caller starts it; nothing else
should).
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import IO, Final

import numpy as np

from core.errors import ConfigError

_LENGTH: Final = struct.Struct("<I")
#: The folder holding ``knowledge/``: the child imports this checkout, not another install.
_SOURCE_ROOT: Final = Path(__file__).resolve().parents[2]


def read_frame(stream: IO[bytes]) -> bytes | None:
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    (size,) = _LENGTH.unpack(head)
    body = stream.read(size)
    if len(body) < size:
        return None
    return body


def write_frame(stream: IO[bytes], body: bytes) -> None:
    stream.write(_LENGTH.pack(len(body)))
    stream.write(body)


class EmbeddingWorker:
    """A child process running :class:`~knowledge.embeddings.semantic.LocalMiniLMEmbedder`.

    Started on the first :meth:`embed`; :meth:`close` ends it (the next :meth:`embed` starts a
    new one). Calls are serialised: one request in flight at a time.
    """

    def __init__(self, *, batch_size: int = 64) -> None:
        self._batch_size = batch_size
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def embed(self, texts: list[str], dimension: int) -> np.ndarray:
        """Vectors of ``texts`` from the child, shape ``(len(texts), dimension)``.

        Raises:
            ConfigError: The child could not start, failed, or died (its last error output is
                quoted). The next call starts a fresh child.
        """
        with self._lock:
            process = self._started()
            assert process.stdin is not None and process.stdout is not None
            try:
                write_frame(process.stdin, json.dumps(list(texts)).encode())
                process.stdin.flush()
                header = read_frame(process.stdout)
                if header is None:
                    raise BrokenPipeError("no reply")
                reply = json.loads(header)
                if "error" in reply:
                    raise ConfigError(
                        f"the embedding worker failed: {reply['error']}",
                        where="local MiniLM worker",
                        fix="run `data-mash doctor`; set DATA_MASH_EMBEDDING_PROVIDER=none to "
                        "map without semantic embeddings",
                    )
                size = int(reply["rows"]) * int(reply["dimension"]) * 4
                payload = process.stdout.read(size)
                if len(payload) < size:
                    raise BrokenPipeError("short reply")
            except (BrokenPipeError, OSError) as error:
                detail = self._stop()
                raise ConfigError(
                    f"the embedding worker exited ({error}): {detail or 'no error output'}",
                    where="local MiniLM worker",
                    fix="run `data-mash doctor`; set DATA_MASH_EMBEDDING_PROVIDER=none to map "
                    "without semantic embeddings",
                ) from error
            vectors = np.frombuffer(payload, dtype="<f4").reshape(int(reply["rows"]), dimension)
            return np.array(vectors, dtype=np.float32)

    def start(self) -> None:
        """Start the child now, without waiting: it loads the model while the caller works
        (an ingest decodes its file), so the first :meth:`embed` finds it ready."""
        with self._lock:
            self._started()

    def close(self) -> None:
        """End the child (its memory goes back to the system); a no-op when none runs."""
        with self._lock:
            self._stop()

    def _started(self) -> subprocess.Popen[bytes]:
        if self._process is not None and self._process.poll() is None:
            return self._process
        self._stop()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(_SOURCE_ROOT), *filter(None, [env.get("PYTHONPATH")])]
        )
        env["HF_HUB_OFFLINE"] = env["TRANSFORMERS_OFFLINE"] = "1"
        # One torch thread unless the caller says otherwise: requests are a few dozen column
        # texts, and on a busy 2-core machine OpenMP's spinning threads made a request of 12
        # texts take 1.6-2.6 s instead of 0.2 s (the vectors are bit-identical either way).
        env.setdefault("OMP_NUM_THREADS", "1")
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed in _stop)
        self._process = subprocess.Popen(  # noqa: S603 (this interpreter, a fixed module)
            [sys.executable, "-m", "knowledge.embeddings.worker_process", str(self._batch_size)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
            cwd=str(_SOURCE_ROOT),
        )
        return self._process

    def _stop(self) -> str:
        """Stop the child; return the tail of its error output."""
        process, self._process = self._process, None
        detail = ""
        if process is not None:
            if process.stdin is not None:
                try:
                    process.stdin.close()
                except OSError:
                    pass
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()
        if self._stderr is not None:
            self._stderr.seek(0)
            detail = self._stderr.read().decode(errors="replace").strip()[-500:]
            self._stderr.close()
            self._stderr = None
        return detail

    def __del__(self) -> None:
        try:
            self._stop()
        except Exception:  # noqa: BLE001, S110 (interpreter shutdown: nothing left to tell)
            pass
