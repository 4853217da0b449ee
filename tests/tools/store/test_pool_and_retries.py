"""The store's connection pool comes from settings; its first connection retries transient
failures (a server restarting) and then gives one clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from core.metrics import ERRORS, RETRIES
from core.settings import Settings
from core.store import open_store
from tests.servers.clients import free_port


@pytest.mark.postgres
def test_pool_settings_reach_the_engine(tmp_path: Path, pg_url: str) -> None:
    settings = Settings(
        home=tmp_path,
        db_url=pg_url,
        db_pool_size=3,
        db_max_overflow=2,
        db_pool_recycle_seconds=60,
        db_pool_pre_ping=False,
    )
    engine = open_store(settings)
    try:
        pool = engine.pool
        assert pool.size() == 3
        assert pool._max_overflow == 2  # noqa: SLF001  (no public reader for these)
        assert pool._recycle == 60  # noqa: SLF001
        assert pool._pre_ping is False  # noqa: SLF001
    finally:
        engine.dispose()


def test_unreachable_store_is_retried_then_one_clear_error(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path, db_url=f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none"
    )
    retries = RETRIES.labels("store_connect")._value.get()
    errors = ERRORS.labels("store_connect", "transient")._value.get()
    with pytest.raises(ConfigError, match="cannot connect to the store"):
        open_store(settings)
    assert RETRIES.labels("store_connect")._value.get() - retries == 2
    assert ERRORS.labels("store_connect", "transient")._value.get() - errors == 1
