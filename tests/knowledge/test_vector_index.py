"""The chromadb vector index with the real local MiniLM model."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError, InputError
from knowledge.embeddings.cache import CachedEmbedder
from knowledge.embeddings.semantic import LocalMiniLMEmbedder
from knowledge.vector_index import (
    ColumnDocument,
    EmbedderFunction,
    KnowledgeEntry,
    VectorIndex,
    column_document_text,
    split_identifier,
)

# source -> (column, profile, samples); the premium columns are named three different ways.
SOURCES = {
    "polmast": [
        ("PREM_AMT", "decimal, 0% null", ["1234.50", "99.00", "410.25"]),
        ("INSD_NM", "text, 2% null", ["SMITH JOHN", "MILLER ANNA"]),
        ("EFF_DT", "text, 8 chars", ["20240101", "20230615"]),
        ("POL_NO", "text, unique", ["P00012345", "P00098765"]),
    ],
    "billing": [
        ("premium", "decimal", ["1,200.00", "85.10"]),
        ("customer_name", "text", ["Anna Miller"]),
        ("due_date", "date", ["2024-02-01"]),
        ("state", "text", ["CA", "NY"]),
    ],
    "crm": [
        ("WrittenPremium", "decimal", ["1500", "220"]),
        ("InsuredName", "text", ["John Smith"]),
        ("EffectiveDate", "date", ["01/31/2024"]),
        ("AgentCode", "text", ["A123"]),
    ],
}
PREMIUM_COLUMNS = {("polmast", "PREM_AMT"), ("billing", "premium"), ("crm", "WrittenPremium")}


def documents(source: str) -> list[ColumnDocument]:
    return [
        ColumnDocument(
            id=f"{source}:{column}",
            source_id=source,
            column=column,
            text=column_document_text(column, None, profile, samples),
            metadata={"samples": samples, "profile": profile, "note": None},
        )
        for column, profile, samples in SOURCES[source]
    ]


@pytest.fixture
def index(tmp_path: Path, minilm: LocalMiniLMEmbedder) -> VectorIndex:
    built = VectorIndex(tmp_path / "chroma", CachedEmbedder(minilm, tmp_path / "cache"))
    for source in SOURCES:
        built.upsert_column_documents("acme", documents(source))
    return built


def test_document_text() -> None:
    assert split_identifier("WrittenPremium") == "written premium"
    assert split_identifier("PREM_AMT") == "prem amt"
    assert split_identifier("INSURED.ADDR.CITY") == "insured addr city"
    text = column_document_text("PREM_AMT", "premium amount", "decimal", ["1.00", None, "x" * 99])
    assert text == f"PREM_AMT (prem amt): premium amount. decimal. e.g. 1.00, {'x' * 40}"
    assert column_document_text("premium") == "premium"


def test_premium_columns_of_every_source_rank_first(index: VectorIndex) -> None:
    hits = index.search_columns("acme", "premium amount", limit=12)
    assert len(hits) == 12
    top = {(h.source_id, h.column) for h in hits[:3]}
    assert top == PREMIUM_COLUMNS, [(h.column, round(h.score, 3)) for h in hits]
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert hits[0].distance == pytest.approx(1.0 - hits[0].score)
    assert hits[0].metadata["samples"].startswith("[")  # lists are stored as JSON text
    assert "note" not in hits[0].metadata


def test_search_within_one_source(index: VectorIndex) -> None:
    hits = index.search_columns("acme", "premium amount", limit=10, source_id="crm")
    assert [h.column for h in hits][0] == "WrittenPremium"
    assert {h.source_id for h in hits} == {"crm"}
    assert len(hits) == 4


def test_upsert_replaces_and_delete_removes_a_source(index: VectorIndex) -> None:
    index.upsert_column_documents("acme", documents("crm"))
    assert index.count("acme", "columns") == 12
    assert index.delete_source("acme", "crm") == 4
    assert index.count("acme", "columns") == 8
    assert all(h.source_id != "crm" for h in index.search_columns("acme", "premium", limit=10))
    assert index.delete_source("acme", "crm") == 0


def test_tenants_are_isolated_and_index_persists(
    index: VectorIndex, tmp_path: Path, minilm: LocalMiniLMEmbedder
) -> None:
    assert index.search_columns("globex", "premium amount") == []
    reopened = VectorIndex(tmp_path / "chroma", CachedEmbedder(minilm, tmp_path / "cache"))
    assert reopened.count("acme", "columns") == 12
    assert reopened.search_columns("acme", "insured name", limit=1)[0].column in {
        "INSD_NM",
        "InsuredName",
    }


def test_knowledge_entries(index: VectorIndex) -> None:
    index.upsert_knowledge(
        "acme",
        [
            KnowledgeEntry(
                "gl:PREM", "PREM: premium, the amount charged for the policy", {"kind": "glossary"}
            ),
            KnowledgeEntry("gl:INSD", "INSD: insured, the person covered", {"kind": "glossary"}),
        ],
    )
    hits = index.search_knowledge("acme", "how much the policy costs", limit=2)
    assert hits[0].id == "gl:PREM"
    assert hits[0].metadata == {"kind": "glossary"}
    assert index.count("acme", "columns") == 12  # kinds live in separate collections


def test_bad_arguments_are_input_errors(index: VectorIndex) -> None:
    with pytest.raises(InputError, match="tenant"):
        index.search_columns("../etc", "premium")
    with pytest.raises(InputError, match="limit"):
        index.search_columns("acme", "premium", limit=0)
    doc = documents("crm")[0]
    with pytest.raises(InputError, match="duplicate"):
        index.upsert_column_documents("acme", [doc, doc])


def test_chromadb_adapter_uses_our_embedder(index: VectorIndex) -> None:
    adapter = EmbedderFunction(index.embedder)
    vectors = adapter(["premium amount"])
    assert len(vectors) == 1 and len(vectors[0]) == 384
    assert adapter.get_config() == {"model": "all-MiniLM-L6-v2"}
    rebuilt = EmbedderFunction.build_from_config(adapter.get_config())
    with pytest.raises(ConfigError, match="all-MiniLM-L6-v2"):
        rebuilt(["premium amount"])
