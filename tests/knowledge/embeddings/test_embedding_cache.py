"""The on-disk embedding cache: re-embedding the same texts does not call the model again."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.errors import ConfigError
from knowledge.embeddings.cache import CACHE_FILE, CachedEmbedder


class CountingEmbedder:
    """A fake model: deterministic vectors from the text, counting every text it embeds."""

    def __init__(self, name: str = "fake-model", dimension: int = 8) -> None:
        self.name = name
        self.dimension = dimension
        self.calls: list[list[str]] = []

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        rows = [
            [(len(t) + i * ord(t[0] if t else "x")) % 97 for i in range(self.dimension)]
            for t in texts
        ]
        vectors = np.asarray(rows, dtype=np.float32) + 1.0
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_second_call_is_served_from_disk(tmp_path: Path) -> None:
    model = CountingEmbedder()
    cached = CachedEmbedder(model, tmp_path)
    texts = ["PREM_AMT premium amount", "INSD_NM insured name"]
    first = cached.embed(texts)
    second = cached.embed(texts)
    assert len(model.calls) == 1
    assert np.array_equal(first, second)
    assert (cached.hits, cached.misses) == (2, 2)
    assert (tmp_path / CACHE_FILE).is_file()


def test_cache_survives_a_new_process_and_embeds_only_misses(tmp_path: Path) -> None:
    CachedEmbedder(CountingEmbedder(), tmp_path).embed(["a", "b"])
    model = CountingEmbedder()
    result = CachedEmbedder(model, tmp_path).embed(["b", "c", "c", "a"])
    assert model.calls == [["c"]]  # duplicates within a call are embedded once
    assert result.shape == (4, 8) and result.dtype == np.float32
    assert np.array_equal(result[1], result[2])


def test_models_do_not_share_vectors(tmp_path: Path) -> None:
    CachedEmbedder(CountingEmbedder("model-a"), tmp_path).embed(["premium"])
    other = CountingEmbedder("model-b")
    CachedEmbedder(other, tmp_path).embed(["premium"])
    assert other.calls == [["premium"]]


def test_empty_input(tmp_path: Path) -> None:
    model = CountingEmbedder()
    assert CachedEmbedder(model, tmp_path).embed([]).shape == (0, 8)
    assert model.calls == []


def test_damaged_cache_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / CACHE_FILE).write_bytes(b"this is not a sqlite database at all" * 100)
    with pytest.raises(ConfigError, match="embedding cache"):
        CachedEmbedder(CountingEmbedder(), tmp_path)
