"""The estate of an eval run, generated (or reused) and ingested in the run's workspace."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.store import open_store
from evals.demo import estate_step
from evals.estate import EstateManifest
from evals.result import EvalConfig
from tools.content.ingest import ingest_entry
from tools.content.profiling import load_profile
from tools.content.source_config import load_source_config
from tools.content.sources import SourceRegistry


@dataclass
class IngestedSource:
    """One estate source after ``ingest_file``: its config entry and the staged source."""

    name: str
    system: str
    format: str
    entry: Any  # tools.content.source_config.SourceEntry
    info: Any  # tools.content.sources.SourceInfo
    profile: dict[str, Any]


def estate_for(config: EvalConfig) -> tuple[Path, EstateManifest]:
    """Generate the estate for ``config.policies`` / ``config.seed`` in the workspace (cached)."""

    return estate_step(
        config.get_settings(), policies=config.policies, seed=config.seed, progress=config.progress
    )


def ingest_estate(config: EvalConfig, estate: Path) -> list[IngestedSource]:
    """Ingest and profile every source of the estate (idempotent: re-runs reuse staged sources)."""

    settings = config.get_settings()
    engine = open_store(settings)
    try:
        registry = SourceRegistry(engine, tenant=settings.tenant)
        out = []
        entries = load_source_config(estate / "sources.yaml").sources
        for n, entry in enumerate(entries):
            config.note(f"ingest {entry.name}", n, len(entries))
            result = ingest_entry(
                engine,
                settings,
                entry,
            )
            info = registry.get(result.source_id)
            out.append(
                IngestedSource(
                    entry.name, entry.system, entry.format, entry, info, load_profile(info)
                )
            )
        return out
    finally:
        engine.dispose()
