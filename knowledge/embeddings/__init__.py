"""Embeddings: deterministic structural vectors of columns and semantic vectors of text."""

from knowledge.embeddings.layout import (
    ColumnDrift,
    DriftReport,
    drift,
    layout_fingerprint,
    layout_similarity,
)
from knowledge.embeddings.semantic import (
    BudgetExceeded,
    CachedEmbedder,
    Embedder,
    LocalMiniLMEmbedder,
    OpenAIEmbedder,
    make_embedder,
)
from knowledge.embeddings.structural import DIMENSION, column_vector, structural_distance

__all__ = [
    "DIMENSION",
    "BudgetExceeded",
    "CachedEmbedder",
    "ColumnDrift",
    "DriftReport",
    "Embedder",
    "LocalMiniLMEmbedder",
    "OpenAIEmbedder",
    "column_vector",
    "drift",
    "layout_fingerprint",
    "layout_similarity",
    "make_embedder",
    "structural_distance",
]
