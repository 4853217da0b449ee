"""One small estate per test session, generated across several chunks; and the matcher's
evaluation estate (the evaluation seed) with its lexical evaluation, shared by the matching
tests (both read it, none writes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from estate_readers import small_chunk_estate

from evals.estate import EstateManifest, generate_estate
from evals.matching_estate import EVALUATION_SEED, evaluate_on_estate

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


@pytest.fixture(scope="session")
def evaluation_estate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample estate the matcher is evaluated on (500 policies, the evaluation seed)."""
    out = tmp_path_factory.mktemp("evaluation-estate") / "e"
    generate_estate(out, policies=500, seed=EVALUATION_SEED)
    return out


@pytest.fixture(scope="session")
def lexical_evaluation(evaluation_estate: Path) -> dict[str, Any]:
    """``evaluate_on_estate`` of that estate without the embedding model (lexical mode)."""
    return evaluate_on_estate(evaluation_estate)
