"""Alembic, driven from code: no alembic.ini to find, the engine comes from our settings."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def head_revision() -> str:
    heads = ScriptDirectory(str(MIGRATIONS_DIR)).get_heads()
    return heads[0]


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade_to_head(engine: Engine) -> None:
    """Migrate the schema; a no-op (one cheap read) when it is already current."""
    if current_revision(engine) == head_revision():
        return
    try:
        command.upgrade(alembic_config(engine), "head")
    except (OperationalError, ProgrammingError, IntegrityError):
        # Another process migrated the same fresh store at the same moment: fine if it got there.
        if current_revision(engine) != head_revision():
            raise
