"""Destructive wave commands ask on a terminal and have --dry-run; gate override rules are stated;
`locate` and `replay` say so when they know nothing about what was asked for."""

from __future__ import annotations

import io
import json
import sys
from typing import Any

import pytest

from cli import confirm
from cli.main import main
from tests.cli.test_waves_cli import estate  # noqa: F401  (autouse: the same small estate)


def _json(capsys: pytest.CaptureFixture[str], *args: str, code: int = 0) -> dict[str, Any]:
    assert main([*args, "--json"]) == code
    return json.loads(capsys.readouterr().out)


def _completed_wave(capsys: pytest.CaptureFixture[str]) -> str:
    plan = _json(capsys, "generate-plan", "--source", "src-a", "--target", "new_platform")
    wave0 = plan["waves"][0]["wave_id"]
    assert _json(capsys, "wave", "run", wave0)["status"] == "completed"
    return wave0


def _answer(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr(confirm, "interactive", lambda: True)
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))


def test_override_reason_rule_is_stated(capsys: pytest.CaptureFixture[str]) -> None:
    plan = _json(capsys, "generate-plan", "--source", "src-a", "--target", "new_platform")
    wave1 = plan["waves"][1]["wave_id"]
    assert main(["gates", wave1, "--override", "business_rules", "--reason", "x"]) == 1
    err = capsys.readouterr().err
    assert "at least 3 characters" in err and err.count("\n") == 1


def test_rollback_dry_run_then_asks_then_yes(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    wave0 = _completed_wave(capsys)
    preview = _json(capsys, "wave", "rollback", wave0, "--dry-run")
    assert preview["dry_run"] is True and preview["status"] == "completed"
    assert preview["would_compensate"][0] == "validate"
    assert _json(capsys, "wave", "status", wave0)["status"] == "completed"

    _answer(monkeypatch, "n\n")
    assert main(["wave", "rollback", wave0]) == 1
    assert "not confirmed" in capsys.readouterr().err
    assert _json(capsys, "wave", "status", wave0)["status"] == "completed"

    _answer(monkeypatch, "")
    assert _json(capsys, "wave", "rollback", wave0, "--yes")["status"] == "compensated"


def test_gc_dry_run_and_confirmation(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    wave0 = _completed_wave(capsys)
    preview = _json(capsys, "gc", "--older-than", "0d", "--dry-run")
    assert preview["dry_run"] is True and preview["waves"] == [wave0]
    assert preview["rows"]["wave_policy"] > 0

    _answer(monkeypatch, "n\n")
    assert main(["gc", "--older-than", "0d"]) == 1
    capsys.readouterr()
    _answer(monkeypatch, "y\n")
    swept = _json(capsys, "gc", "--older-than", "0d")
    assert swept["dry_run"] is False and swept["waves"] == [wave0]
    assert _json(capsys, "gc", "--older-than", "0d")["waves"] == []


def test_locate_unknown_policy_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["locate", "NO-SUCH-POLICY"]) == 1
    err = capsys.readouterr().err
    assert "nothing is recorded about policy 'NO-SUCH-POLICY'" in err and err.count("\n") == 1


def test_replay_unknown_namespace_lists_known_ones(capsys: pytest.CaptureFixture[str]) -> None:
    _completed_wave(capsys)
    assert main(["replay", "--namespace", "nosuch"]) == 1
    err = capsys.readouterr().err
    assert "no entries in namespace 'nosuch'" in err and "waves" in err
    assert _json(capsys, "replay", "--namespace", "waves")["replayed"] > 0
