"""The assembly eval suite on a generated estate: every figure at its bar, checked by --check."""

from __future__ import annotations

from pathlib import Path

from core.settings import Settings
from evals.registry import run_suite
from evals.result import EvalConfig
from evals.suites.assembly import score
from evals.thresholds import check, load_thresholds


def test_assembly_suite_scores_relationships_runs_and_documents(tmp_path: Path) -> None:
    config = EvalConfig(
        home=tmp_path,
        policies=1500,
        seed=3,
        settings=Settings(home=tmp_path, embedding_provider="none"),
    )
    result = run_suite("assembly", config)
    assert result.status == "ok", result.reason
    m = result.metrics
    assert m["relationships.truth"] == m["relationships.found"] > 15
    assert m["relationships.recall"] == m["relationships.precision"] == 1.0
    assert m["relationships.transform_accuracy"] == 1.0
    assert m["orphans.recall"] == 1.0 and m["orphans.excess"] == 0 and m["orphans.injected"] > 0
    for kind in ("duplicates", "conflicts", "unknown_codes"):
        assert m[f"{kind}.injected"] > 0, kind
        assert (m[f"{kind}.recall"], m[f"{kind}.excess"]) == (1.0, 0), kind
    assert m["documents.clean"] > 1000 and m["documents.equal_share"] >= 0.995
    assert {c["id"] for c in result.cases if c["group"] == "assembly"} == {
        "policy_master",
        "agency_policies",
        "life",
        "acquired_policy",
    }
    assert all(c["status"] == "pass" for c in result.cases)
    rows = check(result, load_thresholds()["assembly"])
    assert rows and all(r["ok"] for r in rows), rows


def test_a_missed_relationship_and_extra_orphans_are_scored() -> None:
    from evals.result import SuiteResult

    class Rel:
        def __init__(self, child: str, key: str, orphans: int) -> None:
            self.parent_name, self.parent_key = "root", "id"
            self.child_name, self.child_key = child, key
            self.key_transform, self.orphans, self.match_rate = None, orphans, 1.0

    truth = {
        "relationships": [
            {
                "parent": "root",
                "parent_key": "id",
                "child": c,
                "child_key": "ref",
                "transform": "identity",
            }
            for c in ("a", "b")
        ],
        "orphans": {"a": {"key": "ref", "count": 2}},
    }
    result = SuiteResult(suite="assembly")
    score(result, truth, [Rel("a", "ref", 5)], 0.1)
    assert result.metrics["relationships.recall"] == 0.5
    assert result.metrics["relationships.precision"] == 1.0
    assert result.metrics["orphans.recall"] == 1.0 and result.metrics["orphans.excess"] == 3
    assert [c["status"] for c in result.cases] == ["pass", "fail"]
