"""Semantic index of source columns: one document per column (never per record).

Built after an ingest from the source's profile: the column's name, its glossary expansion, a
short profile and a few sample values. Embedded with the configured embedder (local MiniLM by
default, cached by content hash so a re-ingest embeds nothing twice) into chromadb in the
workspace. The index is derived data: it can be rebuilt from the staged sources at any time.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from core.errors import ConfigError
from core.settings import Settings
from knowledge.glossary import expand_name
from tools.content.contracts import ColumnHit
from tools.content.sources import SourceInfo

ColumnMatch = ColumnHit  # the contract model; the old name stays for callers


def _embedder(settings: Settings):  # type: ignore[no-untyped-def]
    # Imported here: torch loads only when semantic embeddings are used.
    from knowledge.embeddings.semantic import make_embedder  # noqa: PLC0415

    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    return _cached_embedder(
        settings.embedding_provider,
        str(settings.path("embeddings")),
        key,
        settings.openai_base_url,
        settings.embedding_model,
        settings.tenant,
        settings.embedding_budget_usd,
        make_embedder,
    )


@lru_cache(maxsize=4)
def _cached_embedder(provider, cache_dir, key, base_url, model, tenant, budget, factory):  # type: ignore[no-untyped-def]
    # The MiniLM model takes seconds to load: one instance per process and configuration.
    return factory(
        provider,
        cache_dir=Path(cache_dir),
        openai_api_key=key,
        base_url=base_url,
        model=model,
        tenant=tenant,
        budget_usd=budget,
    )


def prepare_index(settings: Settings) -> None:
    """Let the embedding model start loading now (a child process of its own), so it is ready
    when a source being decoded comes to be indexed; a no-op when semantic embeddings are off."""
    prepare = getattr(_embedder(settings), "prepare", None)
    if prepare is not None:
        prepare()


def vector_index(settings: Settings):  # type: ignore[no-untyped-def]
    """The workspace's vector index, or None when semantic embeddings are off."""
    embedder = _embedder(settings)
    if embedder is None:
        return None
    # Imported here: chromadb takes seconds to import; only the index needs it.
    from knowledge.vector_index import VectorIndex  # chromadb takes seconds to import  # noqa: PLC0415

    return VectorIndex(settings.path("index"), embedder)


def column_documents(info: SourceInfo, profile: dict[str, Any]) -> list[Any]:
    # Imported here: chromadb takes seconds to import; only the index needs it.
    from knowledge.vector_index import ColumnDocument, column_document_text  # noqa: PLC0415

    docs = []
    for column in profile["columns"]:
        name = column["name"]
        leaf = name.rsplit(".", 1)[-1]
        summary = f"{column['type']}, {column['null_rate']:.0%} null, {column['distinct']} distinct"
        samples = [v["value"] for v in column.get("top_values", [])[:5]]
        text = column_document_text(name, expand_name(leaf), summary, samples)
        docs.append(
            ColumnDocument(
                id=f"{info.source_id}:{name}",
                source_id=info.source_id,
                column=name,
                text=text,
                metadata={
                    "source_name": info.name,
                    "system": info.system or "",
                    "type": column["type"],
                },
            )
        )
    return docs


def index_source(settings: Settings, info: SourceInfo, profile: dict[str, Any]) -> int | None:
    """Embed and store one document per column of a source.

    Returns how many were indexed, or None when semantic embeddings are off.
    """
    index = vector_index(settings)
    if index is None:
        return None
    return index.upsert_column_documents(info.tenant, column_documents(info, profile))


def unindex_source(settings: Settings, tenant: str, source_id: str) -> None:
    index = vector_index(settings)
    if index is not None:
        index.delete_source(tenant, source_id)


def search_columns(
    settings: Settings, query: str, *, tenant: str, limit: int = 10, source_id: str | None = None
) -> list[ColumnMatch]:
    """Columns of every ingested source whose meaning is closest to ``query``."""
    index = vector_index(settings)
    if index is None:
        raise ConfigError(
            "semantic search is off",
            where="DATA_MASH_EMBEDDING_PROVIDER=none",
            fix="set DATA_MASH_EMBEDDING_PROVIDER=local (offline MiniLM)",
        )
    hits = index.search_columns(tenant, query, limit=limit, source_id=source_id)
    return [
        ColumnMatch(
            source_id=h.source_id, column=h.column, score=round(h.score, 4), document=h.text
        )
        for h in hits
    ]
