"""An assembly run killed (real SIGKILL) while staging and in two batches, then run again:
every policy exactly once, documents identical to an uninterrupted run's."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from assembly_estates import IngestedEstate

from tools.assembly.contracts import AssemblySpec
from tools.assembly.output import assembled_batches, run_dir
from tools.assembly.run import KILL_ENV, run_assembly
from tools.assembly.spec import approve_assembly, propose_assembly
from tools.canonical.repository import approve_mapping, get_mapping

REPO = Path(__file__).resolve().parents[3]
BATCH = 40


def _approved(estate: IngestedEstate) -> AssemblySpec:
    spec = propose_assembly(
        estate.engine, estate.settings, estate.ids["agency_policies"], None, tenant="default"
    )
    mapping = get_mapping(estate.engine, spec.root_mapping_id, tenant="default")
    if mapping.approved_version is None:
        approve_mapping(estate.engine, spec.root_mapping_id, tenant="default")
    return approve_assembly(estate.engine, spec.assembly_id, tenant="default")


def _documents(estate: IngestedEstate, assembly_id: str) -> pa.Table:
    return pa.Table.from_batches(list(assembled_batches(estate.settings, "default", assembly_id)))


def _digest(table: pa.Table) -> str:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table.combine_chunks())  # same values -> same bytes
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()


@pytest.fixture(scope="module")
def uninterrupted(estate7: IngestedEstate) -> pa.Table:
    spec = _approved(estate7)
    run_assembly(
        estate7.engine, estate7.settings, spec.assembly_id, tenant="default", batch_policies=BATCH
    )
    return _documents(estate7, spec.assembly_id)


@pytest.mark.parametrize("kill_at", ["join", "0", "2"])
def test_killed_run_resumes_without_duplicate_or_loss(
    estate7: IngestedEstate, uninterrupted: pa.Table, kill_at: str
) -> None:
    spec = _approved(estate7)
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "DATA_MASH_HOME": str(estate7.settings.home),
        "DATA_MASH_EMBEDDING_PROVIDER": "none",
        KILL_ENV: kill_at,
    }
    env.pop("DATA_MASH_DB_URL", None)
    env.pop("DATA_MASH_TENANT", None)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli.main",
            "assembly",
            "run",
            spec.assembly_id,
            "--batch-policies",
            str(BATCH),
            "--json",
        ],
        check=False,
        env=env,
        cwd=REPO,
        capture_output=True,
        timeout=600,
    )
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    folder = run_dir(estate7.settings, "default", spec.assembly_id)
    if kill_at != "join":
        # the killed batch left a torn part behind, and the run is marked unfinished
        assert (folder / f"part-{int(kill_at):05d}.parquet").is_file()
    with pytest.raises(Exception, match="incomplete"):
        next(assembled_batches(estate7.settings, "default", spec.assembly_id))
    result = run_assembly(estate7.engine, estate7.settings, spec.assembly_id, tenant="default")
    assert result.resumed_batches == (0 if kill_at == "join" else int(kill_at))
    documents = _documents(estate7, spec.assembly_id)
    ids = documents.column("policy_core.policy_id").to_pylist()
    assert len(ids) == len(set(ids)) == uninterrupted.num_rows
    assert _digest(documents) == _digest(uninterrupted)
