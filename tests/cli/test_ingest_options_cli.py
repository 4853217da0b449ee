"""`ingest` options typed on the command line, --copybook implying cobol, --detect's command."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from cli.main import main
from tools.content.readers.options import parse_option_pairs

COPYBOOK = "       01 REC.\n          05 POL-NBR PIC X(4).\n          05 AMT PIC S9(3) COMP-3.\n"


@pytest.fixture(autouse=True)
def _env(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATA_MASH_HOME", str(workspace))
    monkeypatch.setenv("DATA_MASH_EMBEDDING_PROVIDER", "none")
    monkeypatch.delenv("DATA_MASH_DB_URL", raising=False)


def _json(capsys: pytest.CaptureFixture[str]) -> dict:
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("delimiter", ["|", "#", ">", "-", "!", "&"])
def test_option_values_are_not_yaml(
    delimiter: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "b.csv"
    path.write_text(f"A{delimiter}B\n1{delimiter}x\n2{delimiter}y\n")
    args = ["ingest", str(path), "--format", "csv", "-o", f"delimiter={delimiter}", "--json"]
    assert main(args) == 0
    assert sorted(c["name"] for c in _json(capsys)["columns"]) == ["A", "B"]


def test_option_values_follow_declared_types() -> None:
    parsed = parse_option_pairs(
        ["delimiter=|", "header=false", "skip_rows=2", "columns=[a, b]", "null_values=-"], "csv"
    )
    assert parsed == {
        "delimiter": "|",
        "header": False,
        "skip_rows": 2,
        "columns": ["a", "b"],
        "null_values": ["-"],
    }
    cobol = parse_option_pairs(['occurs_mappings={"A": {"X": 1}}', "encoding=cp037"], "cobol")
    assert cobol == {"occurs_mappings": {"A": {"X": 1}}, "encoding": "cp037"}


def _mainframe(tmp_path: Path) -> tuple[Path, Path]:
    cpy = tmp_path / "rec.cpy"
    cpy.write_text(COPYBOOK)
    data = tmp_path / "pol.dat"
    data.write_bytes(b"".join(f"P{i:03d}".encode("cp037") + b"\x12\x3c" for i in range(3)))
    return cpy, data


def test_copybook_implies_format_cobol(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cpy, data = _mainframe(tmp_path)
    assert main(["ingest", str(data), "--copybook", str(cpy), "--json"]) == 0
    assert _json(capsys)["records"] == 3
    assert main(["ingest", str(data), "--copybook", str(cpy), "--format", "csv"]) == 1
    assert "--copybook describes COBOL records" in capsys.readouterr().err


def test_detect_honours_copybook_and_prints_the_command(
    tmp_path: Path, workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cpy, data = _mainframe(tmp_path)
    rdw = tmp_path / "pol.v"
    rdw.write_bytes(
        b"".join(b"\x00\x06\x00\x00" + f"Q{i:03d}".encode("cp037") + b"\x00\x1c" for i in range(4))
    )
    assert main(["ingest", str(rdw), "--detect", "--copybook", str(cpy), "--json"]) == 0
    out = _json(capsys)
    assert out["detected"]["format"] == "cobol"
    assert out["detected"]["options"]["record_format"] == "V"
    assert out["detected"]["options"]["rdw_big_endian"] is True
    words = shlex.split(out["command"])
    assert words[:5] == ["data-mash", "ingest", str(rdw), "--copybook", str(cpy)]
    assert not (workspace / "staging").exists()
    # the printed command works as printed
    assert main([*words[1:], "--json"]) == 0
    assert _json(capsys)["records"] == 4
