"""What wave planning, gates and the saga need from the rest of data-mash, injectable.

Planning and the saga are plain functions over a :class:`WaveServices`: the canonical records of a
source, a migration target by name, a mapping's field confidences, and reconciliation. The
default wiring imports the other modules lazily, so a module that is not installed yet fails
with one clear message at the moment it is needed, and tests can hand in small fakes instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy import Engine

from core.errors import ConfigError
from core.settings import Settings
from tools.waves.targets.base import MigrationTarget

TARGET_GROUP = "data_mash.targets"
BUILTIN_TARGETS = ("new_platform", "legacy_batch", "coexistence_bridge", "data_quality_queue")

CanonicalSource = Callable[[str], Iterable[pa.RecordBatch]]
TargetFactory = Callable[[str, Mapping[str, Any]], MigrationTarget]
ConfidenceSource = Callable[[str], dict[str, float] | None]
Reconciler = Callable[[Iterable[pa.RecordBatch], Iterable[pa.RecordBatch]], Any]


def missing_module(what: str, module: str) -> ConfigError:
    return ConfigError(
        f"{what} is not available: module {module} is not installed yet",
        where=module,
        fix="update data-mash, or pass your own implementation",
    )


def load_target(name: str, config: Mapping[str, Any]) -> MigrationTarget:
    """A configured migration target by its ``data_mash.targets`` name.

    Raises:
        InputError: unknown target or bad config.
    """
    try:
        from tools.waves.targets.registry import make_target
    except ModuleNotFoundError:
        raise missing_module(f"target '{name}'", "tools.waves.targets.registry") from None
    return make_target(name, config)


def known_targets() -> list[str]:
    try:
        from tools.waves.targets.registry import known_targets as registered
    except ModuleNotFoundError:
        return sorted({ep.name for ep in entry_points(group=TARGET_GROUP)} | set(BUILTIN_TARGETS))
    return registered()


def target_key(system: str | None) -> str:
    """Compare routing target names with target plugin names: NewPlatformAPI ~ new_platform."""
    if not system:
        return ""
    key = "".join(ch for ch in system.lower() if ch.isalnum())
    return key[:-3] if key.endswith("api") else key


#: Where policies wait for their wave during coexistence: a plan to any target takes them.
INTERIM_SYSTEMS = frozenset({"coexistencebridge"})


def headed_for(system: str | None, target: str) -> bool:
    """Does a policy now routed to ``system`` belong in a wave to ``target``?

    Yes when it is routed there, not routed at all, or waiting on the coexistence bridge;
    no when it stays on a legacy system or sits in the data-quality queue.
    """
    if system is None:
        return True
    key = target_key(system)
    return key == target_key(target) or key in INTERIM_SYSTEMS


@dataclass
class WaveServices:
    """The collaborators of planning, gates and the saga for one tenant."""

    engine: Engine
    settings: Settings
    tenant: str
    canonical_source: CanonicalSource
    target_factory: TargetFactory = load_target
    confidence_source: ConfidenceSource | None = None
    reconciler: Reconciler | None = None
    _targets: dict[tuple[str, str], MigrationTarget] = field(default_factory=dict, repr=False)

    @classmethod
    def default(cls, engine: Engine, settings: Settings, tenant: str | None = None) -> WaveServices:
        """The real wiring: approved canonical output, entry-point targets, stored mappings."""
        who = tenant or settings.tenant

        def canonical(source_id: str) -> Iterable[pa.RecordBatch]:
            from tools.routing.canonical_input import canonical_batches_for_source

            return canonical_batches_for_source(engine, settings, source_id, who)

        return cls(
            engine=engine,
            settings=settings,
            tenant=who,
            canonical_source=canonical,
            confidence_source=lambda sid: stored_confidences(engine, who, sid),
            reconciler=default_reconciler,
        )

    def target(self, name: str, config: Mapping[str, Any] | None = None) -> MigrationTarget:
        """The target ``name`` (built once per configuration and reused)."""
        config = dict(config or {})
        if name == "new_platform" and "url" not in config:
            # Default platform for demos and tests: a SQLite file in the workspace.
            path = self.settings.path("targets", self.tenant, "new_platform.sqlite").resolve()
            path.parent.mkdir(parents=True, exist_ok=True)
            config["url"] = f"sqlite:///{path}"
        key = (name, repr(sorted(config.items())))
        if key not in self._targets:
            self._targets[key] = self.target_factory(name, config)
        return self._targets[key]

    def workdir(self, wave_id: str) -> Path:
        """Where a wave keeps its own files (its canonical records)."""
        return self.settings.path("waves", self.tenant, wave_id)


def default_reconciler(source: Iterable[pa.RecordBatch], target: Iterable[pa.RecordBatch]) -> Any:
    try:
        from tools.waves.reconcile import reconcile
    except ModuleNotFoundError:
        raise missing_module("reconciliation", "tools.waves.reconcile") from None
    return reconcile(source, target)


def stored_confidences(engine: Engine, tenant: str, source_id: str) -> dict[str, float] | None:
    """Field -> confidence of the source's newest approved mapping (None when there is none)."""
    try:
        from tools.canonical.repository import approved_mapping, list_mappings
    except ModuleNotFoundError:
        raise missing_module("mapping confidences", "tools.canonical.repository") from None
    approved = [
        m
        for m in list_mappings(engine, tenant=tenant, source_id=source_id)
        if m.approved_version is not None
    ]
    if not approved:
        return None
    info = approved_mapping(engine, approved[-1].mapping_id, tenant=tenant)
    # Only fields that carry data into the canonical records count: a field left unmapped at
    # approval migrates nothing, so its (low) confidence says nothing about what is migrated.
    return {rule.target: float(rule.confidence) for rule in info.rules if rule.mapped}
