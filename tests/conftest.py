"""Fixtures shared by the whole suite: a workspace per test and the store on SQLite or PostgreSQL.

PostgreSQL tests use the server named by DATA_MASH_TEST_PG_URL (CI sets it and
DATA_MASH_REQUIRE_PG=1, so they fail there rather than skip). Each test gets a fresh database:
``pg_url`` an empty one; ``store_settings`` a copy of one migrated once per run, unless the test
is marked ``empty_store`` (it tests the migration itself).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from core.executors import RayExecutor
from core.settings import Settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
PG_URL = os.environ.get("DATA_MASH_TEST_PG_URL", "")
REQUIRE_PG = os.environ.get("DATA_MASH_REQUIRE_PG") == "1"


def _pg_admin_engine() -> Engine | None:
    if not PG_URL:
        return None
    engine = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001
        engine.dispose()
        return None
    return engine


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[Engine]:
    engine = _pg_admin_engine()
    if engine is None:
        message = (
            f"PostgreSQL not reachable at DATA_MASH_TEST_PG_URL={PG_URL!r}"
            if PG_URL
            else "DATA_MASH_TEST_PG_URL is not set"
        )
        if REQUIRE_PG:
            pytest.fail(message + " (DATA_MASH_REQUIRE_PG=1)")
        pytest.skip(message + ": PostgreSQL tests skipped")
    yield engine
    engine.dispose()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "empty_store: the PostgreSQL database of store_settings starts empty (the test "
        "migrates it), not as a copy of one migrated once per run",
    )


def _create_database(admin: Engine, template: str | None = None) -> str:
    name = f"dm_test_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    for attempt in range(5):
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
            return name
        except OperationalError:
            # A template may not be copied while a session uses it (an autovacuum worker
            # that started before connections were closed to it): end those and try again.
            if template is None or attempt == 4:
                raise
            _end_sessions(admin, template)
            time.sleep(0.5)
    raise AssertionError("unreachable")


def _end_sessions(admin: Engine, name: str) -> None:
    with admin.connect() as conn:
        conn.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
            {"n": name},
        )


def _drop_database(admin: Engine, name: str) -> None:
    _end_sessions(admin, name)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))


def _database_url(admin: Engine, name: str) -> str:
    return admin.url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def pg_url(pg_admin: Engine) -> Iterator[str]:
    """URL of a fresh, empty PostgreSQL database, dropped after the test."""
    name = _create_database(pg_admin)
    yield _database_url(pg_admin, name)
    _drop_database(pg_admin, name)


@pytest.fixture(scope="session")
def pg_migrated_template(
    pg_admin: Engine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A PostgreSQL database migrated to head once per run (by ``open_store``, as any store
    is), the template of the stores the tests get: copying it costs a fraction of migrating."""
    from core.store import open_store

    name = _create_database(pg_admin)
    home = tmp_path_factory.mktemp("pg-template")
    open_store(Settings(home=home, db_url=_database_url(pg_admin, name))).dispose()
    # Nobody connects to it any more (autovacuum neither): a used template cannot be copied.
    with pg_admin.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false'))
    _end_sessions(pg_admin, name)
    yield name
    _drop_database(pg_admin, name)


@pytest.fixture
def pg_store_url(pg_admin: Engine, pg_migrated_template: str) -> Iterator[str]:
    """URL of a fresh PostgreSQL database already at the newest schema (a copy of the
    session's migrated template), dropped after the test."""
    name = _create_database(pg_admin, template=pg_migrated_template)
    yield _database_url(pg_admin, name)
    _drop_database(pg_admin, name)


@pytest.fixture(scope="session")
def minilm():  # type: ignore[no-untyped-def]
    """The local MiniLM embedder, loaded once per run (loading takes seconds)."""
    from knowledge.embeddings.semantic import LocalMiniLMEmbedder

    return LocalMiniLMEmbedder()


@pytest.fixture(scope="session")
def ray_executor() -> Iterator[RayExecutor]:
    """One local Ray instance (2 workers) for the whole run: each start costs seconds and
    several modules compare their stages on Ray with the local executor. Shut down at the end."""
    pytest.importorskip("ray")
    executor = RayExecutor(address=None, workers=2, max_retries=3)
    yield executor
    executor.close()


@pytest.fixture
def ray_stopped(ray_executor: RayExecutor) -> None:
    """No Ray instance in this process, for tests of joining a cluster (an executor joins the
    instance already running here): the session's local one, if a test started it, is shut
    down; its next use starts it again."""
    ray_executor.close()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    home = tmp_path / "ws"
    home.mkdir()
    return home


@pytest.fixture
def settings(workspace: Path) -> Settings:
    """Settings for a fresh SQLite workspace."""
    return Settings(home=workspace)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_settings(request: pytest.FixtureRequest, workspace: Path) -> Settings:
    """Settings whose store is SQLite, then a fresh PostgreSQL database: at the newest schema
    (migrating each one would cost seconds), or empty for a test marked ``empty_store``."""
    if request.param == "sqlite":
        return Settings(home=workspace)
    empty = request.node.get_closest_marker("empty_store") is not None
    url = request.getfixturevalue("pg_url" if empty else "pg_store_url")
    return Settings(home=workspace, db_url=url)


@pytest.fixture
def store(store_settings: Settings) -> Iterator[Engine]:
    from core.store import open_store

    engine = open_store(store_settings)
    yield engine
    engine.dispose()
