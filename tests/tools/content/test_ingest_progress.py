"""Ingest progress is real for every format: it moves, names its unit and ends at 100 %."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from core.settings import Settings
from core.store import open_store
from tools.content.ingest import ingest_file, progress_unit

ROWS = 100  # records in each sample_files file (tests/tools/content/conftest.py)


@pytest.fixture
def quiet_settings(workspace: Path) -> Settings:
    return Settings(home=workspace, embedding_provider="none", batch_size=100)


@pytest.fixture
def engine(quiet_settings: Settings) -> Engine:
    return open_store(quiet_settings)


@pytest.mark.parametrize(
    ("fmt", "unit"),
    [
        ("xlsx", "records"),
        ("sqlite", "records"),
        ("xml", "bytes"),
        ("csv", "bytes"),
        ("jsonl", "bytes"),
        ("parquet", "bytes"),
    ],
)
def test_progress_moves_and_finishes(
    fmt: str,
    unit: str,
    sample_files: dict[str, tuple[Path, dict]],
    engine: Engine,
    quiet_settings: Settings,
) -> None:
    path, options = sample_files[fmt]
    calls: list[tuple[int, int]] = []
    steps: list[str] = []
    ingest_file(
        engine,
        quiet_settings,
        path,
        fmt=fmt,
        options=options,
        progress=lambda done, total: calls.append((done, total)),
        status=steps.append,
    )
    assert progress_unit(fmt) == unit
    assert calls, "no progress reported"
    assert calls[-1][0] == calls[-1][1] > 0  # ends at 100 %
    if unit == "records":
        assert calls[-1] == (ROWS, ROWS)
        assert calls[0][1] == ROWS  # the total is known before the first batch
    else:
        assert calls[-1][1] == path.stat().st_size
    assert any(done > 0 for done, _ in calls[:-1]) or len(calls) == 1
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)  # never goes backwards
    assert any("embedding model" in s for s in steps) and any("profil" in s for s in steps)
