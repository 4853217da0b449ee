"""The assembly run: one canonical document per policy of an approved assembly.

1. Stage (once; :mod:`tools.assembly.stage`): every source mapped (a task per staged part, on
   the executor), joined to the root's policy positions (DuckDB, here), duplicates resolved,
   sorted by position. One write-ahead audit operation.
2. Batches of ``batch_policies`` consecutive positions (a range of policy keys): each joined
   (:mod:`tools.assembly.assemble`), validated, written as ``run/part-NNNNN.parquet`` plus its
   provenance, conflicts and quarantine side files. Each batch is one audit operation keyed
   ``asm:{id}:batch:{k}`` whose intent (with the batch's policy ids) is committed before the
   batch's files are written and whose outcome after; a re-run skips batches already done and
   rewrites the others in place, so after a SIGKILL every policy is written exactly once.
   The batches run on an executor (:mod:`core.executors`: local, process pool or Ray): each
   task reads its range of positions from the stage's files and writes the batch's files; the
   driver keeps the audit log and commits outcomes in batch order, so every executor writes
   the same bytes.

Memory holds one batch of every source at a time; the joins are DuckDB's, spilled to disk.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from sqlalchemy import Engine

from core.errors import InputError
from core.executors import Executor, make_executor
from core.settings import Settings
from core.statuses import AssemblyStatus
from core.store.leases import hold_lease
from tools.assembly import keyspace
from tools.assembly.assemble import Slice, assemble, make_slice
from tools.assembly.contracts import AssemblyRunResult, AssemblySpec
from tools.assembly.output import (
    CONFLICTS,
    PROVENANCE,
    QUARANTINE,
    STAGE,
    assembly_dir,
)
from tools.assembly.relationships import NAMESPACE
from tools.assembly.spec import get_assembly
from tools.assembly.stage import (
    ID_PATH,
    POS,
    ROW,
    STAGE_STATE,
    Contributor,
    build_stage,
    contributors,
)
from tools.assembly.totals import Totals, reasons
from tools.audit import AuditLog, Operation
from tools.canonical.fastcheck import check_candidates
from tools.canonical.output import (
    part_name,
    run_state,
    to_canonical,
    write_atomically,
    write_run_state,
)
from tools.content.sources import SourceInfo, SourceRegistry

Progress = Callable[[int, int], None]  # (policies done, policies total)
StatusHook = Callable[[str], None]
VERSION = "policy_v1"
DEFAULT_BATCH = 20_000
#: Test hook: ``DATA_MASH_ASSEMBLY_KILL_AT=k`` kills the process (SIGKILL) while batch k is
#: half-written (its intent committed, half its documents in its part; on a process pool or Ray
#: that process is a worker); ``join`` kills it while staging, ``stage`` right after staging;
#: ``after:k`` kills the driver right after it committed batch k, later batches in flight.
KILL_ENV = "DATA_MASH_ASSEMBLY_KILL_AT"


def _approved(engine: Engine, assembly_id: str, tenant: str) -> AssemblySpec:
    spec = get_assembly(engine, assembly_id, tenant=tenant)
    if spec.status != AssemblyStatus.APPROVED:
        raise InputError(
            f"assembly '{assembly_id}' is not approved (status {spec.status}); only an approved "
            "assembly runs",
            where=f"assembly {assembly_id}",
            fix=f"review it and approve it first: data-mash assembly approve {assembly_id}",
        )
    return spec


def _kill_point(where: str) -> None:
    if os.environ.get(KILL_ENV) == where:
        os.kill(os.getpid(), 9)


def _stage(
    engine: Engine,
    settings: Settings,
    spec: AssemblySpec,
    parts: list[Contributor],
    tenant: str,
    batch_policies: int,
    audit: AuditLog,
    parent: int,
    status: StatusHook | None,
    executor: Executor,
) -> dict[str, Any]:
    folder = assembly_dir(settings, tenant, spec.assembly_id) / STAGE
    state = folder / STAGE_STATE

    def hook(text: str) -> None:
        if text.startswith("joining"):
            _kill_point("join")  # every source mapped, nothing joined yet
        if status is not None:
            status(text)

    registry = SourceRegistry(engine, tenant=tenant)
    with audit.operation(
        NAMESPACE,
        "stage_assembly",
        target=spec.assembly_id,
        payload={"sources": [c.info.source_id for c in parts], "batch_policies": batch_policies},
        idempotency_key=f"asm:{spec.assembly_id}:stage",
        parent_id=parent,
    ) as op:
        if state.is_file():
            summary = dict(json.loads(state.read_text()))
            op.outcome = op.outcome or {"policies": summary["policies"]}
            return summary
        sources: dict[str, SourceInfo] = {s.source_id: s for s in registry.list()}
        folder.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="duck-", dir=folder.parent) as tmp:
            con = keyspace.connect(Path(tmp))
            con.execute("SET preserve_insertion_order = true")
            try:
                summary = build_stage(
                    con,
                    spec,
                    parts,
                    sources,
                    folder,
                    batch_policies=batch_policies,
                    version=VERSION,
                    progress=hook,
                    executor=executor,
                )
            finally:
                con.close()
        op.outcome = {"policies": summary["policies"], "duplicates": summary["duplicates"]}
    _kill_point("stage")
    return summary


def run_assembly(
    engine: Engine,
    settings: Settings,
    assembly_id: str,
    *,
    tenant: str | None = None,
    batch_policies: int | None = None,
    progress: Progress | None = None,
    status: StatusHook | None = None,
    executor: Executor | None = None,
) -> AssemblyRunResult:
    """Assemble every policy of an approved assembly (see the module docstring).

    The batches run on ``executor`` (default: the one the settings name, :mod:`core.executors`);
    the driver keeps the audit log: each batch's intent is committed before its task is
    submitted and its outcome in batch order, so every executor writes the same files.

    Raises:
        ConfigError: a remote executor with a SQLite store, or an unreachable cluster.
        NotFoundError: no such assembly.
        InputError: the assembly is not approved. Nothing is written then.
        LeaseHeld: another process is running this assembly (names its pid, host, since).
    """
    tenant = tenant or settings.tenant
    spec = _approved(engine, assembly_id, tenant)
    # One run of an assembly at a time: two would stage and write the same batches. A second one
    # is refused naming the holder; a killed holder's lease is taken over.
    with hold_lease(engine, tenant, f"assembly:{assembly_id}", what=f"assembly run {assembly_id}"):
        return _run(
            engine, settings, spec, assembly_id, tenant, batch_policies, progress, status, executor
        )


def _run(
    engine: Engine,
    settings: Settings,
    spec: AssemblySpec,
    assembly_id: str,
    tenant: str,
    batch_policies: int | None,
    progress: Progress | None,
    status: StatusHook | None,
    executor: Executor | None,
) -> AssemblyRunResult:
    parts = contributors(engine, tenant, spec)
    home = assembly_dir(settings, tenant, assembly_id)
    folder = home / "run"
    folder.mkdir(parents=True, exist_ok=True)
    batch = int(run_state(folder).get("batch_rows") or batch_policies or DEFAULT_BATCH)
    audit = AuditLog(engine, tenant=tenant)
    run_key = f"asm:{assembly_id}:run"
    with audit.operation(
        NAMESPACE,
        "run_assembly",
        target=assembly_id,
        payload={"root": spec.root, "batch_policies": batch},
        idempotency_key=run_key,
    ) as run:
        if run.completed and run.outcome:
            write_run_state(folder, batch_rows=batch, complete=True)
            return AssemblyRunResult(**{**run.outcome, "resumed_batches": run.outcome["batches"]})
        write_run_state(folder, batch_rows=batch, complete=False)
        own = executor is None
        executor = make_executor(settings) if executor is None else executor
        try:
            summary = _stage(
                engine, settings, spec, parts, tenant, batch, audit, run.entry_id, status, executor
            )
            stage = home / STAGE
            policies = int(summary["policies"])
            batches = (policies + batch - 1) // batch
            root = ds.dataset(stage / parts[0].file, format="parquet")
            rules = {r.field: r for r in spec.survivorship}
            task = AssembleBatch(parts, rules, stage, folder)
            totals = Totals(parts)
            resumed = 0
            audited = _audited(audit, run.entry_id, assembly_id, root, policies, batch)
            for hi, outcome, was_done in _assembled(executor, audited, task):
                resumed += was_done
                totals.add(outcome)
                if progress is not None:
                    progress(hi, policies)
        finally:
            if own:
                executor.close()
        result = totals.result(spec, summary, stage, batches, resumed, folder)
        write_run_state(folder, batch_rows=batch, complete=True)
        run.outcome = result.model_dump(mode="json")
    return result


def _read(dataset: ds.Dataset, lo: int, hi: int, columns: list[str] | None = None) -> pa.Table:
    expr = (pc.field(POS) >= lo) & (pc.field(POS) < hi)
    return dataset.to_table(columns=columns, filter=expr)


@dataclass
class _Batch:
    """One batch of policy positions on its way to a worker, with its audit operation."""

    k: int
    lo: int
    hi: int
    done: bool  # succeeded before: its outcome stands and nothing is sent to a worker
    operation: Operation
    manager: AbstractContextManager[Operation]


def _audited(
    audit: AuditLog,
    parent: int,
    assembly_id: str,
    root: ds.Dataset,
    policies: int,
    batch: int,
) -> Iterator[_Batch]:
    """The run's batches (ranges of policy positions), each with its audit intent and policy
    ids committed (write-ahead) before it goes to a worker."""
    has_ids = ID_PATH in root.schema.names
    for k in range((policies + batch - 1) // batch):
        lo, hi = k * batch, min(policies, (k + 1) * batch)
        ids = (
            [i for i in pc.drop_null(_read(root, lo, hi, [ID_PATH]).column(0)).to_pylist() if i]
            if has_ids
            else []
        )
        manager = audit.operation(
            NAMESPACE,
            "assembly_batch",
            target=assembly_id,
            payload={"batch_no": k, "first_policy": lo, "policies": hi - lo},
            idempotency_key=f"asm:{assembly_id}:batch:{k}",
            policy_ids=ids,
            parent_id=parent,
        )
        op = manager.__enter__()
        yield _Batch(k, lo, hi, op.completed and bool(op.outcome), op, manager)


def _assembled(
    executor: Executor, batches: Iterator[_Batch], task: AssembleBatch
) -> Iterator[tuple[int, dict[str, Any], bool]]:
    """Assemble the batches on the executor; close each audit operation in batch order.

    Yields (end position, outcome, done before). A batch in flight when the run fails stays
    open in the log (failed) and a re-run redoes it under the same key."""
    opened: deque[_Batch] = deque()

    def submitted() -> Iterator[tuple[int, int, int] | None]:
        for batch in batches:
            opened.append(batch)
            yield None if batch.done else (batch.k, batch.lo, batch.hi)

    try:
        for outcome in executor.map(task, submitted()):
            batch = opened.popleft()
            if outcome is not None:
                batch.operation.outcome = outcome
            batch.manager.__exit__(None, None, None)
            _kill_point(f"after:{batch.k}")
            yield batch.hi, batch.operation.outcome or {}, outcome is None
    except BaseException as exc:
        while opened:
            opened.popleft().manager.__exit__(type(exc), exc, exc.__traceback__)
        raise


class AssembleBatch:
    """The executor task of an assembly run: one range of policy positions, read from the
    stage's files, joined, validated and written as the batch's part and side files.

    Picklable (contributors and rules are plain data; open datasets are not shipped). Files are
    replaced whole, so a retried task leaves one copy; the driver commits the outcome it returns.
    """

    def __init__(
        self, parts: list[Contributor], rules: dict[str, Any], stage: Path, folder: Path
    ) -> None:
        self.parts, self.rules, self.stage, self.folder = parts, rules, stage, folder
        self._datasets: dict[int, ds.Dataset] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_datasets": {}}

    def _dataset(self, c: Contributor) -> ds.Dataset:
        if c.index not in self._datasets:
            self._datasets[c.index] = ds.dataset(self.stage / c.file, format="parquet")
        return self._datasets[c.index]

    def __call__(self, task: tuple[int, int, int] | None) -> dict[str, Any] | None:
        if task is None:
            return None
        outcome = self._assemble(*task)
        # The batch's tables are gone: Arrow's allocator returns their pages (kept for reuse,
        # they pile up over many batches in the process's peak).
        pa.default_memory_pool().release_unused()
        return outcome

    def _assemble(self, k: int, lo: int, hi: int) -> dict[str, Any]:
        n, parts, folder = hi - lo, self.parts, self.folder
        root = make_slice(parts[0], _read(self._dataset(parts[0]), lo, hi), lo, n)
        others = [make_slice(c, _read(self._dataset(c), lo, hi), lo, n) for c in parts[1:]]
        result = assemble(root, others, self.rules, VERSION)
        verdict = check_candidates(result.candidates, VERSION)
        valid = np.asarray(verdict.valid, dtype=bool)
        documents = to_canonical(result.candidates.filter(pa.array(valid)), VERSION)
        held = _held(others)
        partial = valid & held
        if os.environ.get(KILL_ENV) == str(k):
            write_atomically(
                documents.slice(0, max(1, documents.num_rows // 2)), folder / part_name(k)
            )
            _kill_point(str(k))
        write_atomically(documents, folder / part_name(k))
        write_atomically(
            _provenance(root, others, result.winners, result.candidates, valid, partial),
            folder / PROVENANCE / part_name(k),
        )
        write_atomically(result.conflicts, folder / CONFLICTS / part_name(k))
        quarantine = _quarantine(result.candidates, verdict, valid)
        write_atomically(quarantine, folder / QUARANTINE / part_name(k))
        return {
            "policies": n,
            "valid": int(valid.sum()),
            "quarantined": int(n - valid.sum()),
            "partial": int(partial.sum()),
            "conflicts": result.conflicts.num_rows,
            "reasons": reasons(quarantine),
            "arrived": {s.contributor.name: int(s.arrived[valid].sum()) for s in others},
        }


def _held(others: list[Slice]) -> np.ndarray:
    """Policies for which some source holds a record that did not reach the document."""
    if not others:
        return np.zeros(0, dtype=bool)
    short = np.zeros(len(others[0].held), dtype=bool)
    for s in others:
        short |= s.held > s.arrived
    return short


def _provenance(
    root: Slice,
    others: list[Slice],
    winners: dict[str, pa.Array],
    candidates: pa.Table,
    valid: np.ndarray,
    partial: np.ndarray,
) -> pa.Table:
    n = len(valid)
    columns: dict[str, pa.Array] = {
        "policy_id": candidates.column(ID_PATH).combine_chunks()
        if ID_PATH in candidates.column_names
        else pa.nulls(n, pa.string()),
        "pos": pa.array(root.table.column(POS).to_numpy()),
        "root_row": root.table.column(ROW).combine_chunks(),
        "valid": pa.array(valid),
        "partial": pa.array(partial),
    }
    for s in others:
        rows = s.table.column(ROW).to_numpy()
        order = np.flatnonzero(s.good)
        offsets = np.concatenate([[0], np.cumsum(np.bincount(s.local[order], minlength=n))])
        columns[f"rows:{s.contributor.index}"] = pa.ListArray.from_arrays(
            pa.array(offsets.astype(np.int32)), pa.array(rows[order], pa.int64())
        )
        columns[f"held:{s.contributor.index}"] = pa.array(s.held.astype(np.int32))
    for path, names in winners.items():
        columns[f"win:{path}"] = names
    return pa.table(columns)


def _quarantine(candidates: pa.Table, verdict: Any, valid: np.ndarray) -> pa.Table:
    errors = verdict.errors
    ids = (
        candidates.column(ID_PATH).combine_chunks()
        if ID_PATH in candidates.column_names
        else pa.nulls(candidates.num_rows, pa.string())
    )
    at = errors.column("row")
    return pa.table(
        {
            "policy_id": pc.take(ids, at),
            "root_row": pc.take(candidates.column(ROW).combine_chunks(), at),
            "path": errors.column("path"),
            "kind": errors.column("kind"),
            "message": errors.column("message"),
        }
    )
