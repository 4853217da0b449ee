"""Fixtures: a fresh store and staged sources written straight from Arrow tables."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pytest
from sqlalchemy import Engine

from core.settings import Settings
from core.store import open_store
from tests.tools.canonical.helpers import MakeSource, stage_source


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    """The store of a fresh SQLite workspace."""
    store = open_store(settings)
    yield store
    store.dispose()


@pytest.fixture
def make_source(engine: Engine, settings: Settings) -> MakeSource:
    def make(table: pa.Table, **kwargs: object) -> str:
        return stage_source(engine, settings, table, **kwargs)  # type: ignore[arg-type]

    return make
