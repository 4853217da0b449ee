"""Bulk stages on Ray (a local instance, 2 workers) give the local executor's outputs byte for
byte: the mapping run (map) and the wave's milestones (route through validate). A worker killed
mid-task is retried without duplicates. One Ray start for the whole run (tests/conftest.py)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from sqlalchemy import select

from core.executors import Executor, LocalExecutor, RayExecutor
from core.settings import Settings
from core.store import open_store
from core.store.models import PolicyMove, table_of
from tests.tools.canonical.helpers import BASE_RULES, policy_table, stage_source
from tests.tools.waves.executor_helpers import KillingExecutor, KillOnce, square_table
from tests.tools.waves.helpers import canonical_table, make_context, register_source, write_parts
from tools.audit import AuditLog
from tools.canonical import approve_mapping, create_mapping, map_to_canonical
from tools.routing.rulesets import register_rule_set
from tools.waves import PlanCriteria, generate_plan, run_wave
from tools.waves.reconcile import reconcile

pytest.importorskip("ray")

RULES = """
routing_rules:
  version: "1"
  canonical: policy_v1
  rules:
    - name: homeowners_to_bridge
      condition: {field: "policy_core.policy_type", operator: "equals", value: "homeowners"}
      target: "CoexistenceBridge"
      priority: 1
    - name: everything_else_new
      condition: {field: "policy_core.policy_id", operator: "not_null"}
      target: "NewPlatformAPI"
      priority: 2
"""
MOVE = table_of(PolicyMove)


def _run(
    root: Path, executor: Executor, target_config: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A wave of 600 policies (6 batches of 100) with routing rules; everything it produced."""
    settings = Settings(home=root / "ws", batch_size=100)
    engine = open_store(settings)
    folders = {
        "src-a": write_parts(root / "canon-a", canonical_table(450, prefix="A"), 200),
        "src-b": write_parts(root / "canon-b", canonical_table(150, prefix="B"), 100),
    }
    register_source(engine, settings, "src-a", 450)
    register_source(engine, settings, "src-b", 150, system="billing")
    register_rule_set(engine, "default", RULES, name="wave_rules")
    context = make_context(engine, settings, folders)
    context.executor = executor
    plan = generate_plan(
        context,
        source_ids=["src-a", "src-b"],
        target="new_platform",
        criteria=PlanCriteria(
            rule_set="wave_rules", batch_size=100, target_config=target_config or {}
        ),
    )
    wave_id = plan.waves[0].wave_id
    status = run_wave(context, wave_id)
    parts = sorted((context.workdir(wave_id) / "canonical").glob("*.parquet"))
    with engine.connect() as conn:
        moves = [
            tuple(r)
            for r in conn.execute(
                select(MOVE.c.policy_id, MOVE.c.from_system, MOVE.c.to_system, MOVE.c.rule)
                .where(MOVE.c.wave == wave_id)
                .order_by(MOVE.c.id)
            )
        ]
    target = context.target("new_platform", target_config)
    read_back = pa.Table.from_batches(list(target.read_back(wave_id)))
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, read_back.schema) as out:
        out.write_table(read_back)
    batches = [
        (e.operation, e.attempts, e.status)
        for e in AuditLog(engine).replay("waves")
        if e.operation.endswith(".batch")
    ]
    engine.dispose()
    return {
        "status": status.status,
        "outcomes": {name: step.outcome for name, step in status.steps.items()},
        "parts": [hashlib.sha256(p.read_bytes()).hexdigest() for p in parts],
        "moves": moves,
        "target": hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest(),
        "target_rows": read_back.num_rows,
        "batches": batches,
    }


def test_ray_map_keeps_task_order_and_returns_arrow(ray_executor: RayExecutor) -> None:
    results = list(ray_executor.map(square_table, range(9)))
    assert [t.column("n")[0].as_py() for t in results] == list(range(9))
    assert results == [square_table(n) for n in range(9)]


def test_a_killed_worker_is_retried_and_gives_the_same_results(
    ray_executor: RayExecutor, tmp_path: Path
) -> None:
    marker = tmp_path / "killed"
    results = list(ray_executor.map(KillOnce(square_table, str(marker)), range(6)))
    assert marker.exists()  # a worker did die mid-task
    assert results == [square_table(n) for n in range(6)]


def test_a_wave_on_ray_gives_the_local_outputs_byte_for_byte(
    ray_executor: RayExecutor, tmp_path: Path
) -> None:
    local = _run(tmp_path / "local", LocalExecutor())
    on_ray = _run(tmp_path / "ray", ray_executor)
    assert local["status"] == on_ray["status"] == "completed"
    assert on_ray == local
    assert local["outcomes"]["route"]["routed"] == 600
    assert local["outcomes"]["validate"]["passed"] == 1


def test_reconciliation_on_ray_reports_what_it_reports_locally(ray_executor: RayExecutor) -> None:
    source = canonical_table(300, prefix="R")
    target = canonical_table(300, prefix="R", bad_every=7).slice(2)  # 2 missing, some differ
    local = reconcile(source.to_batches(40), target.to_batches(50))
    on_ray = reconcile(source.to_batches(40), target.to_batches(50), executor=ray_executor)
    assert not local.passed and local.missing_in_target == 2 and local.different > 0
    assert on_ray.model_dump(mode="json") == local.model_dump(mode="json")


def test_a_worker_killed_mid_wave_is_retried_without_duplicates(
    ray_executor: RayExecutor, tmp_path: Path
) -> None:
    local = _run(tmp_path / "local", LocalExecutor())
    marker = tmp_path / "killed"
    killed = _run(tmp_path / "ray", KillingExecutor(ray_executor, str(marker)))
    assert marker.exists()
    # Same moves (one per policy and milestone), same files and rows; no batch redone.
    assert killed == local
    assert all(attempts == 1 and status == "ok" for _, attempts, status in killed["batches"])


def _map_run(root: Path, executor: Executor) -> dict[str, Any]:
    """The mapping run of 1000 records (100 invalid) in 10 batches: every file and figure."""
    settings = Settings(home=root, batch_size=100)
    engine = open_store(settings)
    source_id = stage_source(engine, settings, policy_table(1000, bad_every=10), part_rows=333)
    mapping = approve_mapping(engine, create_mapping(engine, source_id, BASE_RULES).mapping_id)
    result = map_to_canonical(engine, settings, mapping.mapping_id, executor=executor)
    folder = Path(result.output_dir)
    files = {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*.parquet"))
    }
    intents = [
        (e.payload["batch_no"], e.policy_count, e.attempts, e.status)
        for e in AuditLog(engine).replay("canonical")
        if e.operation == "map_batch"
    ]
    engine.dispose()
    figures = result.model_dump(exclude={"output_dir", "quarantine_dir", "mapping_id"})
    return {"result": figures, "files": files, "intents": intents}


def test_the_mapping_run_on_ray_writes_the_local_files_byte_for_byte(
    ray_executor: RayExecutor, tmp_path: Path
) -> None:
    local = _map_run(tmp_path / "local", LocalExecutor())
    marker = tmp_path / "killed"
    on_ray = _map_run(tmp_path / "ray", KillingExecutor(ray_executor, str(marker)))
    assert marker.exists()  # one worker died mid-batch and its task was retried
    assert on_ray == local
    assert local["result"]["invalid"] == 100 and len(local["files"]) == 20
    assert [batch for batch, *_ in local["intents"]] == list(range(10))
    assert sum(policies for _, policies, *_ in local["intents"]) == 1000
    assert all(attempts == 1 and status == "ok" for *_, attempts, status in on_ray["intents"])


@pytest.mark.postgres
def test_workers_write_a_postgresql_platform_with_the_local_rows(
    ray_executor: RayExecutor, tmp_path: Path, pg_url: str
) -> None:
    from tools.waves.milestones import _writes_in_workers
    from tools.waves.targets import make_target

    local = _run(tmp_path / "local", LocalExecutor(), {"url": pg_url, "table": "pol_local"})
    marker = tmp_path / "killed"
    on_ray = _run(
        tmp_path / "ray",
        KillingExecutor(ray_executor, str(marker)),
        {"url": pg_url, "table": "pol_ray"},
    )
    assert marker.exists()
    assert on_ray == local and local["target_rows"] == local["outcomes"]["migrate"]["written"]
    platform = make_target("new_platform", {"url": pg_url})

    class Ctx:  # the two things _writes_in_workers reads
        class context:  # noqa: N801
            target_factory = make_target
            executor = ray_executor

    assert _writes_in_workers(Ctx, platform)  # type: ignore[arg-type]
    Ctx.context.executor = LocalExecutor()  # type: ignore[assignment]
    assert not _writes_in_workers(Ctx, platform)  # type: ignore[arg-type]
