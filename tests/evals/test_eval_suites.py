"""Eval suites on a tiny estate: content figures, report files, comparison, thresholds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import InputError
from evals.cobrix import CORPUS
from evals.compare import compare, load_previous
from evals.registry import run_suite
from evals.report import build_document, report_dir, write_report
from evals.result import EvalConfig, SuiteResult
from evals.thresholds import check, load_thresholds

COBRIX_CASES = ["t01-test1", "t19-test19", "t06-test6_layout.txt"]
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="cobrix corpus not present")


@pytest.fixture(scope="module")
def content_result(tmp_path_factory: pytest.TempPathFactory) -> tuple[EvalConfig, SuiteResult]:
    from core.settings import Settings

    home = tmp_path_factory.mktemp("home")
    config = EvalConfig(
        home=home,
        policies=200,
        seed=5,
        cobrix_cases=COBRIX_CASES,
        settings=Settings(home=home, embedding_provider="none"),
    )
    return config, run_suite("content", config)


@needs_corpus
def test_content_suite_scores_cobrix_cases_and_the_estate(
    content_result: tuple[EvalConfig, SuiteResult],
) -> None:
    _, result = content_result
    assert result.status == "ok", result.reason
    cobrix = {c["id"]: c for c in result.cases if c["group"] == "cobrix"}
    assert set(cobrix) == {"t01-test1", "t19-test19"}
    assert all(c["status"] == "pass" and c["first_difference"] is None for c in cobrix.values())
    assert result.metrics["cobrix.pass_rate"] == 1.0
    layouts = [c for c in result.cases if c["group"] == "cobrix_layout"]
    assert [(c["id"], c["status"]) for c in layouts] == [("t06-test6_layout.txt", "pass")]
    # Every estate source ingested with the manifest's record count.
    assert result.metrics["estate.sources"] == 13  # 12 data sources + the acquired crosswalk
    assert result.metrics["estate.records_match_rate"] == 1.0
    assert result.metrics["estate.decoded_values_checked"] > 100
    # Found vs injected, per kind: counts come from ground_truth/problems.jsonl.
    problems = [c for c in result.cases if c["group"] == "estate_problems"]
    estate = Path(content_result[0].home) / "estates" / "seed5-200"
    lines = (estate / "ground_truth" / "problems.jsonl").read_text().splitlines()
    assert sum(c["injected"] for c in problems) == len(lines)
    missing = [c for c in problems if c["kind"] == "missing_mandatory"]
    assert missing and all(c["found"] is not None for c in missing)
    assert all(c["found"] is None for c in problems if c["kind"] == "orphan_reference")


def test_a_failing_cobrix_case_reports_its_first_difference(tmp_path: Path) -> None:
    from evals.cobrix import run_variant

    spec = (
        "t01",
        "test1",
        "data/example.bin",
        "test1_copybook.cob",
        {},
        "test1.txt",
        None,
        11,
        False,
    )
    if not CORPUS.is_dir():
        pytest.skip("cobrix corpus not present")
    outcome = run_variant(spec, CORPUS)
    assert outcome["status"] == "fail"
    assert outcome["first_difference"] == "10 records, cobrix has 11"


@needs_corpus
def test_report_files_and_comparison(
    content_result: tuple[EvalConfig, SuiteResult], tmp_path: Path
) -> None:
    config, result = content_result
    doc = build_document("content", [result], config, check(result, {}))
    files = write_report(doc, [result], report_dir(tmp_path, "content"))
    names = {f.name for f in files}
    assert {"report.json", "report.md"} <= names
    saved = json.loads((files[0]).read_text())
    assert {"suite", "metrics", "cases", "baselines", "environment"} <= set(saved)
    assert {"python", "platform", "cpu_count", "packages", "git_commit"} <= set(
        saved["environment"]
    )
    assert "| cobrix.pass_rate |" in files[1].read_text()
    # A previous run where one figure was higher and one lower-is-better figure was lower.
    previous = json.loads(json.dumps(saved))
    previous["metrics"]["estate.decoded_value_accuracy"] = 0.5
    previous["metrics"]["cobrix.failed"] = 3
    previous["metrics"]["estate.records_match_rate"] = 2.0
    diff = compare(saved, previous)
    assert {r["metric"] for r in diff["better"]} == {
        "estate.decoded_value_accuracy",
        "cobrix.failed",
    }
    assert [r["metric"] for r in diff["worse"]] == ["estate.records_match_rate"]
    path = tmp_path / "prev.json"
    path.write_text(json.dumps(previous))
    assert load_previous(path, "content")["suite"] == "content"
    with pytest.raises(InputError, match="suite 'content', not 'routing'"):
        load_previous(path, "routing")


def test_calibration_and_perf_charts_are_pngs(tmp_path: Path) -> None:
    from evals.charts import calibration_chart, perf_chart

    buckets = [
        {"lo": b / 10, "hi": (b + 1) / 10, "count": b, "accuracy": b / 10} for b in range(10)
    ]
    png = calibration_chart({"ours": buckets}, tmp_path / "c.png", title="t")
    bars = perf_chart(
        [{"benchmark": "decode", "unit": "records/s", "value": 100.0, "baseline_value": 10.0}],
        tmp_path / "p.png",
    )
    for path in (png, bars):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_threshold_override_makes_check_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    override = tmp_path / "t.yaml"
    override.write_text("routing:\n  engine.agreement: {min: 1.5}\n")
    monkeypatch.setenv("DATA_MASH_EVAL_THRESHOLDS", str(override))
    bounds = load_thresholds()
    assert bounds["routing"]["engine.agreement"] == {"min": 1.5}
    assert "interpreter.agreement" in bounds["routing"]  # other defaults kept
    result = SuiteResult(
        suite="routing", metrics={"engine.agreement": 1.0, "interpreter.agreement": 1.0}
    )
    rows = {r["metric"]: r for r in check(result, bounds["routing"])}
    assert rows["engine.agreement"]["ok"] is False
    assert rows["interpreter.agreement"]["ok"] is True
    assert check(SuiteResult.unavailable("routing", "x"), bounds["routing"]) == []


def test_a_suite_missing_its_capability_is_unavailable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from evals.suites import routing

    def missing(config: EvalConfig) -> SuiteResult:
        raise ImportError("No module named 'tools.routing'", name="tools.routing")

    monkeypatch.setattr(routing, "run", missing)
    result = run_suite("routing", EvalConfig(home=tmp_path))
    assert result.status == "unavailable"
    assert "tools.routing" in (result.reason or "") and result.metrics == {}


def test_routing_suite_agrees_with_the_reference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATA_MASH_EMBEDDING_PROVIDER", "none")
    result = run_suite("routing", EvalConfig(home=tmp_path, policies=150, seed=3))
    assert result.status == "ok", result.reason
    assert result.metrics["policies"] == 150
    shares = [v for k, v in result.metrics.items() if k.startswith("expected.")]
    assert abs(sum(shares) - 1.0) < 1e-9
    assert result.metrics["engine.agreement"] == 1.0, result.notes


def test_suite_and_case_statuses_are_one_vocabulary(tmp_path: Path) -> None:
    """A report's statuses are the enums' values; a status outside them is refused when read."""
    from pydantic import ValidationError

    from evals.contracts import EvalReport
    from evals.result import CaseStatus, SuiteStatus

    assert {s.value for s in SuiteStatus} == {"ok", "unavailable", "error", "partial"}
    assert CaseStatus.of(True) == "pass" and CaseStatus.of(False) == "fail"
    result = SuiteResult(suite="x", cases=[{"id": "a", "status": CaseStatus.of(True)}])
    doc = build_document("x", [result], EvalConfig(home=tmp_path), [])
    report = EvalReport.model_validate_json(json.dumps(doc, default=str))
    assert report.status is SuiteStatus.OK and report.cases[0]["status"] == "pass"
    with pytest.raises(ValidationError, match="status"):
        EvalReport.model_validate({**doc, "status": "finished"})
