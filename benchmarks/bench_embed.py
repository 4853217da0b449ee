"""Embedding and vector-index throughput on short column documents.

Measures, on this machine:
  1. MiniLM (bundled, CPU, batch 64): strings/s, model already loaded, for column documents
     (~40 word pieces: name, words, profile, samples) and for bare names (~5 word pieces);
  2. the same texts through the on-disk cache when every text is a hit;
  3. chromadb upsert of precomputed vectors (vectors/s), and end-to-end
     ``VectorIndex.upsert_column_documents`` with a warm cache (documents/s);
  4. structural column vectors (columns/s, 100k values each).

Run: ``.venv/bin/python benchmarks/bench_embed.py [--count 2000] [--json]``
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from knowledge.embeddings.cache import CachedEmbedder
from knowledge.embeddings.semantic import LocalMiniLMEmbedder
from knowledge.embeddings.structural import column_vector
from knowledge.vector_index import ColumnDocument, VectorIndex, column_document_text

STEMS = ["PREM", "INSD", "EFF", "EXP", "POL", "CLM", "AGT", "COV", "LMT", "DED", "ADDR", "ST"]
SUFFIXES = ["AMT", "NM", "DT", "NO", "CD", "TYP", "STAT", "PCT", "CNT", "ID"]


def column_texts(count: int) -> list[str]:
    """Distinct short column documents like the ones ingest produces."""
    rng = np.random.default_rng(42)
    texts = []
    for i in range(count):
        name = f"{STEMS[i % len(STEMS)]}_{SUFFIXES[(i // len(STEMS)) % len(SUFFIXES)]}_{i}"
        samples = [f"{x:.2f}" for x in rng.gamma(2.0, 500.0, 3)]
        texts.append(column_document_text(name, None, "decimal, 0% null", samples))
    return texts


def rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else float("inf")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000, help="column documents to embed")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    texts = column_texts(args.count)
    results: dict[str, float | int] = {
        "documents": args.count,
        "load_average_1m": round(os.getloadavg()[0], 2),  # other work on the 2 cores skews rates
    }

    model = LocalMiniLMEmbedder(batch_size=64)
    started = time.perf_counter()
    model.embed(["warm up"])
    results["model_load_s"] = round(time.perf_counter() - started, 2)

    names = [text.split(" (")[0].replace("_", " ").lower() for text in texts]  # ~5 word pieces
    started = time.perf_counter()
    model.embed(names)
    results["minilm_names_only_strings_per_s"] = rate(len(names), time.perf_counter() - started)

    with tempfile.TemporaryDirectory() as folder:
        workspace = Path(folder)
        cached = CachedEmbedder(model, workspace / "cache")
        started = time.perf_counter()
        vectors = cached.embed(texts)  # all misses: the model plus the cache write
        results["minilm_strings_per_s"] = rate(len(texts), time.perf_counter() - started)

        started = time.perf_counter()
        cached.embed(texts)
        results["cache_hit_strings_per_s"] = rate(len(texts), time.perf_counter() - started)

        index = VectorIndex(workspace / "chroma", cached)
        collection = index._collection("bench", "knowledge")  # raw chromadb, vectors given
        ids = [f"v{i}" for i in range(len(texts))]
        started = time.perf_counter()
        for start in range(0, len(ids), 1000):
            collection.upsert(
                ids=ids[start : start + 1000],
                embeddings=vectors[start : start + 1000],
                documents=texts[start : start + 1000],
            )
        results["chromadb_upsert_vectors_per_s"] = rate(len(ids), time.perf_counter() - started)

        docs = [
            ColumnDocument(id=f"d{i}", source_id=f"s{i % 20}", column=f"c{i}", text=text)
            for i, text in enumerate(texts)
        ]
        started = time.perf_counter()
        index.upsert_column_documents("bench", docs)
        results["index_upsert_warm_cache_docs_per_s"] = rate(
            len(docs), time.perf_counter() - started
        )
        started = time.perf_counter()
        for query in ("premium amount", "insured name", "effective date") * 10:
            index.search_columns("bench", query, limit=10)
        results["search_queries_per_s"] = rate(30, time.perf_counter() - started)

    column = pa.array([f"{x:.2f}" for x in np.random.default_rng(1).gamma(2, 500, 100_000)])
    started = time.perf_counter()
    for _ in range(50):
        column_vector(column)
    results["structural_columns_per_s"] = rate(50, time.perf_counter() - started)

    if args.json:
        print(json.dumps(results))
    else:
        for key, value in results.items():
            print(f"{key:40} {value}")


if __name__ == "__main__":
    main()
