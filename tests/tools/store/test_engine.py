from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlmodel import SQLModel

from core.errors import ConfigError
from core.settings import Settings
from core.store import open_store
from core.store.engine import table_names
from core.store.migrate import current_revision, head_revision

# These tests open and migrate the store themselves: on PostgreSQL it starts empty.
pytestmark = pytest.mark.empty_store


def test_open_store_migrates_to_head(store: Engine) -> None:
    assert current_revision(store) == head_revision()
    assert {"audit_entry", "audit_policy", "policy_location", "policy_move"} <= table_names(store)


def test_models_match_newest_migration(store: Engine) -> None:
    # Every table the models declare exists with every declared column after migrating.
    from sqlalchemy import inspect

    import core.store.models  # noqa: F401

    inspector = inspect(store)
    for name, table in SQLModel.metadata.tables.items():
        columns = {c["name"] for c in inspector.get_columns(name)}
        assert {c.name for c in table.columns} == columns, name


def test_reopening_is_a_noop(store_settings: Settings) -> None:
    first = open_store(store_settings)
    second = open_store(store_settings)
    assert current_revision(second) == head_revision()
    first.dispose()
    second.dispose()


def test_sqlite_pragmas(settings: Settings) -> None:
    engine = open_store(settings)
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30000
    assert (settings.home / "store.sqlite").exists()


def test_bad_url_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="DATA_MASH_DB_URL.*is not a database URL"):
        open_store(Settings(home=tmp_path, db_url="not a url"))


def test_unsupported_backend(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unsupported database 'mysql'"):
        open_store(Settings(home=tmp_path, db_url="mysql://root@localhost/test"))


def test_unreachable_server(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, db_url="postgresql+psycopg://nobody@127.0.0.1:1/none")
    with pytest.raises(ConfigError, match="cannot connect to the store"):
        open_store(settings)


def test_password_is_never_in_the_message(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, db_url="postgresql+psycopg://u:s3cret@127.0.0.1:1/none")
    with pytest.raises(ConfigError) as info:
        open_store(settings)
    assert "s3cret" not in str(info.value)
    assert "s3cret" not in str(settings.redacted())


def test_unwritable_workspace(tmp_path: Path) -> None:
    # Tests run as root here, so permissions cannot lock a folder: a file in the way can.
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError, match="DATA_MASH_HOME=.*cannot create the workspace"):
        open_store(Settings(home=blocker / "ws"))
