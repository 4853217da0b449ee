"""Fixtures shared by the whole suite: a workspace per test and the store on SQLite or PostgreSQL.

PostgreSQL tests use the server named by DATA_MASH_TEST_PG_URL (CI sets it and
DATA_MASH_REQUIRE_PG=1, so they fail there rather than skip). Each test gets a fresh database.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

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


@pytest.fixture
def pg_url(pg_admin: Engine) -> Iterator[str]:
    """URL of a fresh, empty PostgreSQL database, dropped after the test."""
    name = f"dm_test_{uuid.uuid4().hex[:12]}"
    with pg_admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = pg_admin.url.set(database=name).render_as_string(hide_password=False)
    yield url
    with pg_admin.connect() as conn:
        conn.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
            {"n": name},
        )
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))


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
    """Settings whose store is SQLite, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return Settings(home=workspace)
    return Settings(home=workspace, db_url=request.getfixturevalue("pg_url"))


@pytest.fixture
def store(store_settings: Settings) -> Iterator[Engine]:
    from core.store import open_store

    engine = open_store(store_settings)
    yield engine
    engine.dispose()
