"""Executor configuration: the default is local; bad settings fail at once with one message."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from pydantic import ValidationError

from core.errors import ConfigError
from core.executors import (
    LocalExecutor,
    ProcessExecutor,
    RayExecutor,
    check_store_for,
    make_executor,
)
from core.settings import Settings
from tests.tools.waves.executor_helpers import square_table

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_default_executor_is_local(tmp_path: Path) -> None:
    assert isinstance(make_executor(Settings(home=tmp_path)), LocalExecutor)


def test_local_and_process_pool_give_the_same_ordered_results() -> None:
    expected = [square_table(n) for n in range(7)]
    assert list(LocalExecutor().map(square_table, range(7))) == expected
    pool = ProcessExecutor(2, window=3)
    try:
        assert list(pool.map(square_table, range(7))) == expected
    finally:
        pool.close()


def test_sqlite_with_a_remote_executor_is_refused_before_anything_starts(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, executor="ray", ray_address="ray://10.255.0.1:10001")
    with pytest.raises(ConfigError) as caught:
        make_executor(settings)
    message = caught.value.message
    assert "SQLite" in message and "PostgreSQL" in message and "DATA_MASH_DB_URL" in message
    # On this machine (no address) SQLite is fine: every worker shares the file system.
    assert make_executor(Settings(home=tmp_path, executor="ray")).remote is False


def test_the_target_database_is_checked_too() -> None:
    remote = RayExecutor(address="ray://10.255.0.1:10001", workers=2)
    check_store_for(remote, PG)
    with pytest.raises(ConfigError, match="target is a SQLite file"):
        check_store_for(remote, "sqlite:////tmp/platform.sqlite", "target")


def test_an_unreachable_cluster_is_one_clear_error(tmp_path: Path, ray_stopped: None) -> None:
    port = _closed_port()
    executor = make_executor(
        Settings(home=tmp_path, executor="ray", ray_address=f"ray://127.0.0.1:{port}", db_url=PG)
    )
    with pytest.raises(ConfigError) as caught:
        list(executor.map(square_table, range(2)))
    assert f"cannot reach the Ray cluster at ray://127.0.0.1:{port}" in caught.value.message
    assert "DATA_MASH_RAY_ADDRESS" in caught.value.message


def test_a_malformed_address_names_the_setting(tmp_path: Path, ray_stopped: None) -> None:
    executor = RayExecutor(address="ray://head-without-port", workers=2)
    with pytest.raises(ConfigError, match="is not host:port"):
        list(executor.map(square_table, range(1)))


def test_an_unknown_executor_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="executor"):
        Settings(home=tmp_path, executor="dask")


def test_the_cli_refuses_sqlite_with_a_remote_cluster_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cli.main import main

    monkeypatch.setenv("DATA_MASH_HOME", str(tmp_path / "ws"))
    monkeypatch.setenv("DATA_MASH_EXECUTOR", "ray")
    monkeypatch.setenv("DATA_MASH_RAY_ADDRESS", "ray://10.255.0.1:10001")
    assert main(["wave", "list", "--json"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "SQLite" in err and "Traceback" not in err
