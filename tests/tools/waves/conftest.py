from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from core.settings import Settings
from tests.tools.waves.helpers import FakeTarget, make_context, stage_two_sources
from tools.waves.context import WaveContext


@pytest.fixture
def wave_settings(workspace: Path) -> Settings:
    return Settings(home=workspace, batch_size=100)


@pytest.fixture
def engine(wave_settings: Settings) -> Iterator[Engine]:
    from core.store import open_store

    engine = open_store(wave_settings)
    yield engine
    engine.dispose()


@pytest.fixture
def estate(engine: Engine, wave_settings: Settings, tmp_path: Path) -> dict[str, Path]:
    """Two staged sources with canonical Parquet: 'src-a' (450 policies), 'src-b' (150)."""
    return stage_two_sources(engine, wave_settings, tmp_path, bad_every=10)


@pytest.fixture
def fake_target() -> FakeTarget:
    return FakeTarget()


@pytest.fixture
def wave_context(
    engine: Engine, wave_settings: Settings, estate: dict[str, Path], fake_target: FakeTarget
) -> WaveContext:
    return make_context(engine, wave_settings, estate, target=fake_target)
