"""Ingest under concurrency and crashes: real processes, real SIGKILL, SQLite and PostgreSQL.

Two identical ingests at once must both end well (one stages, the other waits and reuses) and
leave a readable source; two commands on a brand-new workspace must not race on creating the
store; an ingest killed mid-way leaves nothing that stays behind, and one killed while indexing
is indexed by the next ingest of the same file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from core.settings import Settings
from core.store import open_store
from tools.content import indexing
from tools.content.ingest import INDEXED_MARKER, ingest_file
from tools.content.sources import SourceRegistry

REPO = Path(__file__).resolve().parents[3]
ROWS = 20_000


def _big_csv(tmp_path: Path) -> Path:
    path = tmp_path / "policies.csv"
    lines = ["policy_id,premium,holder"]
    lines += [f"P{i:06d},{i % 977}.25,Holder {i % 313}" for i in range(ROWS)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _env(settings: Settings) -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "DATA_MASH_HOME": str(settings.home),
        "DATA_MASH_EMBEDDING_PROVIDER": "none",
    }
    env.pop("DATA_MASH_DB_URL", None)
    if settings.db_url:
        env["DATA_MASH_DB_URL"] = settings.db_url
    return env


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "cli.main", *args]


def _run_together(commands: list[list[str]], env: dict[str, str]) -> list[tuple[int, str, str]]:
    procs = [
        subprocess.Popen(
            c, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for c in commands
    ]
    outcomes = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        outcomes.append((proc.returncode, out, err))
    return outcomes


def _json_of(
    args: list[str],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Any:
    """A command's JSON, run in this process (reading what the racing processes left)."""
    from cli.main import main

    monkeypatch.setenv("DATA_MASH_HOME", str(settings.home))
    monkeypatch.setenv("DATA_MASH_EMBEDDING_PROVIDER", "none")
    if settings.db_url:
        monkeypatch.setenv("DATA_MASH_DB_URL", settings.db_url)
    else:
        monkeypatch.delenv("DATA_MASH_DB_URL", raising=False)
    code = main([*args, "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def test_two_identical_ingests_at_once_both_end_well(
    tmp_path: Path,
    store_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Brand-new workspace too: both processes also race on creating the store."""
    file = _big_csv(tmp_path)
    env = _env(store_settings)
    command = _cli("ingest", str(file), "--format", "csv", "--json")
    outcomes = _run_together([command, command], env)
    for code, _out, err in outcomes:
        assert code == 0, err
    results = [json.loads(out) for _code, out, _err in outcomes]
    assert {r["source_id"] for r in results} == {results[0]["source_id"]}
    assert sorted(r["reused"] for r in results) == [False, True]
    assert all(r["records"] == ROWS for r in results)

    source_id = results[0]["source_id"]
    head_args = ["head", source_id, "--limit", "3", "--offset", "19998"]
    head = _json_of(head_args, store_settings, monkeypatch, capsys)
    assert head["total"] == ROWS and [r["policy_id"] for r in head["records"]] == [
        "P019998",
        "P019999",
    ]
    profile = _json_of(["profile", source_id], store_settings, monkeypatch, capsys)
    assert {c["name"] for c in profile["columns"]} == {"policy_id", "premium", "holder"}
    staging = store_settings.home / "staging" / "default"
    assert [p.name for p in staging.iterdir()] == [source_id]  # no partial folder left over


@pytest.mark.empty_store
def test_many_commands_on_a_brand_new_workspace_create_the_store_once(
    store_settings: Settings,
) -> None:
    env = _env(store_settings)
    outcomes = _run_together([_cli("sources", "--json")] * 4, env)
    for code, out, err in outcomes:
        assert code == 0, err
        assert json.loads(out)["sources"] == []


def _kill_at(point: str, home: Path, file: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.tools.content.ingest_runner", str(home), str(file), point],
        env=env,
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
    marker.unlink()


def test_ingest_killed_while_staging_leaves_no_partial_folder(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    file = _big_csv(tmp_path)
    _kill_at("staging", home, file)
    staging = home / "staging" / "default"
    assert [p.name for p in staging.iterdir() if ".partial-" in p.name]  # the crash left one

    settings = Settings(home=home, embedding_provider="none")
    result = ingest_file(open_store(settings), settings, file, fmt="csv", options={"header": True})
    assert not result.reused and result.records == ROWS
    assert [p.name for p in staging.iterdir()] == [result.source_id]


def test_ingest_of_another_file_also_sweeps_a_dead_ingests_partial(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    _kill_at("staging", home, _big_csv(tmp_path))
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    settings = Settings(home=home, embedding_provider="none")
    result = ingest_file(open_store(settings), settings, other, fmt="csv", options={})
    staging = home / "staging" / "default"
    assert [p.name for p in staging.iterdir()] == [result.source_id]


class _RecordingIndex:
    def __init__(self) -> None:
        self.sources: list[str] = []

    def upsert_column_documents(self, tenant: str, docs: list[Any]) -> int:
        self.sources.extend({d.source_id for d in docs})
        return len(docs)


def test_ingest_killed_while_indexing_is_indexed_by_the_next_ingest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "ws"
    file = _big_csv(tmp_path)
    _kill_at("indexing", home, file)
    settings = Settings(home=home)
    engine = open_store(settings)
    [staged] = SourceRegistry(engine, tenant="default").list()  # committed before the kill
    assert not (Path(staged.staging_dir) / INDEXED_MARKER).exists()

    index = _RecordingIndex()
    monkeypatch.setattr(indexing, "vector_index", lambda _settings: index)
    again = ingest_file(engine, settings, file, fmt="csv", options={"header": True})
    assert again.reused and again.source_id == staged.source_id
    assert index.sources == [staged.source_id]  # indexing resumed
    assert (Path(staged.staging_dir) / INDEXED_MARKER).exists()
    ingest_file(engine, settings, file, fmt="csv", options={"header": True})
    assert index.sources == [staged.source_id]  # and is not redone once complete


def test_reingest_restages_a_source_whose_folder_is_gone(tmp_path: Path) -> None:
    import shutil

    settings = Settings(home=tmp_path / "ws", embedding_provider="none")
    engine = open_store(settings)
    file = _big_csv(tmp_path)
    first = ingest_file(engine, settings, file, fmt="csv", options={"header": True})
    info = SourceRegistry(engine, tenant="default").get(first.source_id)
    shutil.rmtree(info.staging_dir)
    again = ingest_file(engine, settings, file, fmt="csv", options={"header": True})
    assert not again.reused and again.records == ROWS
    assert SourceRegistry(engine, tenant="default").get(first.source_id).records_path.is_dir()
