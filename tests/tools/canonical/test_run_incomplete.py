"""A mapping run killed part-way (real SIGKILL) is incomplete, and every consumer says so.

`route --dry-run`, `export` and `generate-plan` refuse its output with a message naming the
command that resumes it; once resumed, they work. Nothing is exported from a partial run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine

from cli.main import main
from core.errors import InputError
from core.settings import Settings
from tests.tools.canonical.helpers import BASE_RULES, MakeSource, policy_table
from tools.canonical import approve_mapping, create_mapping, read_canonical
from tools.canonical.output import output_dir

REPO = Path(__file__).resolve().parents[3]
ROWS = 1000
RULES = """\
routing_rules:
  version: "1.0.0"
  rules:
    - name: "everything"
      condition: true
      target: "CoexistenceBridge"
      priority: 1
"""


@pytest.fixture
def settings(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("DATA_MASH_HOME", str(workspace))
    monkeypatch.setenv("DATA_MASH_EMBEDDING_PROVIDER", "none")
    monkeypatch.delenv("DATA_MASH_DB_URL", raising=False)
    monkeypatch.delenv("DATA_MASH_TENANT", raising=False)
    return Settings(home=workspace, batch_size=100)


def _kill_mapping_run(home: Path, mapping_id: str, after_records: int) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.tools.canonical.mapping_runner",
            str(home),
            mapping_id,
            str(after_records),
        ],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    marker = home / "at-point"
    deadline = time.monotonic() + 120
    while not marker.exists():
        if proc.poll() is not None:
            raise AssertionError(proc.stderr.read().decode() if proc.stderr else "runner died")
        assert time.monotonic() < deadline, "the runner never reached its point"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def test_consumers_refuse_a_killed_mapping_run_until_it_is_resumed(
    engine: Engine,
    settings: Settings,
    make_source: MakeSource,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source_id = make_source(policy_table(ROWS), part_rows=333)
    mapping_id = create_mapping(engine, source_id, BASE_RULES).mapping_id
    approve_mapping(engine, mapping_id)
    _kill_mapping_run(settings.home, mapping_id, after_records=400)
    folder = output_dir(settings, "default", mapping_id, 1)
    assert len(list(folder.glob("part-*.parquet"))) == 4  # batch 5 of 10 never came
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)

    commands = [
        ["route", source_id, "--rules", str(rules), "--dry-run", "--json"],
        ["export", mapping_id, "--json"],
        ["generate-plan", "--source", source_id, "--target", "new_platform", "--json"],
    ]
    for command in commands:
        capsys.readouterr()
        assert main(command) == 1, command
        err = capsys.readouterr().err
        assert "is incomplete" in err and f"data-mash mapping run {mapping_id}" in err, err
        assert "Traceback" not in err
    exports = settings.path("exports", mapping_id)
    assert not exports.exists() or not any(exports.iterdir())  # nothing half-exported
    with pytest.raises(InputError, match="incomplete"):
        next(read_canonical(settings, mapping_id, 1, tenant="default"))

    assert main(["mapping", "run", mapping_id, "--json"]) == 0
    assert len(list(folder.glob("part-*.parquet"))) == 10
    for command in commands:
        assert main(command) == 0, command
