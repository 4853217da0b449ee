"""On-disk embedding cache, so re-ingesting a source does not re-embed its column documents.

Keyed by ``sha256(model name + "\\x1f" + text)``; vectors are stored as float32 bytes in a SQLite
file. Any embedder can be wrapped; the wrapper is itself an embedder.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Final

import numpy as np

from core.errors import ConfigError

if TYPE_CHECKING:
    from knowledge.embeddings.protocol import Embedder

CACHE_FILE: Final = "embedding-cache.sqlite"
_LOOKUP_CHUNK: Final = 500  # stays under SQLite's bound-parameter limit

_SCHEMA = """
CREATE TABLE IF NOT EXISTS embedding (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    dimension INTEGER NOT NULL,
    vector BLOB NOT NULL
)
"""


def cache_key(model: str, text: str) -> str:
    """The cache key of one text under one model."""
    return hashlib.sha256(f"{model}\x1f{text}".encode()).hexdigest()


class CachedEmbedder:
    """An embedder that looks every text up on disk first and embeds only the misses."""

    def __init__(self, inner: Embedder, cache_dir: Path) -> None:
        """Wrap ``inner``; the cache file is ``cache_dir / embedding-cache.sqlite``.

        Raises:
            ConfigError: The cache folder cannot be created or the file is not a SQLite database.
        """
        self.inner = inner
        self.path = Path(cache_dir) / CACHE_FILE
        self.hits = 0
        self.misses = 0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connection() as connection:
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute(_SCHEMA)
        except (OSError, sqlite3.DatabaseError) as error:
            raise ConfigError(
                f"cannot open the embedding cache: {error}",
                where=str(self.path),
                fix="check the workspace folder is writable, or delete the damaged cache file",
            ) from error

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def prepare(self) -> None:
        """Let the wrapped model start loading ahead of use, when it can."""
        prepare = getattr(self.inner, "prepare", None)
        if prepare is not None:
            prepare()

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed ``texts``, calling the wrapped model once for all distinct uncached texts."""
        keys = [cache_key(self.inner.name, text) for text in texts]
        found = self._lookup(set(keys))
        missing: dict[str, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key not in found and key not in missing:
                missing[key] = text
        hit_count = sum(1 for key in keys if key in found)
        self.hits += hit_count
        self.misses += len(keys) - hit_count
        if missing:
            fresh = np.asarray(self.inner.embed(list(missing.values())), dtype=np.float32)
            new_rows = dict(zip(missing, fresh, strict=True))
            self._store(new_rows)
            found.update(new_rows)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([found[key] for key in keys]).astype(np.float32, copy=False)

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=30)) as connection, connection:
            yield connection

    def _lookup(self, keys: set[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        ordered = sorted(keys)
        with self._connection() as connection:
            for start in range(0, len(ordered), _LOOKUP_CHUNK):
                chunk = ordered[start : start + _LOOKUP_CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = connection.execute(
                    f"SELECT key, vector FROM embedding WHERE key IN ({marks})",  # noqa: S608
                    chunk,
                )
                for key, blob in rows:
                    found[key] = np.frombuffer(blob, dtype="<f4")
        return found

    def _store(self, rows: dict[str, np.ndarray]) -> None:
        with self._connection() as connection:
            connection.executemany(
                "INSERT OR REPLACE INTO embedding (key, model, dimension, vector) "
                "VALUES (?, ?, ?, ?)",
                [
                    (key, self.inner.name, int(vector.size), vector.astype("<f4").tobytes())
                    for key, vector in rows.items()
                ],
            )
