"""Sample estates ingested into a fresh workspace (test helper)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from core.settings import Settings
from core.store import open_store

SEEDS = (3, 7, 11)
POLICIES = 2000  # the acceptance size of issue 15


@dataclass
class IngestedEstate:
    """A generated estate, its workspace and the source id of every estate source."""

    root: Path
    settings: Settings
    engine: Engine
    ids: dict[str, str]  # source name -> source id
    policies: int

    @property
    def names(self) -> dict[str, str]:
        return {v: k for k, v in self.ids.items()}

    def truth(self) -> dict[str, Any]:
        return json.loads((self.root / "ground_truth" / "relationships.json").read_text("utf-8"))


def ingest_estate(base: Path, *, policies: int, seed: int) -> IngestedEstate:
    """Generate an estate under ``base`` and ingest every source into a fresh workspace."""
    from evals.demo import sources_step
    from evals.estate import generate_estate

    root = base / "estate"
    generate_estate(root, policies=policies, seed=seed)
    settings = Settings(home=base / "ws", embedding_provider="none")
    engine = open_store(settings)
    staged = sources_step(engine, settings, root)
    ids = {row["name"]: row["source_id"] for row in staged["sources"]}
    return IngestedEstate(root, settings, engine, ids, policies)
