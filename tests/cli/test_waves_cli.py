"""`generate-plan`, `wave run|rollback|status`, `gates`, `gc`: JSON keys, exit codes, errors."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from cli.commands import waves as wave_commands
from cli.main import main
from core.settings import Settings
from core.store import open_store
from core.store.leases import hold_lease
from tests.tools.waves.helpers import canonical_table, make_context, register_source, write_parts


@pytest.fixture(autouse=True)
def estate(workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATA_MASH_HOME", str(workspace))
    monkeypatch.setenv("DATA_MASH_BATCH_SIZE", "100")
    monkeypatch.delenv("DATA_MASH_DB_URL", raising=False)
    monkeypatch.delenv("DATA_MASH_TENANT", raising=False)
    settings = Settings(home=workspace, batch_size=100)
    engine = open_store(settings)
    folders = {
        "src-a": write_parts(tmp_path / "a", canonical_table(150, prefix="A", bad_every=50), 100)
    }
    register_source(engine, settings, "src-a", 150)
    engine.dispose()
    monkeypatch.setattr(
        wave_commands,
        "_context",
        lambda state: make_context(state.engine, state.settings, folders),
    )


def _json(capsys: pytest.CaptureFixture[str], *args: str, code: int = 0) -> dict[str, Any]:
    assert main([*args, "--json"]) == code
    out = capsys.readouterr().out
    return json.loads(out)


def test_plan_gates_run_status_rollback_gc(capsys: pytest.CaptureFixture[str]) -> None:
    plan = _json(
        capsys,
        "generate-plan",
        "--source",
        "src-a",
        "--target",
        "new_platform",
        "--canonical",
        "policy_v1",
    )
    assert {"plan_id", "waves"} <= set(plan)
    wave0, wave1 = plan["waves"][0]["wave_id"], plan["waves"][1]["wave_id"]
    gates = _json(capsys, "gates", wave1)
    assert gates["passed"] is False
    assert main(["wave", "run", wave1, "--json"]) == 1
    assert "blocked by gate" in capsys.readouterr().err
    gates = _json(
        capsys, "gates", wave1, "--override", "business_rules", "--reason", "waived premiums"
    )
    assert gates["passed"] is True
    run = _json(capsys, "wave", "run", wave0)
    assert {"wave_id", "status", "steps", "migrated", "failed"} <= set(run)
    assert run["status"] == "completed" and run["migrated"] == 147
    status = _json(capsys, "wave", "status", wave0)
    assert status["steps"]["validate"]["status"] == "completed"
    back = _json(capsys, "wave", "rollback", wave0)
    assert back["status"] == "compensated" and back["migrated"] == 0
    swept = _json(capsys, "gc", "--older-than", "0d")
    assert swept["waves"] == [wave0]


def test_user_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["wave", "status", "nope", "--json"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no wave 'nope'" in err
    assert main(["gc", "--older-than", "soon"]) == 1
    assert "is not an age" in capsys.readouterr().err
    assert main(["gates", "w", "--override", "x"]) == 1
    assert "--override needs --reason" in capsys.readouterr().err
    assert main(["generate-plan", "--source", "src-a", "--target", "mars", "--json"]) == 1
    assert "no migration target 'mars'" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["generate-plan"], ["reroute"]])
def test_help_shows_target_names_with_their_aliases(
    capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    assert main([*command, "--help"]) == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert "new_platform" in shown and "NewPlatformAPI" in shown and "LegacyBatch" in shown


def test_generate_plan_takes_an_alias_and_stores_the_canonical_name(
    capsys: pytest.CaptureFixture[str],
) -> None:
    plan = _json(capsys, "generate-plan", "--source", "src-a", "--target", "NewPlatformAPI")
    assert plan["target"] == "new_platform"
    assert main(["generate-plan", "--source", "src-a", "--target", "Mars"]) == 1
    assert "no migration target 'Mars'" in capsys.readouterr().err


def test_a_wave_another_process_holds_is_refused_in_one_line(
    capsys: pytest.CaptureFixture[str], workspace: Path
) -> None:
    plan = _json(capsys, "generate-plan", "--source", "src-a", "--target", "new_platform")
    wave0 = plan["waves"][0]["wave_id"]
    engine = open_store(Settings(home=workspace))
    with hold_lease(engine, "default", f"wave:{wave0}", what=f"wave run {wave0}"):
        for command in (["wave", "run", wave0], ["wave", "rollback", wave0]):
            assert main(command) == 1
            err = capsys.readouterr().err.strip()
            assert err.count("\n") == 0 and "Traceback" not in err
            assert f"wave run {wave0} is already running (pid {os.getpid()} on " in err
    assert _json(capsys, "wave", "status", wave0)["status"] == "pending"  # nothing ran
    engine.dispose()
