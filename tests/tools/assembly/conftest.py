"""Sample estates ingested into a workspace, one per seed, shared by the assembly tests."""

from __future__ import annotations

import pytest
from assembly_estates import POLICIES, SEEDS, IngestedEstate, ingest_estate


@pytest.fixture(scope="session", params=SEEDS, ids=[f"seed{s}" for s in SEEDS])
def seeded_estate(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> IngestedEstate:
    seed = request.param
    return ingest_estate(tmp_path_factory.mktemp(f"estate{seed}"), policies=POLICIES, seed=seed)


@pytest.fixture(scope="session")
def estate7(tmp_path_factory: pytest.TempPathFactory) -> IngestedEstate:
    return ingest_estate(tmp_path_factory.mktemp("estate7small"), policies=1000, seed=7)
