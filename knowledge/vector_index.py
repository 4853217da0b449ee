"""Vector index of column documents and knowledge entries (chromadb, persistent, our embeddings).

One chromadb collection per tenant, kind (``columns``, ``knowledge``) and embedding model, named
``dm-<tenant>-<kind>-<model>``: switching models starts a fresh collection instead of mixing
vector sizes. Vectors are always computed by our :class:`~knowledge.embeddings.semantic.Embedder`
and passed to chromadb precomputed; the collection's embedding function is an adapter over the
same embedder, so chromadb never falls back to its own downloading default model.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import chromadb
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.config import Settings as ChromaSettings
from chromadb.utils.embedding_functions import register_embedding_function

from core.errors import ConfigError, InputError
from core.ids import check_tenant
from knowledge.embeddings.semantic import Embedder

MetadataValue = str | int | float | bool
Kind = Literal["columns", "knowledge"]
KINDS: Final = ("columns", "knowledge")
MAX_SAMPLES_IN_TEXT: Final = 5
MAX_SAMPLE_CHARS: Final = 40
MAX_TEXT_CHARS: Final = 600  # MiniLM reads 256 word pieces; the rest would be cut anyway


@dataclass(frozen=True)
class ColumnDocument:
    """One source column as indexed: ``text`` is what gets embedded (see column_document_text)."""

    id: str
    source_id: str
    column: str
    text: str
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ColumnHit:
    """A column found by :meth:`VectorIndex.search_columns`; ``score`` is cosine similarity."""

    id: str
    source_id: str
    column: str
    text: str
    distance: float
    score: float
    metadata: dict[str, MetadataValue]


@dataclass(frozen=True)
class KnowledgeEntry:
    """A glossary term, code-table entry or canonical field description to search by meaning."""

    id: str
    text: str
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class KnowledgeHit:
    """A knowledge entry found by :meth:`VectorIndex.search_knowledge`."""

    id: str
    text: str
    distance: float
    score: float
    metadata: dict[str, MetadataValue]


@register_embedding_function
class EmbedderFunction(EmbeddingFunction[Documents]):
    """chromadb adapter over our Embedder.

    chromadb persists ``get_config()`` with each collection and rebuilds the function from it when a
    collection is reopened; a rebuilt adapter has no model and refuses to embed, because the index
    always passes its own embedder (and precomputed vectors) explicitly.
    """

    def __init__(self, embedder: Embedder | None = None, *, model: str = "") -> None:
        self._embedder = embedder
        self._model = embedder.name if embedder is not None else model

    def __call__(self, input: Documents) -> Embeddings:  # noqa: A002 - chromadb's parameter name
        if self._embedder is None:
            raise ConfigError(
                f"no embedder attached for model {self._model!r}",
                where="vector index",
                fix="open the index through knowledge.vector_index.VectorIndex",
            )
        return list(self._embedder.embed(list(input)))

    @staticmethod
    def name() -> str:
        return "data_mash_embedder"

    def get_config(self) -> dict[str, Any]:
        return {"model": self._model}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> EmbedderFunction:
        return EmbedderFunction(None, model=str(config.get("model", "")))

    def default_space(self) -> Literal["cosine"]:
        return "cosine"

    def supported_spaces(self) -> list[Literal["cosine", "l2", "ip"]]:
        return ["cosine", "l2", "ip"]


def split_identifier(name: str) -> str:
    """Words of a column name: ``WrittenPremium`` -> ``written premium``, ``A_B`` -> ``a b``."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", name)
    return " ".join(re.split(r"[\s_.\-/:\[\]]+", spaced)).strip().lower()


def column_document_text(
    name: str,
    expanded_name: str | None = None,
    profile_summary: str | None = None,
    samples: Sequence[object] = (),
) -> str:
    """The text embedded for one column.

    Args:
        name: The column's name as in the source (``PREM_AMT``).
        expanded_name: Its meaning from the glossary (``premium amount``), when known.
        profile_summary: A short profile (``decimal, 0% null, 812 distinct``).
        samples: A few example values; at most 5 are used, each cut to 40 characters.

    Returns:
        One line such as ``PREM_AMT (prem amt): premium amount. decimal, 0% null. e.g. 1234.50``.
    """
    words = split_identifier(name)
    text = name if words in ("", name.lower()) else f"{name} ({words})"
    if expanded_name:
        text += f": {expanded_name}"
    if profile_summary:
        text += f". {profile_summary}"
    shown = [str(value)[:MAX_SAMPLE_CHARS] for value in samples if value is not None]
    if shown:
        text += ". e.g. " + ", ".join(shown[:MAX_SAMPLES_IN_TEXT])
    return text[:MAX_TEXT_CHARS]


class VectorIndex:
    """Persistent chromadb index of column documents and knowledge entries, per tenant."""

    def __init__(self, path: Path, embedder: Embedder) -> None:
        """Open (or create) the index in folder ``path``.

        Raises:
            ConfigError: The folder cannot be used as a chromadb store.
        """
        self.path = Path(path)
        self.embedder = embedder
        self._function = EmbedderFunction(embedder)
        self._collections: dict[tuple[str, str], Any] = {}
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self._client = chromadb.PersistentClient(
                path=str(self.path), settings=ChromaSettings(anonymized_telemetry=False)
            )
        except Exception as error:  # chromadb raises a variety of its own and OS errors
            raise ConfigError(
                f"cannot open the vector index: {error}",
                where=str(self.path),
                fix="check the folder is writable and not used by another chromadb version",
            ) from error
        self._batch = max(1, min(5_000, self._client.get_max_batch_size()))

    def collection_name(self, tenant: str, kind: Kind) -> str:
        """The chromadb collection holding ``kind`` documents of ``tenant`` for this embedder."""
        check_tenant(tenant)  # the one tenant check: the name becomes part of a collection
        if kind not in KINDS:
            raise InputError(f"bad index kind {kind!r}", where="kind", fix="columns | knowledge")
        model = re.sub(r"[^a-z0-9]+", "-", self.embedder.name.lower()).strip("-")
        return f"dm-{tenant}-{kind}-{model}"[:500]

    def upsert_column_documents(self, tenant: str, docs: Iterable[ColumnDocument]) -> int:
        """Add or replace column documents (same id => replaced); returns how many were written."""
        docs = list(docs)
        metadatas = [
            {**_clean_metadata(d.metadata), "source_id": d.source_id, "column": d.column}
            for d in docs
        ]
        return self._upsert(
            tenant, "columns", [d.id for d in docs], [d.text for d in docs], metadatas
        )

    def search_columns(
        self, tenant: str, query: str, *, limit: int = 10, source_id: str | None = None
    ) -> list[ColumnHit]:
        """Columns whose documents mean the closest to ``query``, best first."""
        rows = self._query(
            tenant, "columns", query, limit, {"source_id": source_id} if source_id else None
        )
        return [
            ColumnHit(
                id=row_id,
                source_id=str(meta.get("source_id", "")),
                column=str(meta.get("column", "")),
                text=text,
                distance=distance,
                score=1.0 - distance,
                metadata=meta,
            )
            for row_id, text, meta, distance in rows
        ]

    def delete_source(self, tenant: str, source_id: str) -> int:
        """Remove every column document of one source; returns how many were removed."""
        collection = self._collection(tenant, "columns")
        ids = collection.get(where={"source_id": source_id}, include=[])["ids"]
        for start in range(0, len(ids), self._batch):
            collection.delete(ids=ids[start : start + self._batch])
        return len(ids)

    def upsert_knowledge(self, tenant: str, entries: Iterable[KnowledgeEntry]) -> int:
        """Add or replace knowledge entries; returns how many were written."""
        entries = list(entries)
        return self._upsert(
            tenant,
            "knowledge",
            [e.id for e in entries],
            [e.text for e in entries],
            [_clean_metadata(e.metadata) for e in entries],
        )

    def search_knowledge(self, tenant: str, query: str, *, limit: int = 10) -> list[KnowledgeHit]:
        """Knowledge entries closest in meaning to ``query``, best first."""
        return [
            KnowledgeHit(id=i, text=t, distance=d, score=1.0 - d, metadata=m)
            for i, t, m, d in self._query(tenant, "knowledge", query, limit, None)
        ]

    def count(self, tenant: str, kind: Kind) -> int:
        """Documents of ``kind`` held for ``tenant``."""
        return int(self._collection(tenant, kind).count())

    def _collection(self, tenant: str, kind: Kind) -> Any:
        key = (tenant, kind)
        if key not in self._collections:
            self._collections[key] = self._client.get_or_create_collection(
                name=self.collection_name(tenant, kind),
                embedding_function=self._function,  # type: ignore[arg-type]
                configuration={"hnsw": {"space": "cosine"}},
                metadata={"model": self.embedder.name, "dimension": self.embedder.dimension},
            )
        return self._collections[key]

    def _upsert(
        self,
        tenant: str,
        kind: Kind,
        ids: list[str],
        texts: list[str],
        metadatas: list[dict[str, MetadataValue]],
    ) -> int:
        if len(set(ids)) != len(ids):
            raise InputError(
                f"duplicate document ids in one {kind} upsert", where="id", fix="make ids unique"
            )
        collection = self._collection(tenant, kind)
        for start in range(0, len(ids), self._batch):
            stop = start + self._batch
            vectors = self.embedder.embed(texts[start:stop])
            collection.upsert(
                ids=ids[start:stop],
                documents=texts[start:stop],
                embeddings=vectors,
                metadatas=metadatas[start:stop] or None,
            )
        return len(ids)

    def _query(
        self, tenant: str, kind: Kind, query: str, limit: int, where: dict[str, str] | None
    ) -> list[tuple[str, str, dict[str, MetadataValue], float]]:
        if limit < 1:
            raise InputError(f"limit must be at least 1, got {limit}", where="limit")
        collection = self._collection(tenant, kind)
        available = collection.count()
        if available == 0 or not query.strip():
            return []
        result = collection.query(
            query_embeddings=self.embedder.embed([query]),
            n_results=min(limit, available),
            where=where,
            include=["documents", "metadatas", "distances"],
        )
        return [
            (row_id, text or "", dict(meta or {}), float(distance))
            for row_id, text, meta, distance in zip(
                result["ids"][0],
                result["documents"][0],  # type: ignore[index]
                result["metadatas"][0],  # type: ignore[index]
                result["distances"][0],  # type: ignore[index]
                strict=True,
            )
        ]


def _clean_metadata(metadata: Mapping[str, Any]) -> dict[str, MetadataValue]:
    """chromadb takes scalar values only: drop None, serialise anything else as JSON."""
    clean: dict[str, MetadataValue] = {}
    for key, value in metadata.items():
        if value is None:
            continue
        if isinstance(value, str | int | float | bool):
            clean[str(key)] = value
        else:
            clean[str(key)] = json.dumps(value, sort_keys=True, default=str)
    return clean
