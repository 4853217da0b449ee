"""`data-mash eval`: reports on stdout, --json, --against, --check, and every bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.main import main


@pytest.fixture(autouse=True)
def _workspace_env(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATA_MASH_HOME", str(workspace))
    monkeypatch.setenv("DATA_MASH_EMBEDDING_PROVIDER", "none")
    monkeypatch.delenv("DATA_MASH_DB_URL", raising=False)
    monkeypatch.delenv("DATA_MASH_EVAL_THRESHOLDS", raising=False)
    monkeypatch.delenv("DATA_MASH_EVAL_CORPUS", raising=False)


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err
    return lines[0]


def test_routing_eval_json_and_report_files(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", "routing", "--policies", "120", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {"suite", "metrics", "cases", "baselines", "environment"} <= set(doc)
    assert doc["suite"] == "routing" and doc["status"] == "ok"
    files = [Path(f) for f in doc["files"]]
    assert all(f.is_file() and f.is_relative_to(workspace / "evals") for f in files)
    assert {f.name for f in files} >= {"report.json", "report.md"}
    # Human output lists the files and compares with the previous report.
    previous = files[0]
    assert main(["eval", "routing", "--policies", "120", "--against", str(previous)]) == 0
    out = capsys.readouterr().out
    assert "report files:" in out and "report.md" in out
    assert "compared with the run of" in out


def test_check_fails_when_a_threshold_is_missed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    impossible = tmp_path / "t.yaml"
    impossible.write_text("routing:\n  engine.agreement: {min: 2.0}\n")
    monkeypatch.setenv("DATA_MASH_EVAL_THRESHOLDS", str(impossible))
    assert main(["eval", "routing", "--policies", "120", "--check", "--json"]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["suite"] == "routing"  # the report is still written
    assert "threshold missed: routing engine.agreement = 1.0, needs >= 2.0" in captured.err
    # Without --check the same run succeeds; with the default thresholds --check passes.
    assert main(["eval", "routing", "--policies", "120", "--json"]) == 0
    monkeypatch.delenv("DATA_MASH_EVAL_THRESHOLDS")
    capsys.readouterr()
    assert main(["eval", "routing", "--policies", "120", "--check", "--json"]) == 0


def test_unknown_suite(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "speed"]) == 1
    line = _one_error_line(capsys)
    assert "unknown suite 'speed'" in line and "content, mapping, routing" in line


def test_corpus_path_that_does_not_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", "content", "--corpus", str(tmp_path / "nowhere")]) == 1
    line = _one_error_line(capsys)
    assert "corpus path does not exist" in line and "nowhere" in line


def test_malformed_journey_script(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "bad.yaml"
    script.write_text("journey: discovery\nanswers:\n  - approve\n  - {answer: a, when: b}\n")
    assert main(["eval", "journey", "--journeys", str(script)]) == 1
    line = _one_error_line(capsys)
    assert f"{script}:4:" in line and "each answer is a bare answer" in line


def test_against_a_report_of_another_suite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "perf.json"
    other.write_text(json.dumps({"suite": "perf", "metrics": {}}))
    assert main(["eval", "routing", "--against", str(other)]) == 1
    line = _one_error_line(capsys)
    assert "is a report of suite 'perf', not 'routing'" in line
