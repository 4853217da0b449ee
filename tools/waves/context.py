"""The one thing every ``tools.waves`` function takes first: a :class:`WaveContext`.

A context holds the store, the settings and the tenant (once), plus the collaborators that
planning, gates and the saga need from the rest of data-mash (canonical records of a source,
a migration target by name, a mapping's field confidences, reconciliation). The real wiring is
:meth:`WaveContext.default`; tests hand in small fakes instead.

Calling convention of the package: ``function(context, the_id, *, options)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy import Engine

from core.executors import Executor, LocalExecutor, make_executor
from core.ids import check_tenant, tenant_path
from core.settings import Settings
from core.targets import TargetName, canonical_target
from tools.canonical.repository import approved_mapping, list_mappings
from tools.routing.canonical_input import canonical_batches_for_source
from tools.waves.inputs import (
    assembly_confidences,
    assembly_confirmations,
    assembly_records,
    is_assembly,
)
from tools.waves.reconcile import reconcile
from tools.waves.targets.base import MigrationTarget
from tools.waves.targets.registry import make_target

CanonicalSource = Callable[[str], Iterable[pa.RecordBatch]]
TargetFactory = Callable[[str, Mapping[str, Any]], MigrationTarget]
ConfidenceSource = Callable[[str], dict[str, float] | None]
ConfirmationSource = Callable[[str], dict[str, dict[str, str]]]
Reconciler = Callable[[Iterable[pa.RecordBatch], Iterable[pa.RecordBatch]], Any]


@dataclass
class WaveContext:
    """The store, settings and tenant of a wave operation, and its collaborators."""

    engine: Engine
    settings: Settings
    tenant: str
    #: plan input (a source id, or an assembly id) -> its canonical records
    canonical_source: CanonicalSource
    target_factory: TargetFactory = make_target
    confidence_source: ConfidenceSource | None = None
    #: source_id -> {field: {"by": who, "at": when}} for fields a person confirmed or approved.
    confirmation_source: ConfirmationSource | None = None
    reconciler: Reconciler | None = None
    #: Where the bulk milestones' batch tasks run (core.executors; local by default).
    executor: Executor = field(default_factory=LocalExecutor)
    _targets: dict[tuple[str, str], MigrationTarget] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.tenant = check_tenant(self.tenant)

    @classmethod
    def default(cls, engine: Engine, settings: Settings, tenant: str | None = None) -> WaveContext:
        """The real wiring: approved canonical output, entry-point targets, stored mappings.

        Args:
            engine: The store.
            settings: Settings (workspace, batch size, default tenant).
            tenant: The tenant (default: ``settings.tenant``).
        """
        who = check_tenant(tenant or settings.tenant)

        def canonical(ref: str) -> Iterable[pa.RecordBatch]:
            if is_assembly(ref):  # whole policies, assembled from every system
                return assembly_records(engine, settings, who, ref)
            return canonical_batches_for_source(engine, settings, ref, who)

        def confidences(ref: str) -> dict[str, float] | None:
            if is_assembly(ref):
                return assembly_confidences(engine, who, ref)
            return stored_confidences(engine, who, ref)

        def confirmations(ref: str) -> dict[str, dict[str, str]]:
            if is_assembly(ref):
                return assembly_confirmations(engine, who, ref)
            return stored_confirmations(engine, who, ref)

        return cls(
            engine=engine,
            settings=settings,
            tenant=who,
            canonical_source=canonical,
            confidence_source=confidences,
            confirmation_source=confirmations,
            reconciler=reconcile,
            executor=make_executor(settings),
        )

    def target(self, name: str, config: Mapping[str, Any] | None = None) -> MigrationTarget:
        """The target ``name`` (any accepted spelling; built once per configuration)."""
        name = canonical_target(name)
        config = dict(config or {})
        if name == TargetName.NEW_PLATFORM and "url" not in config:
            # Default platform for demos and tests: a SQLite file in the workspace.
            path = self.path("targets", "new_platform.sqlite").resolve()
            path.parent.mkdir(parents=True, exist_ok=True)
            config["url"] = f"sqlite:///{path}"
        key = (name, repr(sorted(config.items())))
        if key not in self._targets:
            self._targets[key] = self.target_factory(name, config)
        return self._targets[key]

    def path(self, area: str, *parts: str) -> Path:
        """``<home>/<area>/<tenant>/<parts...>``: every tenant path goes through tenant_path."""
        return tenant_path(self.settings.path(area), self.tenant, *parts)

    def workdir(self, wave_id: str) -> Path:
        """Where a wave keeps its own files (its canonical records)."""
        return self.path("waves", wave_id)


def stored_confidences(engine: Engine, tenant: str, source_id: str) -> dict[str, float] | None:
    """Field -> confidence of the source's newest approved mapping (None when there is none)."""
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


def stored_confirmations(engine: Engine, tenant: str, source_id: str) -> dict[str, dict[str, str]]:
    """Field -> who confirmed it and when, in the source's newest approved mapping.

    A field counts as confirmed when a person edited it or approved the mapping that holds it.
    """
    approved = [
        m
        for m in list_mappings(engine, tenant=tenant, source_id=source_id)
        if m.approved_version is not None
    ]
    if not approved:
        return {}
    info = approved_mapping(engine, approved[-1].mapping_id, tenant=tenant)
    return {
        rule.target: {
            "by": rule.confirmed_by or "unknown",
            "at": rule.confirmed_at.isoformat()[:19] if rule.confirmed_at else "",
        }
        for rule in info.rules
        if rule.mapped and rule.confirmed
    }
