"""Routing decisions are state: each batch's decisions are audited and applied in one commit.

``route_source`` compiles a stored rule-set version once and routes a source's canonical batches.
Unless it is a dry run, every batch is one write-ahead audit entry (``routing/route``, naming
the batch's policies) whose outcome commits in the same transaction as the batch's policy moves
(:meth:`tools.audit.Operation.atomic`): a batch is applied entirely or not at all. The entry's
idempotency key ``route:{source_id}:{rule_set}:v{version}:{batch_no}`` makes a re-run after a
crash skip the batches already committed and redo the rest, never duplicating a move.

Manual overrides live in :mod:`tools.routing.overrides`.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from core.settings import Settings
from core.store.models import PolicyLocation, WaveRow, table_of
from tools.audit import AuditLog, Move, PolicyLocations
from tools.content.sources import SourceRegistry
from tools.routing.compiled import ID_FIELD, CompiledRuleSet, compile_rule_set
from tools.routing.derived import WaveLookup, with_derived_fields
from tools.routing.loader import null_field_warnings
from tools.routing.model import RuleSet, predicates
from tools.routing.placements import current_locations, held_by_waves
from tools.routing.rulesets import NAMESPACE, get_rule_set

LOCATION = table_of(PolicyLocation)
WAVE = table_of(WaveRow)
SAMPLE_SIZE = 5
Progress = Callable[[float, float | None], None]


class RouteResult(BaseModel):
    """What a routing run did (or, for a dry run, would do)."""

    rule_set: str = Field(description="The stored rule-set version used, e.g. 'insurer v3'.")
    source_id: str
    run_id: str | None = Field(description="Run id on the moves; None for a dry run.")
    dry_run: bool
    routed: int = Field(description="Policies a rule routed.")
    unrouted: int = Field(0, description="Policies no rule matched (left where they are).")
    by_target: dict[str, int]
    by_rule: dict[str, int]
    sample_per_rule: dict[str, list[str]]
    warnings: list[str]
    batches: int = 0
    resumed_batches: int = Field(0, description="Batches already committed by an earlier run.")
    moved: int = Field(0, description="Moves written (a policy already at its target: none).")


def run_id_for(source_id: str, label: str) -> str:
    """Deterministic run id: a resumed run stamps its moves like the run it continues."""
    return "route-" + hashlib.sha1(f"{source_id}\0{label}".encode()).hexdigest()[:12]


class _Tally:
    """Counts, samples and null counts accumulated over the batches of one run."""

    def __init__(self, rule_set: RuleSet, sample_size: int) -> None:
        self.rules = rule_set.rules
        self.counts = np.zeros(len(self.rules) + 1, np.int64)  # last slot: unrouted
        self.samples: dict[str, list[str]] = {}
        self.sample_size = sample_size
        self.rows = 0
        self.fields = sorted({p.field for r in self.rules for p in predicates(r.condition)})
        self.nulls: Counter[str] = Counter()
        self.duplicates = self.missing_ids = 0

    def add(self, batch: pa.RecordBatch, indices: np.ndarray, ids: list[str | None]) -> None:
        self.rows += len(indices)
        self.counts += np.bincount(indices, minlength=len(self.counts))
        for path in self.fields:
            index = batch.schema.get_field_index(path)
            if index >= 0:
                self.nulls[path] += batch.column(index).null_count
        for rule_index in np.unique(indices):
            name = self.rules[rule_index].name if rule_index < len(self.rules) else "(no rule)"
            kept = self.samples.setdefault(name, [])
            if len(kept) < self.sample_size:
                rows = np.flatnonzero(indices == rule_index)[: self.sample_size - len(kept)]
                kept.extend(str(ids[row]) for row in rows)

    def result(self, **fields: Any) -> RouteResult:
        by_rule = {rule.name: int(self.counts[i]) for i, rule in enumerate(self.rules)}
        by_target: Counter[str] = Counter()
        for rule in self.rules:
            by_target[rule.target] += by_rule[rule.name]
        return RouteResult(
            routed=int(self.counts[:-1].sum()),
            unrouted=int(self.counts[-1]),
            by_target={t: n for t, n in by_target.items() if n},
            by_rule=by_rule,
            sample_per_rule=self.samples,
            **fields,
        )


def _rule_indices(compiled: CompiledRuleSet, batch: pa.RecordBatch) -> np.ndarray:
    """Index of the firing rule per row; len(rules) where none fired."""
    unrouted = len(compiled.rule_set.rules)
    return (
        pc.fill_null(compiled.rule_indices(batch), unrouted)
        .to_numpy(zero_copy_only=False)
        .astype(np.int64)
    )


def route_source(
    engine: Engine,
    settings: Settings,
    rule_set_id: int | str | RuleSet,
    batches: Iterable[pa.RecordBatch | pa.Table],
    *,
    tenant: str,
    source_id: str,
    dry_run: bool = False,
    progress: Progress | None = None,
    wave_lookup: WaveLookup | None = None,
    source_system: str | None = None,
    sample_size: int = SAMPLE_SIZE,
) -> RouteResult:
    """Route every policy of a source with a stored rule-set version.

    Args:
        engine: The store.
        settings: Settings (batch sizes come with the batches; kept for symmetry with callers).
        rule_set_id: Stored rule set: numeric id, ``name`` (latest) or ``name@version``; a
            dry run may also take an unstored :class:`RuleSet`.
        batches: Canonical Arrow batches of the source (streamed once); derived fields
            (``source_system``, ``data_quality_score``, ``wave``) are added where missing.
        tenant: Tenant.
        source_id: The source the batches come from (idempotency keys and audit target).
        dry_run: Count only: nothing is written.
        progress: Called as ``progress(policies_done, total_or_None)`` after each batch.
        wave_lookup: Planned wave per policy id, when a plan exists (default: the batches'
            own ``wave_lookup``, as :func:`canonical_batches_for_source` provides).
        source_system: Override for the source's legacy system (default: the registry's).
        sample_size: Policy ids kept per rule.

    Returns:
        Counts by target and by rule, samples, warnings (rule fields null in the whole source,
        duplicate or missing policy ids).

    Raises:
        NotFoundError: the rule set does not exist.
        InputError: the batches cannot be routed (no policy id column, incompatible types).
    """
    del settings  # batch size is the caller's: the batches arrive already cut
    if isinstance(rule_set_id, RuleSet):
        if not dry_run:
            raise ValueError("only a dry run may use an unstored rule set; store it first")
        stored, rule_set = None, rule_set_id
        label = f"{rule_set.source} (not stored)"
    else:
        stored = get_rule_set(engine, tenant, rule_set_id)
        rule_set, label = stored.load(), stored.info.label
    if source_system is None:
        source_system = getattr(batches, "system", None)
    if source_system is None:
        found = SourceRegistry(engine, tenant=tenant).find(source_id)
        source_system = found.system if found else None
    if wave_lookup is None:
        wave_lookup = getattr(batches, "wave_lookup", None)
    total = getattr(batches, "total_rows", None)
    run_id = None if dry_run else run_id_for(source_id, label)
    tally = _Tally(rule_set, sample_size)
    recorder = (
        None
        if stored is None or dry_run
        else _BatchRecorder(engine, tenant, source_id, stored.info, run_id)
    )
    compiled: CompiledRuleSet | None = None
    batch_no = -1
    for batch_no, batch in enumerate(
        with_derived_fields(batches, source_system=source_system, wave_lookup=wave_lookup)
    ):
        if compiled is None or compiled.schema != batch.schema:
            compiled = compile_rule_set(rule_set, batch.schema)
        indices = _rule_indices(compiled, batch)
        ids = batch.column(ID_FIELD).cast(pa.string()).to_pylist()
        tally.add(batch, indices, ids)
        if recorder is not None:
            recorder.record(batch_no, ids, indices, rule_set, tally)
        if progress is not None:
            progress(tally.rows, total)
    warnings = [
        str(issue)
        for issue in null_field_warnings(rule_set, dict(tally.nulls), tally.rows, source_id)
    ]
    if tally.duplicates:
        warnings.append(
            f"{tally.duplicates} policy id(s) occur more than once in a batch; "
            "the last occurrence decided their route"
        )
    if tally.missing_ids:
        warnings.append(f"{tally.missing_ids} record(s) have no policy id and were not routed")
    return tally.result(
        rule_set=label,
        source_id=source_id,
        run_id=run_id,
        dry_run=dry_run,
        warnings=warnings,
        batches=batch_no + 1,
        resumed_batches=recorder.resumed if recorder else 0,
        moved=recorder.moved if recorder else 0,
    )


class _BatchRecorder:
    """Writes one batch's decisions: audit intent, then moves + outcome in one transaction."""

    def __init__(
        self, engine: Engine, tenant: str, source_id: str, info: Any, run_id: str | None
    ) -> None:
        self.log = AuditLog(engine, tenant=tenant)
        self.locations = PolicyLocations(engine, tenant=tenant)
        self.tenant = tenant
        self.source_id = source_id
        self.info = info
        self.run_id = run_id
        self.reason = f"rule {info.name} v{info.version}"
        self.resumed = self.moved = 0

    def record(
        self,
        batch_no: int,
        ids: list[str | None],
        indices: np.ndarray,
        rule_set: RuleSet,
        tally: _Tally,
    ) -> None:
        rules = rule_set.rules
        decided: dict[str, Move] = {}
        for policy_id, index in zip(ids, indices.tolist(), strict=True):
            if policy_id is None:
                tally.missing_ids += 1
                continue
            if index >= len(rules):
                continue
            if policy_id in decided:
                tally.duplicates += 1
            rule = rules[index]
            decided[policy_id] = Move(
                policy_id, rule.target, run_id=self.run_id, rule=rule.name, reason=self.reason
            )
        policy_ids = list(dict.fromkeys(pid for pid in ids if pid is not None))
        key = f"route:{self.source_id}:{self.info.name}:v{self.info.version}:{batch_no}"
        payload = {
            "source_id": self.source_id,
            "rule_set": self.info.name,
            "rule_set_version": self.info.version,
            "rule_set_id": self.info.id,
            "batch_no": batch_no,
            "run_id": self.run_id,
            "policies": len(policy_ids),
        }
        with self.log.operation(
            NAMESPACE,
            "route",
            target=self.source_id,
            payload=payload,
            idempotency_key=key,
            policy_ids=policy_ids,
        ) as op:
            if op.completed:
                self.resumed += 1
                self.moved += int((op.outcome or {}).get("moved", 0))
                return
            targets = Counter(move.to_system for move in decided.values())
            outcome: dict[str, Any] = {
                "batch_no": batch_no,
                "routed": len(decided),
                "by_target": dict(targets),
            }
            op.outcome = outcome
            with op.atomic() as conn:
                # A policy a wave migrated stays where its row is: routing it elsewhere would
                # make its location lie (roll the wave back to re-route it).
                located = current_locations(conn, self.tenant, list(decided))
                held = held_by_waves(conn, self.tenant, located)
                outcome["kept_migrated"] = len(held)
                outcome["moved"] = self.locations.record_moves(
                    conn,
                    [m for pid, m in decided.items() if pid not in held],
                    entry_id=op.entry_id,
                )
            self.moved += outcome["moved"]
