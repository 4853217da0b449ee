"""Sources of the sample estate ingested into a fresh workspace, for the server tests."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import Engine

from core.settings import Settings
from core.store import open_store
from tools.content.ingest import ingest_entry
from tools.content.source_config import load_source_config


class StagedSources(NamedTuple):
    settings: Settings
    engine: Engine
    ids: dict[str, str]  # source name -> source id


def stage_estate_sources(
    tmp_path: Path, home: Path, names: Iterable[str], *, policies: int = 600
) -> StagedSources:
    """Generate the sample estate (seed 4) under ``tmp_path`` and ingest only ``names``."""
    from evals.estate import generate_estate  # noqa: PLC0415  (the generator is heavy)

    generate_estate(tmp_path / "estate", policies=policies, seed=4)
    settings = Settings(home=home, embedding_provider="none")
    engine = open_store(settings)
    config = load_source_config(tmp_path / "estate" / "sources.yaml")
    ids = {}
    for name in names:
        entry = config.source(name)
        ids[name] = ingest_entry(
            engine,
            settings,
            entry,
        ).source_id
    return StagedSources(settings, engine, ids)
