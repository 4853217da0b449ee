"""Assembly suite: relationships, key transforms and orphans found on the estate, against its
ground truth (``ground_truth/relationships.json``).

Scored: every true relationship found (recall), nothing else proposed (precision), the key
transform of each (identity, number, crosswalk), and the orphans of every child key (recall and
excess against the injected counts), with the discovery time. Then every home system's policies
are assembled (:mod:`evals.assembly_score`): orphans, duplicates, cross-system conflicts and
unknown codes found in the runs (recall and excess), and the share of clean policies whose
assembled document equals the ground truth's, every component and every field.
"""

from __future__ import annotations

import json
import time
from typing import Any

from core.store import open_store
from evals.assembly_score import assemble_estate
from evals.result import CaseStatus, EvalConfig, SuiteResult
from evals.workspace import estate_for, ingest_estate
from tools.assembly import propose_relationships

Edge = tuple[str, str, str, str]


def _edges(rels: list[Any]) -> dict[Edge, Any]:
    return {(r.parent_name, r.parent_key, r.child_name, r.child_key): r for r in rels}


def _kind(rel: Any) -> str:
    return rel.key_transform.kind if rel.key_transform is not None else "identity"


def run(config: EvalConfig) -> SuiteResult:
    """Ingest the estate, discover its relationships and score them against the truth."""

    estate, _ = estate_for(config)
    sources = ingest_estate(config, estate)
    settings = config.get_settings()
    engine = open_store(settings)
    try:
        ids = [s.info.source_id for s in sources]
        config.note("relate", 0, 1)
        started = time.perf_counter()
        found = propose_relationships(engine, settings, ids, tenant=settings.tenant)
        seconds = time.perf_counter() - started
        config.note("assemble", 0, 1)
        started = time.perf_counter()
        names = {s.info.name: s.info.source_id for s in sources}
        assembled = assemble_estate(engine, settings, estate, names, tenant=settings.tenant)
        assemble_seconds = time.perf_counter() - started
    finally:
        engine.dispose()
    truth = json.loads((estate / "ground_truth" / "relationships.json").read_text("utf-8"))
    result = SuiteResult(suite="assembly")
    score(result, truth, found.relationships, seconds)
    score_assembly(result, assembled, assemble_seconds)
    return result


def score_assembly(result: SuiteResult, assembled: Any, seconds: float) -> None:
    """Fill ``result`` with the assembly run's figures (an :class:`EstateAssembly`)."""
    m = result.metrics
    for kind in ("duplicates", "conflicts", "unknown_codes"):
        tally = getattr(assembled, kind)
        m[f"{kind}.injected"] = tally.injected
        m[f"{kind}.found"] = tally.found
        m[f"{kind}.recall"] = tally.recall
        m[f"{kind}.excess"] = tally.excess
        result.lower_is_better(f"{kind}.excess")
    m["orphans.run_recall"] = assembled.orphans.recall
    m["orphans.run_excess"] = assembled.orphans.excess
    m["documents.clean"] = assembled.clean
    m["documents.equal"] = assembled.equal
    m["documents.equal_share"] = assembled.equal_share
    m["documents.unexplained_disagreements"] = assembled.unexplained
    m["assemble.seconds"] = round(seconds, 3)
    result.lower_is_better(
        "orphans.run_excess", "documents.unexplained_disagreements", "assemble.seconds"
    )
    for root, doc in sorted(assembled.documents.items()):
        run = assembled.runs[root]
        result.cases.append(
            {
                "group": "assembly",
                "id": root,
                "status": CaseStatus.of(bool(doc.clean and doc.equal == doc.clean)),
                "policies": run.policies,
                "complete": run.complete,
                "partial": run.partial,
                "quarantined": run.quarantined,
                "clean": doc.clean,
                "equal": doc.equal,
                "differences": [f"{p}: {d}" for p, d in doc.differences[:3]],
            }
        )


def score(
    result: SuiteResult, truth: dict[str, Any], relationships: list[Any], seconds: float
) -> None:
    """Fill ``result`` with the relationship and orphan figures."""
    expected = {
        (t["parent"], t["parent_key"], t["child"], t["child_key"]): t
        for t in truth["relationships"]
    }
    got = _edges(relationships)
    hits = [e for e in expected if e in got]
    right_kind = [e for e in hits if _kind(got[e]) == expected[e]["transform"]]
    m = result.metrics
    m["relationships.truth"] = len(expected)
    m["relationships.found"] = len(got)
    m["relationships.recall"] = len(hits) / len(expected) if expected else None
    m["relationships.precision"] = len(hits) / len(got) if got else None
    m["relationships.transform_accuracy"] = len(right_kind) / len(hits) if hits else None
    injected = reported = excess = recalled = 0
    for child, want in truth["orphans"].items():
        counts = {
            r.orphans for r in relationships if (r.child_name, r.child_key) == (child, want["key"])
        }
        count = max(counts) if counts else 0
        injected += want["count"]
        reported += count
        recalled += min(count, want["count"])
        excess += max(0, count - want["count"])
    m["orphans.injected"] = injected
    m["orphans.found"] = reported
    m["orphans.recall"] = recalled / injected if injected else None
    m["orphans.excess"] = excess
    m["relate.seconds"] = round(seconds, 3)
    result.lower_is_better("orphans.excess", "relate.seconds")
    for edge, want in sorted(expected.items()):
        rel = got.get(edge)
        result.cases.append(
            {
                "group": "relationship",
                "id": f"{edge[2]}.{edge[3]} -> {edge[0]}.{edge[1]}",
                "status": CaseStatus.of(rel is not None and _kind(rel) == want["transform"]),
                "expected": want["transform"],
                "found": _kind(rel) if rel is not None else None,
                "match_rate": rel.match_rate if rel is not None else None,
            }
        )
    for edge in sorted(set(got) - set(expected)):
        result.cases.append(
            {
                "group": "relationship",
                "id": f"{edge[2]}.{edge[3]} -> {edge[0]}.{edge[1]}",
                "status": CaseStatus.FAIL,
                "expected": None,
                "found": _kind(got[edge]),
            }
        )
