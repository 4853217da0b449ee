"""Acceptance (issue 15 item 7): waves migrate whole assembled policies.

On the 2,000-policy sample estate, the four policy roots are assembled from every system; a plan
made from the assemblies puts the clean policies in wave 0, the wave stores each with its child
rows on the new platform and reconciles per component; compensation leaves no child row; a
SIGKILL mid-migrate followed by a resume leaves each policy once.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from core.errors import InputError, NotFoundError
from evals.demo import mapping_step
from tests.tools.assembly.assembly_estates import IngestedEstate, ingest_estate
from tests.tools.waves.kill_points import kill_at, start_runner
from tools.assembly.output import assembled_batches
from tools.assembly.run import run_assembly
from tools.assembly.spec import approve_assembly, propose_assembly
from tools.waves import (
    Plan,
    PlanCriteria,
    WaveContext,
    generate_plan,
    get_wave_status,
    rollback_wave,
    run_wave,
)
from tools.waves.milestones import reconcile_wave
from tools.waves.state import wave_policy_ids
from tools.waves.targets.components import CHILD_TABLES

ROOTS = ("policy_master", "agency_policies", "life", "acquired_policy")


@dataclass
class Assembled:
    estate: IngestedEstate
    assembly_ids: list[str]
    valid: int  # documents the runs wrote (complete + partial)


@pytest.fixture(scope="module")
def assembled(tmp_path_factory: pytest.TempPathFactory) -> Assembled:
    estate = ingest_estate(tmp_path_factory.mktemp("wave-estate"), policies=2000, seed=7)
    # The demo's mapping step: proposals for every source, the roots reviewed and approved.
    sources = {
        "sources": [{"name": n, "source_id": i, "system": ""} for n, i in estate.ids.items()]
    }
    mapped = mapping_step(estate.engine, estate.settings, estate.root, sources)
    assert set(mapped["approved"]) == set(ROOTS), mapped["sources"]
    ids, valid = [], 0
    for root in ROOTS:
        spec = propose_assembly(
            estate.engine, estate.settings, estate.ids[root], None, tenant="default"
        )
        approve_assembly(estate.engine, spec.assembly_id, tenant="default")
        result = run_assembly(estate.engine, estate.settings, spec.assembly_id, tenant="default")
        ids.append(spec.assembly_id)
        valid += result.complete + result.partial
    return Assembled(estate, ids, valid)


@pytest.fixture
def cli_workspace(assembled: Assembled, monkeypatch: pytest.MonkeyPatch) -> None:
    """The data-mash command acts on the assembled estate's workspace (SQLite, no embeddings)."""
    monkeypatch.setenv("DATA_MASH_HOME", str(assembled.estate.settings.home))
    monkeypatch.setenv("DATA_MASH_EMBEDDING_PROVIDER", "none")
    monkeypatch.delenv("DATA_MASH_DB_URL", raising=False)
    monkeypatch.delenv("DATA_MASH_TENANT", raising=False)


def _context(a: Assembled) -> WaveContext:
    return WaveContext.default(a.estate.engine, a.estate.settings)


def _platform_plan(a: Assembled, *, batch_size: int) -> tuple[WaveContext, Plan]:
    """A plan of every assembly of the estate onto the new platform."""
    context = _context(a)
    plan = generate_plan(
        context,
        assembly_ids=a.assembly_ids,
        target="new_platform",
        criteria=PlanCriteria(batch_size=batch_size),
    )
    return context, plan


def _platform(a: Assembled) -> Path:
    return a.estate.settings.home / "targets" / "default" / "new_platform.sqlite"


def _documents(a: Assembled, members: pa.Array) -> pa.Table:
    """The assembled documents of the wave's members (what the wave must carry whole)."""
    parts = []
    for assembly_id in a.assembly_ids:
        for batch in assembled_batches(a.estate.settings, "default", assembly_id):
            ids = batch.column("policy_core.policy_id").cast(pa.string())
            parts.append(pa.Table.from_batches([batch.filter(pc.is_in(ids, value_set=members))]))
    return pa.concat_tables(parts)


def _expected_children(docs: pa.Table) -> dict[str, int]:
    return {
        table: int(pc.sum(pc.list_value_length(docs.column(path))).as_py() or 0)
        for path, table in CHILD_TABLES.items()
    }


def _rows(db: Path, sql: str) -> list[tuple]:  # type: ignore[type-arg]
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def test_a_wave_from_assemblies_migrates_whole_policies_and_reconciles_per_component(
    assembled: Assembled,
) -> None:
    context, plan = _platform_plan(assembled, batch_size=200)
    assert plan.assembly_ids == plan.source_ids == assembled.assembly_ids
    assert plan.summary["inputs"] == "assemblies"
    # every valid assembled policy is planned; wave 0 holds the ones every gate passes
    assert plan.summary["policies"] == assembled.valid
    wave0 = plan.waves[0]
    assert wave0.number == 0 and wave0.policy_count == plan.summary["clean"] > 500
    try:
        status = run_wave(context, wave0.wave_id)
        assert status.status == "completed", status.error
        assert status.migrated == wave0.policy_count and status.failed == 0
        members = wave_policy_ids(context, wave0.wave_id)
        docs = _documents(assembled, members)
        assert docs.num_rows == wave0.policy_count
        # whole policies: the platform holds one child row per item of every list component
        expected = _expected_children(docs)
        target = context.target("new_platform")
        assert target.children(wave0.wave_id) == expected
        filled = [t for t, n in expected.items() if n]
        assert len(filled) >= 4, expected  # coverages, payments, letters, endorsements...
        # reconciliation per component ran inside the wave and passed
        validation = status.validation or {}
        assert validation["passed"] is True
        components = {c["component"]: c for c in validation["components"]}
        for path, table in CHILD_TABLES.items():
            assert components[path]["source_children"] == expected[table]
            assert components[path]["target_children"] == expected[table]
            assert components[path]["matches"] and components[path]["different"] == 0
        # a policy reads back exactly as it was assembled, every component and field
        richest = max(
            range(docs.num_rows),
            key=lambda i: sum(len(docs.column(p)[i].as_py() or []) for p in CHILD_TABLES),
        )
        pid = docs.column("policy_core.policy_id")[richest].as_py()
        back = pa.Table.from_batches(list(target.read_back(wave0.wave_id)))
        row = back.filter(pc.equal(back.column("policy_core.policy_id"), pid))
        want = docs.slice(richest, 1).select(back.schema.names)
        assert row.to_pylist() == want.to_pylist()

        # Per-component reconciliation narrows a difference to policy, component and field.
        db = _platform(assembled)
        # (a policy with one endorsement: with several, a changed item may sort elsewhere)
        (policy, item), *_ = _rows(
            db,
            "SELECT policy_id, min(item_no) FROM endorsement "
            f"WHERE wave_id = '{wave0.wave_id}' GROUP BY policy_id HAVING count(*) = 1 "
            "ORDER BY policy_id LIMIT 1",
        )
        with sqlite3.connect(db) as conn:
            conn.execute(
                "UPDATE endorsement SET endorsement_type = 'tampered' "
                f"WHERE policy_id = '{policy}' AND item_no = {item}"
            )
        report = reconcile_wave(context, wave0.wave_id)
        assert report["passed"] is False
        assert [
            (c["policy_id"], c["component"], c["fields"]) for c in report["component_sample"]
        ] == [(policy, "endorsements", ["endorsements[].endorsement_type"])]
    finally:
        # compensation deletes whole policies: no policy row and no child row is left
        undone = rollback_wave(context, wave0.wave_id)
        assert undone.status == "compensated"
    db = _platform(assembled)
    assert _rows(db, "SELECT count(*) FROM policy") == [(0,)]
    for table in CHILD_TABLES.values():
        assert _rows(db, f"SELECT count(*) FROM {table}") == [(0,)], table


def test_sigkill_mid_migrate_then_resume_gives_each_whole_policy_once(
    assembled: Assembled,
) -> None:
    context, plan = _platform_plan(assembled, batch_size=100)
    wave0 = plan.waves[0]
    home = assembled.estate.settings.home
    try:
        # after the target took batch 1 but before its checkpoint; then before batch 4's work
        for stop in ("after_work:migrate:1", "before_work:migrate:4"):
            runner = start_runner(
                "tests.tools.waves.assembly_wave_runner", str(home), wave0.wave_id, stop
            )
            kill_at(runner, home, stop)
            assert get_wave_status(context, wave0.wave_id).status == "running"
        status = run_wave(context, wave0.wave_id)
        assert status.status == "completed", status.error
        assert status.migrated == wave0.policy_count
        assert status.steps["migrate"].resumed_batches == 4  # batches 0-3 were not redone
        db = _platform(assembled)
        ids = [r[0] for r in _rows(db, "SELECT policy_core__policy_id FROM policy")]
        assert len(ids) == len(set(ids)) == wave0.policy_count
        docs = _documents(assembled, wave_policy_ids(context, wave0.wave_id))
        expected = _expected_children(docs)
        for table, n in expected.items():
            keys = _rows(db, f"SELECT policy_id, item_no FROM {table}")
            assert len(keys) == n, table  # no item twice, none lost
            assert not [k for k, c in Counter(keys).items() if c > 1]
        assert (status.validation or {})["passed"] is True
    finally:
        assert rollback_wave(context, wave0.wave_id).status == "compensated"


def test_a_plan_refuses_assemblies_it_cannot_read(assembled: Assembled) -> None:
    context = _context(assembled)
    estate = assembled.estate
    with pytest.raises(InputError, match="either sources or assemblies"):
        generate_plan(
            context,
            source_ids=[estate.ids["life"]],
            assembly_ids=assembled.assembly_ids[:1],
            target="new_platform",
        )
    with pytest.raises(NotFoundError, match="no assembly 'asm-nosuch'"):
        generate_plan(context, assembly_ids=["asm-nosuch"], target="new_platform")
    with pytest.raises(InputError, match="is not an assembly id"):
        generate_plan(context, assembly_ids=[estate.ids["life"]], target="new_platform")
    draft = propose_assembly(
        estate.engine, estate.settings, estate.ids["life"], None, tenant="default"
    )
    with pytest.raises(InputError, match="is not approved") as err:
        generate_plan(context, assembly_ids=[draft.assembly_id], target="new_platform")
    assert f"data-mash assembly approve {draft.assembly_id}" in (err.value.fix or "")
    approve_assembly(estate.engine, draft.assembly_id, tenant="default")
    with pytest.raises(NotFoundError, match="has not been run") as err:
        generate_plan(context, assembly_ids=[draft.assembly_id], target="new_platform")
    assert f"data-mash assembly run {draft.assembly_id}" in (err.value.fix or "")


@pytest.mark.usefixtures("cli_workspace")
def test_generate_plan_from_assemblies_on_the_command_line(
    assembled: Assembled, capsys: pytest.CaptureFixture[str]
) -> None:
    from cli.main import main

    args = ["generate-plan", "--target", "new_platform", "--json"]
    for assembly_id in assembled.assembly_ids[:2]:
        args += ["--assembly", assembly_id]
    assert main(args) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["assembly_ids"] == assembled.assembly_ids[:2]
    assert plan["summary"]["inputs"] == "assemblies" and plan["waves"][0]["number"] == 0
    assert main(["generate-plan", "--target", "new_platform", "--json"]) == 2
    assert "--source SOURCE_ID or --assembly ASSEMBLY_ID" in capsys.readouterr().err
    assert main(["generate-plan", "--assembly", "asm-nosuch", "-t", "new_platform"]) == 1
    err = capsys.readouterr().err
    assert "no assembly 'asm-nosuch'" in err and "Traceback" not in err


@pytest.mark.usefixtures("cli_workspace")
def test_route_evaluates_whole_policies_of_an_assembly(
    assembled: Assembled, capsys: pytest.CaptureFixture[str]
) -> None:
    from cli.main import main
    from evals.demo_waves import EXAMPLE_RULES

    assembly_id = assembled.assembly_ids[1]  # agency_policies
    documents = sum(
        b.num_rows for b in assembled_batches(assembled.estate.settings, "default", assembly_id)
    )
    args = ["route", "--rules", str(EXAMPLE_RULES), assembly_id, "--dry-run", "--json"]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["routed"] + result["unrouted"] == documents > 0
    assert sum(result["by_target"].values()) == result["routed"]


@pytest.mark.parametrize("seed", [3, 11])
def test_other_seeds_migrate_whole_policies_and_reconcile(seed: int, tmp_path: Path) -> None:
    estate = ingest_estate(tmp_path, policies=2000, seed=seed)
    sources = {
        "sources": [{"name": n, "source_id": i, "system": ""} for n, i in estate.ids.items()]
    }
    mapping_step(estate.engine, estate.settings, estate.root, sources)
    ids = []
    for root in ROOTS:
        spec = propose_assembly(
            estate.engine, estate.settings, estate.ids[root], None, tenant="default"
        )
        approve_assembly(estate.engine, spec.assembly_id, tenant="default")
        run_assembly(estate.engine, estate.settings, spec.assembly_id, tenant="default")
        ids.append(spec.assembly_id)
    context = WaveContext.default(estate.engine, estate.settings)
    plan = generate_plan(context, assembly_ids=ids, target="new_platform")
    wave0 = plan.waves[0]
    status = run_wave(context, wave0.wave_id)
    assert status.status == "completed" and status.migrated == wave0.policy_count > 300
    a = Assembled(estate, ids, 0)
    expected = _expected_children(_documents(a, wave_policy_ids(context, wave0.wave_id)))
    assert context.target("new_platform").children(wave0.wave_id) == expected
    validation = status.validation or {}
    assert validation["passed"] and all(c["matches"] for c in validation["components"])


@pytest.mark.parametrize("target", ["coexistence_bridge", "legacy_batch"])
def test_the_other_targets_carry_whole_documents(
    assembled: Assembled, target: str, tmp_path: Path
) -> None:
    context = _context(assembled)
    criteria = PlanCriteria(target_config={"dir": str(tmp_path / target)})
    plan = generate_plan(
        context, assembly_ids=assembled.assembly_ids[1:2], target=target, criteria=criteria
    )
    wave0 = plan.waves[0]
    assert wave0.policy_count == plan.summary["clean"] > 100, json.dumps(plan.summary)
    status = run_wave(context, wave0.wave_id)
    try:
        assert status.status == "completed" and status.migrated == wave0.policy_count > 100
        validation = status.validation or {}
        assert validation["passed"]
        # every list component came back whole from the file drop / outbox
        components = {c["component"]: c for c in validation["components"]}
        assert components["endorsements"]["target_children"] > 0
        assert components["correspondence.documents"]["target_children"] > 0
        assert all(c["matches"] for c in components.values())
    finally:
        assert rollback_wave(context, wave0.wave_id).status == "compensated"
    assert context.target(target, criteria.target_config).count(wave0.wave_id) == 0
