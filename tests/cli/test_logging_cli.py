"""Structured logs from the command line: JSON lines, levels, correlation ids, no secrets."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import MetaData, create_engine, select

from cli.main import main
from core.settings import Settings
from core.store import open_store
from tests.servers.clients import REPO, free_port
from tools.audit import AuditLog

CSV = "PolicyNo;Premium\nP1;1,50\nP2;2,50\n"


@pytest.fixture(autouse=True)
def _env(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATA_MASH_HOME", str(workspace))
    monkeypatch.setenv("DATA_MASH_EMBEDDING_PROVIDER", "none")
    monkeypatch.delenv("DATA_MASH_DB_URL", raising=False)
    monkeypatch.delenv("DATA_MASH_LOG_LEVEL", raising=False)
    monkeypatch.delenv("DATA_MASH_LOG_FORMAT", raising=False)


def _lines(err: str) -> list[dict]:
    return [json.loads(line) for line in err.splitlines() if line.startswith("{")]


def _ingest_args(folder: Path) -> list[str]:
    path = folder / "b.csv"
    path.write_text(CSV)
    return ["ingest", str(path), "--format", "csv", "-o", "delimiter=;", "-o", "decimal=,"]


def test_json_log_lines_carry_the_correlation_id_of_the_audit_entries(
    workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--log-format", "json", *_ingest_args(tmp_path), "--json"]) == 0
    captured = capsys.readouterr()
    json.loads(captured.out)  # stdout is still one JSON document
    lines = _lines(captured.err)
    assert lines, captured.err
    ids = {line["correlation_id"] for line in lines}
    assert len(ids) == 1
    (command_id,) = ids
    assert {"command_started", "command_finished"} <= {line["event"] for line in lines}
    entries = list(AuditLog(open_store(Settings(home=workspace))).replay())
    assert entries and {e.correlation_id for e in entries} == {command_id}
    # The next command has its own id.
    assert main(["--log-format", "json", "sources", "--json"]) == 0
    assert {line["correlation_id"] for line in _lines(capsys.readouterr().err)} != {command_id}


def test_levels_and_library_noise(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A fresh workspace runs the Alembic migrations: their INFO lines stay off unless -vv.
    assert main(["--log-format", "json", *_ingest_args(tmp_path)]) == 0
    lines = _lines(capsys.readouterr().err)
    assert lines and not [line for line in lines if line["logger"].startswith("alembic")]
    assert main(["--log-format", "json", "-q", "sources"]) == 0
    assert _lines(capsys.readouterr().err) == []
    assert main(["--log-format", "json", "-vv", "sources"]) == 0
    debug = _lines(capsys.readouterr().err)
    assert "settings_loaded" in {line["event"] for line in debug}
    # Console format (the default) prints nothing below WARNING.
    assert main(["sources"]) == 0
    assert "command_started" not in capsys.readouterr().err


def test_log_level_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATA_MASH_LOG_LEVEL", "debug")
    assert main(["--log-format", "json", "sources"]) == 0
    assert "settings_loaded" in {line["event"] for line in _lines(capsys.readouterr().err)}


OPENAI_SECRET = "sk-test-Zq8vN3pL0wX7rT2yK5mB"
DB_SECRET = "PgS3cretPassw0rd"


@pytest.mark.postgres
def test_no_secret_in_any_output(tmp_path: Path, workspace: Path, pg_url: str) -> None:
    """Secrets set in the environment appear in no output of any command, at any level,
    nor in the store."""
    with_password = pg_url.replace("postgres@", f"postgres:{DB_SECRET}@", 1)
    assert DB_SECRET in with_password  # trust authentication ignores the password
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(REPO),
        "HF_HUB_OFFLINE": "1",
        "DATA_MASH_HOME": str(workspace),
        "DATA_MASH_EMBEDDING_PROVIDER": "none",
        "DATA_MASH_DB_URL": with_password,
        "OPENAI_API_KEY": OPENAI_SECRET,
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
    }
    unreachable = with_password.rsplit("@", 1)[0] + f"@127.0.0.1:{free_port()}/nowhere"
    runs = [
        ({}, ["-vv", "--log-format", "json", *_ingest_args(tmp_path), "--json"]),
        ({}, ["-vv", "sources", "--json"]),
        ({}, ["-vv", "--log-format", "json", "replay", "--since", "1h", "--json"]),
        ({}, ["-vv", "token", "create", "--role", "viewer"]),
        ({}, ["--debug", "-vv", "head", "nope"]),
        ({"DATA_MASH_DB_URL": unreachable}, ["-vv", "--debug", "sources"]),
        ({}, ["-vv", "--log-format", "json", "doctor", "--json"]),
        ({}, ["-vv", "doctor"]),
    ]
    for extra, args in runs:
        done = subprocess.run(
            [sys.executable, "-m", "cli.main", *args],
            env={**env, **extra},
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        output = done.stdout + done.stderr
        assert output, args
        for secret in (OPENAI_SECRET, DB_SECRET):
            assert secret not in output, (args, output)
    # The servers: their logs at DEBUG and every answer of their open routes.
    for name in ("content", "api"):
        output = _server_output(name, env)
        # It did talk: readiness checks answered and logged, the store opened with the password.
        assert '"workspace:writable"' in output and '"health_checked"' in output, output[-2000:]
        for secret in (OPENAI_SECRET, DB_SECRET):
            assert secret not in output, (name, output)
    engine = create_engine(pg_url)
    meta = MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        stored = "\n".join(
            repr(tuple(row)) for table in meta.sorted_tables for row in conn.execute(select(table))
        )
    engine.dispose()
    assert stored and OPENAI_SECRET not in stored and DB_SECRET not in stored


def _server_output(name: str, env: dict[str, str]) -> str:
    """Everything a server says while probed, scraped and sent a bad MCP request: its stderr
    at DEBUG in JSON, and the bodies and headers of its answers."""
    port = free_port()
    where = ["--http", f"127.0.0.1:{port}"] if name != "api" else ["--port", str(port)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "-vv", "--log-format", "json", "serve", name, *where],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    answers: list[str] = []
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            try:
                httpx.get(base + "/livez", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.3)
        for path in ("/livez", "/readyz", "/metrics"):
            answer = httpx.get(base + path, timeout=30)
            answers.append(f"{answer.status_code} {dict(answer.headers)} {answer.text}")
        path = "/mcp" if name != "api" else "/api/v1/waves"
        answer = httpx.post(base + path, content=b"{not json", timeout=30)
        answers.append(f"{answer.status_code} {dict(answer.headers)} {answer.text}")
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    return "\n".join([*answers, out, err])


def test_redaction_by_key_value_and_url(capsys: pytest.CaptureFixture[str]) -> None:
    from core.logs import configure_logging, get_logger, register_secret

    configure_logging(fmt="json", level="INFO")
    register_secret("registered-secret-value")
    get_logger("probe").info(
        "probe_logged",
        db_url="postgresql+psycopg://user:url-password@db:5432/x",
        api_key="plain-key",
        token_id="public-id",
        note="it holds registered-secret-value inside",
    )
    (line,) = _lines(capsys.readouterr().err)
    assert line["db_url"] == "postgresql+psycopg://user:***@db:5432/x"
    assert line["api_key"] == "***"
    assert line["token_id"] == "public-id"
    assert line["note"] == "it holds *** inside"
