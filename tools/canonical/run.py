"""Bulk mapping: an approved mapping over a whole staged source, batch by batch, resumable.

Each batch is one write-ahead audit operation keyed `map:{mapping_id}:{version}:{batch_no}`: its
intent (with the batch's policy ids) is committed before the batch is mapped, its outcome after
the batch's Parquet parts are in place. A re-run skips batches whose key already succeeded and
redoes the others, replacing their parts, so nothing is counted or written twice. Memory holds one
batch at a time.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from sqlalchemy import Engine

from core.executors import Executor, make_executor
from core.settings import Settings
from core.store.leases import hold_lease
from tools.audit import AuditLog, Operation
from tools.canonical.build import Plan, build_candidates, compile_plan
from tools.canonical.contracts import MapRunResult, ValidationReport
from tools.canonical.fastcheck import Verdict, check_candidates
from tools.canonical.output import (
    output_dir,
    part_name,
    quarantine_table,
    run_state,
    to_canonical,
    write_atomically,
    write_run_state,
)
from tools.canonical.reasons import ReasonTally, batch_reasons
from tools.canonical.repository import NAMESPACE, approved_mapping, get_mapping
from tools.canonical.rule_checks import source_schema
from tools.canonical.spec import MappingInfo
from tools.content.sources import SourceInfo, SourceRegistry
from tools.content.staging import staged_batches

Progress = Callable[[int, int], None]  # (records done, records total)
ERROR_SAMPLE = 20
POLICY_ID = "policy_core.policy_id"


def _batches(source: SourceInfo, plan: Plan, batch_rows: int) -> Iterator[pa.RecordBatch]:
    columns = plan.columns or None
    if columns is None:  # constants only: still one record per source row
        columns = [source_schema(source).names[0]]
    # Re-chunk to exactly batch_rows (parts end mid-batch), so batch numbers mean fixed rows.
    pending: list[pa.RecordBatch] = []
    held = 0
    for batch in staged_batches(source.records_path, columns=columns, batch_rows=batch_rows):
        pending.append(batch)
        held += batch.num_rows
        while held >= batch_rows:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, batch_rows).combine_chunks().to_batches()[0]
            rest = table.slice(batch_rows)
            pending, held = rest.combine_chunks().to_batches(), rest.num_rows
    if held:
        yield pa.Table.from_batches(pending).combine_chunks().to_batches()[0]


def _sample(candidates: pa.Table, verdict: Verdict, room: int) -> list[dict[str, Any]]:
    if room <= 0 or verdict.errors.num_rows == 0:
        return []
    head = verdict.errors.slice(0, room).to_pylist()
    ids = (
        candidates.column("policy_core.policy_id").to_pylist()
        if "policy_core.policy_id" in candidates.column_names
        else None
    )
    rows = candidates.column("!row").to_pylist()
    return [
        {
            "row": rows[e["row"]],
            "policy_id": ids[e["row"]] if ids else None,
            "path": e["path"],
            "message": e["message"],
            "kind": e["kind"],
        }
        for e in head
    ]


def _merge(into: dict[str, int], more: dict[str, int]) -> None:
    for key, value in more.items():
        into[key] = into.get(key, 0) + value


def _prepare(engine: Engine, info: MappingInfo, tenant: str) -> tuple[SourceInfo, Plan]:
    source = SourceRegistry(engine, tenant=tenant).get(info.source_id)
    return source, compile_plan(info.rules, info.canonical, source_schema(source))


def map_to_canonical(
    engine: Engine,
    settings: Settings,
    mapping_id: str,
    *,
    tenant: str | None = None,
    version: int | None = None,
    progress: Progress | None = None,
    executor: Executor | None = None,
) -> MapRunResult:
    """Map every record of the source through an approved mapping version.

    Args:
        engine: the store.
        settings: for the workspace, batch size and executor.
        mapping_id: the mapping.
        tenant: the tenant (settings.tenant by default).
        version: an approved version; the latest approved one when None.
        progress: called as progress(records done, records total) after each batch.
        executor: where the batches are mapped (default: the one the settings name; a
            process pool or Ray maps several batches at once, with the same outputs).

    Returns:
        Counts, where the records and the quarantine are, per-field error counts, an error sample.

    Raises:
        NotFoundError: unknown mapping or source.
        InputError: the mapping has no approved version.
        ConfigError: a remote executor with a SQLite store, or an unreachable cluster.
        LeaseHeld: another process is running this mapping version (names its pid, host, since).
    """
    tenant = tenant or settings.tenant
    info = approved_mapping(engine, mapping_id, tenant=tenant, version=version)
    # One run of a mapping version at a time: two would write the same parts and batches. A
    # second one is refused naming the holder; a killed holder's lease is taken over.
    with hold_lease(
        engine,
        tenant,
        f"mapping:{mapping_id}:{info.version}",
        what=f"mapping run {mapping_id} (version {info.version})",
    ):
        return _run(engine, settings, info, mapping_id, tenant, progress, executor)


def _run(
    engine: Engine,
    settings: Settings,
    info: MappingInfo,
    mapping_id: str,
    tenant: str,
    progress: Progress | None,
    executor: Executor | None,
) -> MapRunResult:
    source, plan = _prepare(engine, info, tenant)
    folder = output_dir(settings, tenant, mapping_id, info.version)
    folder.mkdir(parents=True, exist_ok=True)
    # Resume with the batch size of the first attempt, so batch numbers mean the same rows.
    batch_rows = run_state(folder).get("batch_rows", settings.batch_size)
    audit = AuditLog(engine, tenant=tenant)
    run_key = f"map:{mapping_id}:{info.version}"
    payload = {"source_id": info.source_id, "version": info.version, "batch_rows": batch_rows}
    own = executor is None
    executor = make_executor(settings) if executor is None else executor
    with audit.operation(
        NAMESPACE, "map_to_canonical", target=mapping_id, payload=payload, idempotency_key=run_key
    ) as run:
        if run.completed and run.outcome:
            write_run_state(folder, batch_rows=batch_rows, complete=True)  # heals older folders
            return MapRunResult(**{**run.outcome, "resumed_batches": run.outcome["batches"]})
        # Until every batch is written, consumers (route, export, plans) refuse this output.
        write_run_state(folder, batch_rows=batch_rows, complete=False)
        totals = {"records": 0, "valid": 0, "invalid": 0}
        field_errors: dict[str, int] = {}
        sample: list[dict[str, Any]] = []
        reasons = ReasonTally()
        batch_count = resumed = 0
        try:
            batches = _audited(audit, run.entry_id, mapping_id, run_key, source, plan, batch_rows)
            task = MapBatch(plan, info.canonical, folder)
            for outcome, batch_sample, was_done in _mapped(executor, batches, task):
                batch_count += 1
                resumed += was_done
                sample.extend(batch_sample[: ERROR_SAMPLE - len(sample)])
                for key in totals:
                    totals[key] += outcome[key]
                _merge(field_errors, outcome.get("field_errors", {}))
                reasons.add(outcome.get("reasons", []))
                if progress is not None:
                    progress(totals["records"], source.records)
        finally:
            if own:
                executor.close()
        result = MapRunResult(
            mapping_id=mapping_id,
            version=info.version,
            source_id=info.source_id,
            batches=batch_count if totals["records"] else 0,
            resumed_batches=resumed,
            output_dir=str(folder),
            quarantine_dir=str(folder / "quarantine"),
            field_errors=field_errors,
            errors=sample,
            reasons=reasons.top(),
            **totals,
        )
        write_run_state(folder, batch_rows=batch_rows, complete=True)
        run.outcome = result.model_dump()
    return result


@dataclass
class _Batch:
    """One source batch on its way to a worker, with its audit operation (None: done before)."""

    batch_no: int
    offset: int
    records: pa.RecordBatch | None
    operation: Operation
    manager: AbstractContextManager[Operation]


def _audited(
    audit: AuditLog,
    parent: int,
    mapping_id: str,
    run_key: str,
    source: SourceInfo,
    plan: Plan,
    batch_rows: int,
) -> Iterator[_Batch]:
    """The source's batches, each with its audit intent committed (write-ahead) before it goes
    to a worker; batches that succeeded before travel without their records."""
    id_plan = _id_plan(plan)
    offset = 0
    for batch_no, batch in enumerate(_batches(source, plan, batch_rows)):
        ids: list[str] = []
        if id_plan is not None:
            candidates = build_candidates(batch, id_plan, offset)
            ids = [i for i in candidates.column(POLICY_ID).to_pylist() if i]
        payload = {"batch_no": batch_no, "first_row": offset, "rows": batch.num_rows}
        manager = audit.operation(
            NAMESPACE,
            "map_batch",
            target=mapping_id,
            payload=payload,
            idempotency_key=f"{run_key}:{batch_no}",
            policy_ids=ids,
            parent_id=parent,
        )
        op = manager.__enter__()
        done = op.completed and bool(op.outcome)
        yield _Batch(batch_no, offset, None if done else batch, op, manager)
        offset += batch.num_rows


def _id_plan(plan: Plan) -> Plan | None:
    """The plan reduced to the policy id: what an audit intent needs before the batch maps."""
    rules = [r for r in plan.scalars if r.leaf.path == POLICY_ID]
    if not rules:
        return None
    return Plan(version=plan.version, scalars=rules, columns=plan.columns)


def _mapped(
    executor: Executor, batches: Iterator[_Batch], task: MapBatch
) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]], bool]]:
    """Map the batches on the executor; close each audit operation in batch order."""
    opened: deque[_Batch] = deque()

    def submitted() -> Iterator[tuple[int, int, pa.RecordBatch | None]]:
        for batch in batches:
            opened.append(batch)
            yield batch.batch_no, batch.offset, batch.records

    try:
        for outcome, sample in executor.map(task, submitted()):
            batch = opened.popleft()
            if batch.records is None:  # succeeded before: its outcome stands
                batch.manager.__exit__(None, None, None)
                yield batch.operation.outcome or {}, [], True
                continue
            batch.operation.outcome = outcome
            batch.manager.__exit__(None, None, None)
            yield outcome, sample, False
    except BaseException as exc:
        while opened:
            opened.popleft().manager.__exit__(type(exc), exc, exc.__traceback__)
        raise


class MapBatch:
    """The executor task of a mapping run: map one batch, write its parts, return the outcome.

    Picklable (a compiled plan is plain data). Files are replaced whole, so a retried task
    leaves one copy.
    """

    def __init__(self, plan: Plan, canonical: str, folder: Path) -> None:
        self.plan, self.canonical, self.folder = plan, canonical, folder

    def __call__(
        self, task: tuple[int, int, pa.RecordBatch | None]
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        batch_no, offset, batch = task
        if batch is None:
            return {}, []
        candidates = build_candidates(batch, self.plan, offset)
        verdict = check_candidates(candidates, self.canonical)
        valid = int(verdict.valid.sum())
        mask = pa.array(verdict.valid)
        write_atomically(
            to_canonical(candidates.filter(mask), self.canonical),
            self.folder / part_name(batch_no),
        )
        quarantine = self.folder / "quarantine" / part_name(batch_no)
        if valid < batch.num_rows:
            write_atomically(quarantine_table(batch, candidates, verdict), quarantine)
        else:
            quarantine.unlink(missing_ok=True)
        outcome = {
            "records": batch.num_rows,
            "valid": valid,
            "invalid": batch.num_rows - valid,
            "field_errors": verdict.field_counts,
            # Kept with the batch's outcome so a resumed run still reports every reason.
            "reasons": sorted(
                batch_reasons(candidates, verdict.errors), key=lambda r: -r["records"]
            )[:50],
        }
        return outcome, _sample(candidates, verdict, ERROR_SAMPLE)


def validate_records(
    engine: Engine,
    settings: Settings,
    mapping_id: str,
    *,
    tenant: str | None = None,
    version: int | None = None,
    limit: int | None = None,
    progress: Progress | None = None,
) -> ValidationReport:
    """Validate a mapping's records without writing anything (drafts included).

    Args:
        engine: the store.
        settings: for the batch size.
        mapping_id: the mapping.
        tenant: the tenant.
        version: the version to check; the latest (approved or draft) when None.
        limit: stop after this many records.
        progress: called as progress(records done, records total) after each batch.

    Returns:
        Counts of valid and invalid records, per-field error counts and an error sample.
    """
    tenant = tenant or settings.tenant
    info = get_mapping(engine, mapping_id, tenant=tenant, version=version)
    source, plan = _prepare(engine, info, tenant)
    records = valid = 0
    field_errors: dict[str, int] = {}
    sample: list[dict[str, Any]] = []
    reasons = ReasonTally()
    for batch in _batches(source, plan, settings.batch_size):
        if limit is not None and records >= limit:
            break
        if limit is not None:
            batch = batch.slice(0, limit - records)
        candidates = build_candidates(batch, plan, records)
        verdict = check_candidates(candidates, info.canonical)
        records += batch.num_rows
        valid += int(np.count_nonzero(verdict.valid))
        _merge(field_errors, verdict.field_counts)
        sample.extend(_sample(candidates, verdict, ERROR_SAMPLE - len(sample)))
        reasons.add(batch_reasons(candidates, verdict.errors))
        if progress is not None:
            progress(records, source.records)
    return ValidationReport(
        mapping_id=mapping_id,
        version=info.version,
        records=records,
        valid=valid,
        invalid=records - valid,
        field_errors=field_errors,
        errors=sample,
        reasons=reasons.top(),
    )
