"""`ingest`, `sources`, `head`, `profile`, `layout` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.main import main

CSV = "PolicyNo;Premium\nP1;1,50\nP2;2,50\nP3;3,50\n"
COPYBOOK = (
    "       01 REC.\n          05 POL-NBR PIC X(10).\n          05 AMT PIC S9(5)V99 COMP-3.\n"
)


@pytest.fixture(autouse=True)
def _env(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATA_MASH_HOME", str(workspace))
    monkeypatch.setenv("DATA_MASH_EMBEDDING_PROVIDER", "none")
    monkeypatch.delenv("DATA_MASH_DB_URL", raising=False)


def _json(capsys: pytest.CaptureFixture[str]) -> dict:
    return json.loads(capsys.readouterr().out)


def test_ingest_then_sources_head_profile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "b.csv"
    path.write_text(CSV)
    assert (
        main(
            [
                "ingest",
                str(path),
                "--format",
                "csv",
                "-o",
                "delimiter=;",
                "-o",
                "decimal=,",
                "--json",
            ]
        )
        == 0
    )
    ingested = _json(capsys)
    assert {"source_id", "records", "columns", "errors"} <= set(ingested)
    assert ingested["records"] == 3
    source_id = ingested["source_id"]
    assert main(["sources", "--json"]) == 0
    assert [s["source_id"] for s in _json(capsys)["sources"]] == [source_id]
    assert main(["head", source_id, "--limit", "2", "--offset", "1", "--json"]) == 0
    head = _json(capsys)
    assert [r["PolicyNo"] for r in head["records"]] == ["P2", "P3"]
    assert main(["profile", source_id, "--json"]) == 0
    profile = _json(capsys)
    assert {"source_id", "records", "columns", "quality_score"} <= set(profile)
    column = profile["columns"][0]
    assert {"name", "type", "null_rate", "distinct", "pattern", "quality"} <= set(column)
    assert main(["profile", source_id]) == 0  # the table renders too
    assert "PolicyNo" in capsys.readouterr().out


def test_ingest_from_a_source_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "b.csv").write_text(CSV)
    config = tmp_path / "sources.yaml"
    config.write_text(
        "version: 1\nsources:\n  - name: billing\n    system: billing\n"
        "    path: b.csv\n    format: csv\n"
        "    options: {delimiter: ';', decimal: ','}\n"
    )
    assert main(["ingest", "--source-config", str(config), "--json"]) == 0
    report = _json(capsys)
    assert report["records"] == 3 and report["sources"][0]["name"] == "billing"


def test_detect_prints_a_config_and_ingests_nothing(
    tmp_path: Path, workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "b.csv"
    path.write_text(CSV)
    assert main(["ingest", str(path), "--detect", "--json"]) == 0
    detected = _json(capsys)
    assert detected["detected"]["format"] == "csv"
    assert detected["detected"]["options"]["delimiter"] == ";"
    assert not (workspace / "staging").exists()


def test_layout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copybook = tmp_path / "rec.cpy"
    copybook.write_text(COPYBOOK)
    assert main(["layout", str(copybook), "--json"]) == 0
    layout = _json(capsys)
    assert layout["record_length"] == 14
    field = next(f for f in layout["fields"] if f["name"] == "AMT")
    assert (field["start"], field["length"]) == (11, 4)
    assert {"name", "level", "start", "length", "type", "occurs", "redefines"} <= set(field)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ingest", "{csv}"], "no --format given"),
        (["ingest", "/no/such/file.csv", "--format", "csv"], "file not found"),
        (["head", "src_missing"], "no source 'src_missing'"),
        (["layout", "{bad}"], "line 2"),
    ],
)
def test_errors_are_one_line(
    tmp_path: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "b.csv").write_text(CSV)
    (tmp_path / "bad.cpy").write_text("       01 REC.\n          05 A PIC X(.\n")
    args = [a.format(csv=tmp_path / "b.csv", bad=tmp_path / "bad.cpy") for a in args]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
