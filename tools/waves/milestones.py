"""The real saga wiring: ingest -> map_to_canonical -> route -> migrate -> validate.

Each milestone works on the wave's own files and rows, so its compensation can undo exactly what
the wave did:

* ``ingest`` checks that every source of the wave is staged; it stages nothing itself (a plan
  is built from staged sources), so its compensation removes nothing that predates the wave.
* ``map_to_canonical`` writes the wave's canonical records (its policies only, from the sources'
  approved canonical output) as ``<home>/waves/<tenant>/<wave_id>/canonical/part-NNNNN.parquet``,
  one file per batch; compensation deletes that folder.
* ``route`` applies the plan's stored rule set (``criteria.rule_set``) to those records and
  records each decision as a policy move; without a rule set it keeps the existing decisions.
  Compensation moves every policy back to where it was before the wave routed it.
* ``migrate`` upserts the policies routed to the wave's target into the target, batch by batch,
  and records each as a move into the target; compensation calls ``target.delete(wave_id)`` and
  moves the policies back.
* ``validate`` reconciles the target's read-back against the wave's canonical records; a failed
  reconciliation fails the milestone (and so compensates the wave). Compensation forgets the
  stored result.
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from core.errors import DataMashError, InputError, NotFoundError
from core.executors import ExecutorKind, check_store_for
from core.metrics import RECONCILIATION_MISMATCHES, count
from core.retry import RetrySettings, retry_call, retry_settings
from core.store.models import PolicyLocation, PolicyMove, table_of
from core.targets import headed_for, same_target
from knowledge.canonical.arrow import arrow_schema
from tools.audit import Move, PolicyLocations
from tools.audit.locations import current_systems
from tools.content.sources import SourceRegistry
from tools.routing.compiled import compile_rule_set
from tools.routing.derived import with_derived_fields
from tools.routing.loader import load_rule_set
from tools.routing.rulesets import get_rule_set
from tools.waves.context import WaveContext
from tools.waves.inputs import check_staged, is_assembly, root_system
from tools.waves.reconcile import reconcile
from tools.waves.saga import BatchScope, Milestone, StepContext, step_context
from tools.waves.state import (
    get_wave_status,
    load_wave,
    update_wave,
    wave_policy_ids,
    wave_sources,
)
from tools.waves.statuses import MilestoneName, WaveState
from tools.waves.targets.base import POLICY_ID
from tools.waves.targets.registry import make_target

LOCATION = table_of(PolicyLocation)
MOVE = table_of(PolicyMove)
SOURCE_SYSTEM = "source_system"


class ValidationFailed(InputError):
    """Reconciliation of the target against the canonical records did not pass."""


def canonical_dir(ctx: StepContext) -> Path:
    return ctx.context.workdir(ctx.wave_id) / "canonical"


def wave_records(ctx: StepContext) -> Iterator[pa.RecordBatch]:
    """The wave's canonical records as written by map_to_canonical, in a fixed batch order."""
    # Part by part: a dataset scan reads ahead of a slow consumer and memory grows with the wave.
    for part in sorted(canonical_dir(ctx).glob("part-*.parquet")):
        for batch in pq.ParquetFile(part).iter_batches(
            batch_size=ctx.batch_size, use_threads=False
        ):
            if batch.num_rows:
                yield batch


# -- ingest ------------------------------------------------------------------------------------


def _ingest(ctx: StepContext) -> dict[str, Any]:
    settings = ctx.context.settings

    def check(_: int, ref: str, scope: BatchScope) -> None:
        try:
            scope.rows = check_staged(ctx.engine, settings, ctx.tenant, ref)
        except DataMashError as exc:
            raise type(exc)(
                f"{exc.what} (wave {ctx.wave_id})", where=exc.where, fix=exc.fix
            ) from None
        scope.outcome = {"staged": 1, "ingested_by_wave": 0}

    return ctx.run_batches(wave_sources(ctx.context, ctx.wave_id), check)


def _uningest(ctx: StepContext) -> dict[str, Any]:
    # Nothing was staged by the wave (see the module docstring): nothing to delete.
    return {"deleted_sources": 0}


# -- map_to_canonical --------------------------------------------------------------------------


def _source_system(ctx: StepContext, source_id: str) -> str | None:
    try:
        if is_assembly(source_id):  # a whole policy comes from its root's system
            return root_system(ctx.engine, ctx.tenant, source_id)
        found = SourceRegistry(ctx.engine, tenant=ctx.tenant).find(source_id)
    except Exception:  # noqa: BLE001  (the system is a routing hint, not required)
        return None
    return found.system if found else None


def _map(ctx: StepContext) -> dict[str, Any]:
    members = wave_policy_ids(ctx.context, ctx.wave_id)
    folder = canonical_dir(ctx)
    folder.mkdir(parents=True, exist_ok=True)

    def items() -> Iterator[tuple[str, pa.RecordBatch]]:
        for source_id in wave_sources(ctx.context, ctx.wave_id):
            for batch in ctx.context.canonical_source(source_id):
                for part in batch.to_batches() if isinstance(batch, pa.Table) else [batch]:
                    yield source_id, part

    systems: dict[str, str | None] = {}

    def write(batch_no: int, item: tuple[str, pa.RecordBatch], scope: BatchScope) -> None:
        source_id, batch = item
        kept = batch.filter(pc.is_in(batch.column(POLICY_ID).cast(pa.string()), value_set=members))
        if SOURCE_SYSTEM not in kept.schema.names:
            if source_id not in systems:
                systems[source_id] = _source_system(ctx, source_id)
            kept = kept.append_column(
                SOURCE_SYSTEM, pa.array([systems[source_id]] * kept.num_rows, pa.string())
            )
        if kept.num_rows:
            # Whole-file replace: a batch redone after a crash leaves one copy, never two.
            final = folder / f"part-{batch_no:05d}.parquet"
            partial = final.with_suffix(".partial")
            pq.write_table(pa.Table.from_batches([kept]), partial)
            os.replace(partial, final)
        scope.rows = kept.num_rows
        scope.outcome = {"records": kept.num_rows}

    return ctx.run_batches(items(), write)


def _unmap(ctx: StepContext) -> dict[str, Any]:
    folder = canonical_dir(ctx)
    removed = len(list(folder.glob("part-*.parquet"))) if folder.exists() else 0
    shutil.rmtree(folder, ignore_errors=True)
    return {"removed_parts": removed}


# -- route ---------------------------------------------------------------------------------------


def _ids(batch: pa.RecordBatch) -> list[str]:
    return [str(v) for v in batch.column(POLICY_ID).cast(pa.string()).to_pylist()]


def _route(ctx: StepContext) -> dict[str, Any]:
    rule_set_ref = ctx.criteria.rule_set
    locations = PolicyLocations(ctx.engine, tenant=ctx.tenant)
    if rule_set_ref is None:

        def keep(_: int, batch: pa.RecordBatch, scope: BatchScope) -> None:
            with ctx.engine.connect() as conn:
                where = current_systems(conn, ctx.tenant, _ids(batch))
            here = sum(1 for s in where.values() if same_target(s, ctx.target))
            scope.rows = batch.num_rows
            scope.outcome = {"to_target": here, "unrouted": batch.num_rows - len(where)}

        return ctx.run_batches(wave_records(ctx), keep)
    stored = get_rule_set(ctx.engine, ctx.tenant, rule_set_ref)
    # Rules may test the planned wave (e.g. wave 0 -> new platform): every policy here is in it.
    number = get_wave_status(ctx.context, ctx.wave_id).number
    rules = stored.load().rules
    reason = f"wave {ctx.wave_id}: rule set {stored.info.label}"

    def decide(_: int, done: tuple[pa.RecordBatch, pa.Table], scope: BatchScope) -> None:
        decided = done[1]
        indices = pc.fill_null(decided.column("rule"), len(rules)).to_pylist()
        moves = [
            Move(
                pid,
                rules[i].target,
                wave=ctx.wave_id,
                run_id=f"{ctx.wave_id}#{ctx.run_no}",
                rule=rules[i].name,
                reason=reason,
            )
            for pid, i in zip(decided.column("id").to_pylist(), indices, strict=True)
            if i < len(rules)
        ]
        scope.rows = decided.num_rows
        scope.outcome = {
            "routed": len(moves),
            "to_target": sum(same_target(m.to_system, ctx.target) for m in moves),
        }
        scope.on_commit(lambda conn, entry: locations.record_moves(conn, moves, entry_id=entry))

    return ctx.run_batches(
        wave_records(ctx), decide, policy_ids=_ids, compute=RuleDecisions(stored.yaml, number)
    )


class RuleDecisions:
    """The executor task of ``route``: which rule (index, null for none) takes each policy.

    Picklable (the rule set travels as its YAML text); each worker process parses and compiles
    it once per batch layout (:func:`_compiled_rules`), not once per task.
    """

    def __init__(self, rule_set_yaml: str, wave_number: int) -> None:
        self.rule_set_yaml = rule_set_yaml
        self.wave_number = wave_number

    def __call__(self, batch: pa.RecordBatch) -> pa.Table:
        number = self.wave_number

        def this_wave(ids: pa.Array) -> pa.Array:
            return pa.array([number] * len(ids), pa.int32())

        (batch,) = list(with_derived_fields([batch], source_system=None, wave_lookup=this_wave))
        compiled = _compiled_rules(self.rule_set_yaml, batch.schema)
        return pa.table(
            {
                "id": batch.column(POLICY_ID).cast(pa.string()),
                "rule": compiled.rule_indices(batch).cast(pa.int32()),
            }
        )


@functools.lru_cache(maxsize=8)
def _compiled_rules(rule_set_yaml: str, schema: pa.Schema) -> Any:
    """A rule set compiled against a batch layout, kept per process (tasks share it)."""
    return compile_rule_set(load_rule_set(rule_set_yaml), schema)


def _unroute(ctx: StepContext) -> dict[str, Any]:
    return {"restored": restore_locations(ctx, "route")}


# -- migrate -------------------------------------------------------------------------------------


@dataclass
class _Eligible:
    records: pa.Table
    ids: list[str]
    skipped: int


def _for_target(ctx: StepContext, batch: pa.RecordBatch) -> _Eligible:
    """The batch's policies headed for the wave's target (routed there, or not routed at all)."""
    ids = _ids(batch)
    with ctx.engine.connect() as conn:
        where = current_systems(conn, ctx.tenant, ids)
    if ctx.criteria.rule_set is not None:
        # The route milestone just re-decided every policy of the wave: its word is final.
        mask = [pid not in where or same_target(where[pid], ctx.target) for pid in ids]
    else:
        # Decisions kept from routing: the plan took bridged policies for this target.
        mask = [headed_for(where.get(pid), ctx.target) for pid in ids]
    canonical = set(arrow_schema(ctx.canonical).names)
    table = pa.Table.from_batches([batch]).filter(pa.array(mask, pa.bool_()))
    table = table.select([n for n in table.schema.names if n in canonical])
    kept = [pid for pid, ok in zip(ids, mask, strict=True) if ok]
    return _Eligible(table, kept, len(ids) - len(kept))


def _target(ctx: StepContext) -> Any:
    return ctx.context.target(ctx.target, ctx.criteria.target_config)


def _migrate(ctx: StepContext) -> dict[str, Any]:
    target = _target(ctx)
    locations = PolicyLocations(ctx.engine, tenant=ctx.tenant)
    reason = f"migrated in wave {ctx.wave_id}"
    retries = retry_settings(ctx.context.settings)
    in_workers = _writes_in_workers(ctx, target)

    def write(_: int, done: Any, scope: BatchScope) -> None:
        if in_workers:
            item, written = done
        else:
            item = done
            written = (
                retry_call(
                    "target_write", lambda: target.write(ctx.wave_id, item.records), **retries
                )
                if item.ids
                else 0
            )
        moves = [
            Move(
                pid,
                ctx.target,
                wave=ctx.wave_id,
                run_id=f"{ctx.wave_id}#{ctx.run_no}",
                reason=reason,
                arrival=True,
            )
            for pid in item.ids
        ]
        scope.rows = len(item.ids) + item.skipped
        scope.outcome = {"written": written, "skipped": item.skipped}
        scope.on_commit(lambda conn, entry: locations.record_moves(conn, moves, entry_id=entry))

    items = (_for_target(ctx, batch) for batch in wave_records(ctx))
    if not in_workers:
        return ctx.run_batches(items, write, policy_ids=lambda item: item.ids)
    task = TargetWrite(ctx.target, dict(ctx.criteria.target_config), ctx.wave_id, retries)
    return ctx.run_batches(
        items,
        write,
        policy_ids=lambda item: item.ids,
        compute=task,
        task_input=lambda item: item.records,
    )


def _writes_in_workers(ctx: StepContext, target: Any) -> bool:
    """Whether the executor's workers write the target (a PostgreSQL new_platform, built by the
    registry): each task then upserts its batch in its own transaction, and the driver commits
    the batch's moves and checkpoint after it, as for a driver-side write.

    Raises:
        ConfigError: workers on other machines and a SQLite target.
    """
    executor = ctx.context.executor
    url = getattr(target, "url", None)
    if url is not None:
        check_store_for(executor, str(url), "target")
    return (
        executor.name != ExecutorKind.LOCAL
        and ctx.context.target_factory is make_target
        and url is not None
        and str(url).startswith("postgresql")
    )


class TargetWrite:
    """The executor task of ``migrate`` on a shared database: upsert one batch into the target.

    Picklable (target name, configuration and wave id); each worker process opens the target
    once (one pooled connection in use at a time) and retries transient failures like the
    driver does.
    """

    def __init__(
        self, target: str, config: dict[str, Any], wave_id: str, retries: RetrySettings
    ) -> None:
        self.target, self.config, self.wave_id, self.retries = target, config, wave_id, retries

    def __call__(self, records: pa.Table) -> int:
        if records.num_rows == 0:
            return 0
        target = _worker_target(self.target, tuple(sorted(self.config.items())))
        return int(
            retry_call("target_write", lambda: target.write(self.wave_id, records), **self.retries)
        )


@functools.lru_cache(maxsize=4)
def _worker_target(name: str, config: tuple[tuple[str, Any], ...]) -> Any:
    return make_target(name, dict(config))


def _unmigrate(ctx: StepContext) -> dict[str, Any]:
    target = _target(ctx)
    removed = retry_call(
        "target_delete", lambda: target.delete(ctx.wave_id), **retry_settings(ctx.context.settings)
    )
    return {"deleted": removed, "restored": restore_locations(ctx, "migrate")}


def restore_locations(ctx: StepContext, milestone: str) -> int:
    """Put the policies a milestone's batches placed back where they were; idempotent.

    Batches are undone newest first, each in its own transaction; a policy goes back only while
    its location is still the one that batch gave it (see :meth:`PolicyLocations.undo_moves`).
    The batches are found in the audit log, so this works after ``gc`` archived checkpoints.
    """
    locations = PolicyLocations(ctx.engine, tenant=ctx.tenant)
    reason = f"compensation of {milestone} in wave {ctx.wave_id}"
    restored = 0
    for entry in reversed(ctx.batch_entries(milestone, ctx.step_entry_id)):
        with ctx.engine.begin() as conn:
            restored += locations.undo_moves(conn, entry, by_entry=ctx.entry_id, reason=reason)
    return restored


# -- validate ------------------------------------------------------------------------------------


def _validate(ctx: StepContext) -> dict[str, Any]:
    reconciler = _reconciler(ctx.context)
    if reconciler is None:
        raise InputError("no reconciliation configured", fix="use WaveContext.default(...)")
    target = _target(ctx)

    def check(_: int, __: None, scope: BatchScope) -> None:
        source = (
            item.records
            for item in (_for_target(ctx, batch) for batch in wave_records(ctx))
            if item.ids
        )
        report = reconciler(
            (b for table in source for b in table.to_batches()), target.read_back(ctx.wave_id)
        )
        data = report.model_dump(mode="json") if hasattr(report, "model_dump") else dict(report)
        passed = bool(getattr(report, "passed", data.get("passed")))
        for kind in MISMATCH_KINDS:
            count(RECONCILIATION_MISMATCHES, int(data.get(kind) or 0), kind=kind)
        if not passed:
            raise ValidationFailed(
                f"reconciliation of wave {ctx.wave_id} failed: {_summary(data)}",
                where=ctx.target,
                fix="inspect the report with reconcile_wave; the wave was compensated",
            )
        scope.rows = int(data.get("target_count", data.get("target_rows", 0)) or 0)
        scope.outcome = {"passed": 1}
        scope.on_commit(
            lambda conn, _entry: update_wave(conn, ctx.tenant, ctx.wave_id, validation=data)
        )

    return ctx.run_batches([None], check)


def _reconciler(context: WaveContext) -> Any:
    """The context's reconciliation; the built-in one hashes its slices on the wave's executor."""
    builtin: Any = reconcile  # (compared by identity; mypy would narrow reconcile itself)
    if context.reconciler is builtin:
        return functools.partial(reconcile, executor=context.executor)
    return context.reconciler


#: Report fields counted in data_mash_reconciliation_mismatches_total{kind}.
MISMATCH_KINDS = (
    "missing_in_target",
    "unexpected_in_target",
    "different",
    "duplicates_in_source",
    "duplicates_in_target",
)


def _summary(data: dict[str, Any]) -> str:
    keys = [k for k in data if k != "passed" and not isinstance(data[k], list | dict)]
    return ", ".join(f"{k}={data[k]}" for k in keys[:8]) or "see the report"


def _unvalidate(ctx: StepContext) -> dict[str, Any]:
    with ctx.engine.begin() as conn:
        update_wave(conn, ctx.tenant, ctx.wave_id, validation=None)
    return {"validation": "forgotten"}


def default_milestones() -> list[Milestone]:
    """The real saga: ingest, map_to_canonical, route, migrate, validate."""
    return [
        Milestone(MilestoneName.INGEST, _ingest, _uningest),
        Milestone(MilestoneName.MAP_TO_CANONICAL, _map, _unmap),
        Milestone(MilestoneName.ROUTE, _route, _unroute),
        Milestone(MilestoneName.MIGRATE, _migrate, _unmigrate),
        Milestone(MilestoneName.VALIDATE, _validate, _unvalidate),
    ]


def reconcile_wave(context: WaveContext, wave_id: str) -> dict[str, Any]:
    """Reconcile a wave now: its canonical records headed for the target vs the read-back.

    Read-only. Returns the reconciliation report as a dict (``passed`` first).

    Raises:
        NotFoundError: no such wave, or it has no canonical records (it has not run).
    """
    row, plan = load_wave(context, wave_id)
    if row.status != WaveState.COMPLETED:
        # Anything else may hold part of the wave: "0 = 0" would pass and prove nothing.
        raise InputError(
            f"wave {wave_id} is {row.status}; only a completed wave can be reconciled",
            where=wave_id,
            fix=f"run it (data-mash wave run {wave_id}) and reconcile it once it has completed",
        )
    ctx = step_context(context, row, plan, MilestoneName.VALIDATE, 0)
    if not any(canonical_dir(ctx).glob("part-*.parquet")):
        raise NotFoundError(
            f"wave {wave_id} has no canonical records to reconcile",
            fix=f"run it first: data-mash wave run {wave_id}",
        )
    if context.reconciler is None:
        raise InputError("no reconciliation configured", fix="use WaveContext.default(...)")
    source = (
        b
        for item in (_for_target(ctx, batch) for batch in wave_records(ctx))
        if item.ids
        for b in item.records.to_batches()
    )
    report = _reconciler(context)(source, _target(ctx).read_back(wave_id))
    data = report.model_dump(mode="json") if hasattr(report, "model_dump") else dict(report)
    passed = bool(getattr(report, "passed", data.get("passed")))
    return {"passed": passed, **{k: v for k, v in data.items() if k != "passed"}}
