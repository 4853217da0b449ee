"""The assembly run's staging (each source's parts mapped) and batches on every executor: a
process pool and Ray (a local instance, 2 workers) write the local executor's files byte for
byte, with one audited batch each. A Ray worker killed mid-task (the first task: a staging
one) is retried without duplicates; a process-pool worker killed mid-task fails the run, and
running it again resumes to the same bytes; so does a run whose driver is killed (SIGKILL)
with batches in flight on the pool or on Ray (its own local instance ends with it)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import uuid
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import psutil
import pytest
from assembly_estates import IngestedEstate

from core.executors import Executor, LocalExecutor, ProcessExecutor, RayExecutor
from tests.tools.waves.executor_helpers import KillingExecutor
from tools.assembly.output import run_dir
from tools.assembly.run import KILL_ENV, run_assembly
from tools.assembly.spec import approve_assembly, propose_assembly
from tools.audit import AuditLog
from tools.canonical.repository import approve_mapping, get_mapping

BATCH = 25
REPO = Path(__file__).resolve().parents[3]


def _approved(estate: IngestedEstate) -> str:
    """A new approved assembly of the agency book (its own run folder)."""
    spec = propose_assembly(
        estate.engine, estate.settings, estate.ids["agency_policies"], None, tenant="default"
    )
    if get_mapping(estate.engine, spec.root_mapping_id, tenant="default").approved_version is None:
        approve_mapping(estate.engine, spec.root_mapping_id, tenant="default")
    return approve_assembly(estate.engine, spec.assembly_id, tenant="default").assembly_id


def _outputs(estate: IngestedEstate, assembly_id: str, result: Any) -> dict[str, Any]:
    """Every file the run wrote (sha256), its figures and its batches' audit entries."""
    folder = run_dir(estate.settings, "default", assembly_id)
    files = {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*.parquet"))
    }
    batches = [
        (e.payload["batch_no"], e.policy_count, e.attempts, e.status)
        for e in AuditLog(estate.engine).replay("assembly")
        if e.operation == "assembly_batch" and e.target == assembly_id
    ]
    figures = result.model_dump(mode="json", exclude={"assembly_id", "output_dir"})
    return {"files": files, "figures": figures, "batches": batches}


def _run(estate: IngestedEstate, executor: Executor) -> dict[str, Any]:
    assembly_id = _approved(estate)
    result = run_assembly(
        estate.engine,
        estate.settings,
        assembly_id,
        tenant="default",
        batch_policies=BATCH,
        executor=executor,
    )
    return _outputs(estate, assembly_id, result)


@pytest.fixture(scope="module")
def local(estate7: IngestedEstate) -> dict[str, Any]:
    outputs = _run(estate7, LocalExecutor())
    assert outputs["figures"]["batches"] >= 5
    assert [b for b, *_ in outputs["batches"]] == list(range(outputs["figures"]["batches"]))
    assert sum(n for _, n, *_ in outputs["batches"]) == outputs["figures"]["policies"]
    # the part, provenance, conflicts and quarantine of every batch
    assert len(outputs["files"]) == 4 * outputs["figures"]["batches"]
    return outputs


def test_assembly_on_ray_writes_the_local_files_and_survives_a_killed_worker(
    estate7: IngestedEstate, local: dict[str, Any], ray_executor: RayExecutor, tmp_path: Path
) -> None:
    marker = tmp_path / "killed"
    on_ray = _run(estate7, KillingExecutor(ray_executor, str(marker)))
    assert marker.exists()  # one worker died holding a batch; Ray ran it again
    assert on_ray == local
    assert all(attempts == 1 and status == "ok" for *_, attempts, status in on_ray["batches"])


def test_assembly_on_a_process_pool_writes_the_local_files(
    estate7: IngestedEstate, local: dict[str, Any]
) -> None:
    pool = ProcessExecutor(2)
    try:
        assert _run(estate7, pool) == local
    finally:
        pool.close()


def test_a_process_pool_worker_killed_mid_task_fails_the_run_and_a_rerun_resumes(
    estate7: IngestedEstate, local: dict[str, Any], tmp_path: Path
) -> None:
    assembly_id = _approved(estate7)
    marker = tmp_path / "killed"
    pool = ProcessExecutor(2)
    try:
        with pytest.raises(BrokenProcessPool):
            run_assembly(
                estate7.engine,
                estate7.settings,
                assembly_id,
                tenant="default",
                batch_policies=BATCH,
                executor=KillingExecutor(pool, str(marker)),
            )
    finally:
        pool.close()
    assert marker.exists()
    again = ProcessExecutor(2)
    try:
        result = run_assembly(
            estate7.engine, estate7.settings, assembly_id, tenant="default", executor=again
        )
    finally:
        again.close()
    resumed = _outputs(estate7, assembly_id, result)
    assert resumed["files"] == local["files"]
    assert resumed["figures"] == {**local["figures"], "resumed_batches": result.resumed_batches}
    # every batch committed once; those in flight when the pool broke failed and were redone
    ok = [b for b, _, _, status in resumed["batches"] if status == "ok"]
    assert sorted(ok) == list(range(local["figures"]["batches"]))


def _tagged(tag: str) -> list[psutil.Process]:
    """Live processes whose environment carries ``tag`` (a driver and its pool workers)."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get("DATA_MASH_TEST_RUN") == tag and proc.status() != "zombie":
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def _kill_driver(estate: IngestedEstate, assembly_id: str, executor: str, log: Path) -> str:
    """Run the assembly in a driver process on ``executor`` (2 workers) that SIGKILLs itself
    once batch 1 is committed, later batches in flight; returns the run's process tag."""
    tag = uuid.uuid4().hex
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "DATA_MASH_HOME": str(estate.settings.home),
        "DATA_MASH_EMBEDDING_PROVIDER": "none",
        "DATA_MASH_EXECUTOR": executor,
        "DATA_MASH_EXECUTOR_WORKERS": "2",
        "DATA_MASH_TEST_RUN": tag,
        KILL_ENV: "after:1",  # the driver dies once batch 1 is committed, 2.. on the workers
    }
    for name in ("DATA_MASH_DB_URL", "DATA_MASH_TENANT", "DATA_MASH_RAY_ADDRESS", "RAY_ADDRESS"):
        env.pop(name, None)
    command = ["assembly", "run", assembly_id, "--batch-policies", str(BATCH), "--json"]
    with log.open("wb") as out:  # not a pipe: orphaned workers would hold it open
        proc = subprocess.run(
            [sys.executable, "-m", "cli.main", *command],
            check=False, env=env, cwd=REPO, stdout=out, stderr=out, timeout=600,
        )  # fmt: skip
    assert proc.returncode == -9, log.read_text()[-2000:]
    return tag


def _resumed_exactly_once(
    estate: IngestedEstate, assembly_id: str, local: dict[str, Any], executor: Executor
) -> None:
    """Run again on ``executor``: batches 0 and 1 are kept, the rest done once, same bytes."""
    result = run_assembly(
        estate.engine, estate.settings, assembly_id, tenant="default", executor=executor
    )
    assert result.resumed_batches == 2  # committed before the kill: not redone
    resumed = _outputs(estate, assembly_id, result)
    assert resumed["files"] == local["files"]  # no loss, no duplicate: the same bytes
    assert resumed["figures"] == {**local["figures"], "resumed_batches": 2}
    ok = [b for b, _, _, status in resumed["batches"] if status == "ok"]
    assert sorted(ok) == list(range(local["figures"]["batches"]))


def test_a_driver_killed_with_batches_in_flight_on_a_pool_resumes_to_the_same_bytes(
    estate7: IngestedEstate, local: dict[str, Any], tmp_path: Path
) -> None:
    assembly_id = _approved(estate7)
    tag = _kill_driver(estate7, assembly_id, "process", tmp_path / "driver.log")
    # the pool's workers notice their driver is gone and exit (else they would wait forever)
    _, alive = psutil.wait_procs(_tagged(tag), timeout=30)
    assert not alive
    pool = ProcessExecutor(2)
    try:
        _resumed_exactly_once(estate7, assembly_id, local, pool)
    finally:
        pool.close()


def test_a_driver_killed_with_batches_in_flight_on_ray_resumes_to_the_same_bytes(
    estate7: IngestedEstate, local: dict[str, Any], ray_executor: RayExecutor, tmp_path: Path
) -> None:
    assembly_id = _approved(estate7)
    tag = _kill_driver(estate7, assembly_id, "ray", tmp_path / "driver.log")
    # the driver's local Ray instance (its head processes and workers) goes with it
    _, alive = psutil.wait_procs(_tagged(tag), timeout=60)
    assert not alive, [p.cmdline()[:3] for p in alive]
    _resumed_exactly_once(estate7, assembly_id, local, ray_executor)
