"""One small estate per test session, generated across several chunks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from estate_readers import small_chunk_estate

from evals.estate import EstateManifest

ESTATE_POLICIES = 1500


@pytest.fixture(scope="session")
def estate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, EstateManifest]:
    root = tmp_path_factory.mktemp("estate")
    manifest = small_chunk_estate(root, ESTATE_POLICIES, seed=11)
    return root, manifest


@pytest.fixture(scope="session")
def source_configs(estate: tuple[Path, EstateManifest]) -> list[dict[str, Any]]:
    root, _ = estate
    config = yaml.safe_load((root / "sources.yaml").read_text("utf-8"))
    assert config["version"] == 1
    return config["sources"]
