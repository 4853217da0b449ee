"""The demo's whole-policy steps: relate the sources, assemble each policy root, route whole
policies, plan waves from the assemblies and run wave 0.

Every count comes with what explains it: the completeness of each source per root (held,
arrived, left out as duplicates, invalid values or orphans), the top reasons of quarantined and
partial policies, the fields two systems disagree on, and why planned policies are not in wave 0
(the gate they fail). Where the crosswalk proposal names values that need a person (a numeric
billing mode, ambiguous without the data's evidence), the demo plays that person: it confirms
the values the evidence points to, through the same audited edit, and says so.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import Engine

from core.settings import Settings
from core.statuses import WaveState
from evals.demo_waves import EXAMPLE_RULES, StepProgress, plan_and_run_wave0
from tools.assembly import confirm_relationships
from tools.assembly.contracts import AssemblySpec
from tools.assembly.output import CONFLICTS, STAGE, assembly_dir, run_dir
from tools.assembly.review import edit_assembly, suggested_edits
from tools.assembly.run import run_assembly
from tools.assembly.spec import approve_assembly, propose_assembly
from tools.routing.decisions import route_source
from tools.routing.rulesets import register_rule_set
from tools.waves import PlanCriteria, WaveContext
from tools.waves.contracts import Plan, WaveStatus
from tools.waves.expressions import check_rule, evaluate_rule
from tools.waves.inputs import assembly_records, root_system
from tools.waves.state import wave_policy_ids

#: The estate's policy roots (one row per policy each), in the order the demo assembles them.
ROOTS = ("policy_master", "agency_policies", "life", "acquired_policy")
TOP = 5
REVIEWER = "the demo, acting as the reviewing person"


def relate_step(engine: Engine, settings: Settings, sources: dict[str, Any]) -> dict[str, Any]:
    """Discover how every source relates and confirm the proposals (the demo's reviewer)."""

    started = time.perf_counter()
    ids = [s["source_id"] for s in sources["sources"]]
    result = confirm_relationships(engine, settings, ids, tenant=settings.tenant)
    rows = [
        {
            "parent": r.parent_name,
            "parent_key": r.parent_key,
            "child": r.child_name,
            "child_key": r.child_key,
            "key_transform": r.key_transform.description if r.key_transform else None,
            "key_kind": r.key_transform.kind if r.key_transform else None,
            "crosswalk": r.key_transform.crosswalk.source_name
            if r.key_transform and r.key_transform.crosswalk
            else None,
            "match_rate": r.match_rate,
            "cardinality": r.cardinality,
            "orphans": r.orphans,
            "orphan_sample": r.orphan_sample[:3],
            "confidence": r.confidence,
        }
        for r in result.relationships
    ]
    return {
        "version": result.version,
        "relationships": rows,
        "note": result.note,
        "seconds": round(time.perf_counter() - started, 2),
    }


def _conflict_fields(settings: Settings, assembly_id: str) -> list[dict[str, Any]]:
    """The fields two systems disagree on, most frequent first, with the winning rule.

    Counted part by part with Arrow (a run at 350,000 policies holds millions of conflicts).
    """

    keys = ["field", "source", "other_source", "rule"]
    counts: Counter[tuple[str, ...]] = Counter()
    for part in sorted(
        (run_dir(settings, settings.tenant, assembly_id) / CONFLICTS).glob("*.parquet")
    ):
        grouped = pq.read_table(part, columns=keys).group_by(keys).aggregate([([], "count_all")])
        for row in grouped.to_pylist():
            counts[tuple(row[k] for k in keys)] += row["count_all"]
    return [
        {"field": f, "sources": [a, b], "rule": rule, "policies": n}
        for (f, a, b, rule), n in counts.most_common(TOP)
    ]


def _duplicates(settings: Settings, assembly_id: str, result: Any) -> dict[str, Any]:
    """Duplicate records dropped, by source (from the run's completeness), with example keys."""

    by_source = {c.source: c.duplicates for c in result.components if c.duplicates}
    path = assembly_dir(settings, settings.tenant, assembly_id) / STAGE / "duplicates.parquet"
    sample: list[str] = []
    if path.is_file():
        first = next(pq.ParquetFile(path).iter_batches(batch_size=3, columns=["key"]), None)
        sample = [k for k in (first.column(0).to_pylist() if first is not None else []) if k]
    return {"by_source": by_source, "sample": sample}


def review_crosswalks(
    engine: Engine, spec: AssemblySpec, tenant: str
) -> tuple[AssemblySpec, list[dict[str, Any]]]:
    """The demo's reviewer confirms the crosswalk values the data points to (the proposal lists
    them as needing a person, with their evidence), through the audited edit a person makes;
    the values nothing points to stay unmapped and quarantine their records."""

    edits = suggested_edits(spec)
    if not edits:
        return spec, []
    held = {(x.source_name, x.column, v.value): v for x in spec.crosswalks for v in x.values}
    edited = edit_assembly(
        engine,
        spec.assembly_id,
        tenant=tenant,
        crosswalk_edits=[(f"{REVIEWER}, on the data's evidence", e) for e in edits],
    )
    rows = []
    for e in edits:
        value = held[(e.source, e.column, e.value)]
        rows.append(
            {
                "source": e.source,
                "column": e.column,
                "value": e.value,
                "records": value.count,
                "canonical": e.canonical,
                "evidence": value.evidence,
                "reviewer": REVIEWER,
                "version": edited.version,
            }
        )
    return edited, rows


def assembly_step(
    engine: Engine,
    settings: Settings,
    sources: dict[str, Any],
    mapping: dict[str, Any],
    *,
    progress: StepProgress | None = None,
) -> dict[str, Any]:
    """Propose, approve and run one assembly per policy root whose mapping is approved."""

    started = time.perf_counter()
    tenant = settings.tenant
    ids = {s["name"]: s["source_id"] for s in sources["sources"]}
    rows = []
    for root in [r for r in ROOTS if r in mapping["approved"]]:
        spec = propose_assembly(engine, settings, ids[root], None, tenant=tenant)
        spec, reviewed = review_crosswalks(engine, spec, tenant)
        approve_assembly(engine, spec.assembly_id, tenant=tenant)
        label = f"assemble {root}"
        result = run_assembly(
            engine,
            settings,
            spec.assembly_id,
            tenant=tenant,
            progress=(lambda d, t, label=label: progress(label, d, t)) if progress else None,
        )
        data = result.model_dump(mode="json", exclude={"output_dir"})
        data["quarantined_reasons"] = data["quarantined_reasons"][:TOP]
        data["partial_reasons"] = data["partial_reasons"][:TOP]
        rows.append(
            {
                "root": root,
                **data,
                "components_proposed": [c.source_name for c in spec.components],
                "conflict_fields": _conflict_fields(settings, spec.assembly_id),
                "duplicate_records": _duplicates(settings, spec.assembly_id, result),
                "crosswalks": len(spec.crosswalks),
                "crosswalk_review": reviewed,
            }
        )
    return {
        "assemblies": rows,
        "assembly_ids": [r["assembly_id"] for r in rows],
        "policies": sum(r["policies"] for r in rows),
        "documents": sum(r["complete"] + r["partial"] for r in rows),
        "seconds": round(time.perf_counter() - started, 2),
    }


def whole_routing_step(
    engine: Engine,
    settings: Settings,
    assembly: dict[str, Any],
    *,
    progress: StepProgress | None = None,
) -> dict[str, Any]:
    """Route every assembled policy (the whole document) with the example rule set."""

    started = time.perf_counter()
    tenant = settings.tenant
    rule_set = register_rule_set(engine, tenant, EXAMPLE_RULES)
    by_target: Counter[str] = Counter()
    by_rule: Counter[str] = Counter()
    rows = []
    for row in assembly["assemblies"]:
        assembly_id = row["assembly_id"]
        label = f"route {row['root']}"
        result = route_source(
            engine,
            settings,
            rule_set.id,
            assembly_records(engine, settings, tenant, assembly_id),
            tenant=tenant,
            source_id=assembly_id,
            source_system=root_system(engine, tenant, assembly_id),
            progress=(lambda d, t, label=label: progress(label, d, t or 0)) if progress else None,
        )
        by_target.update(result.by_target)
        by_rule.update(result.by_rule)
        rows.append(
            {
                "source": row["root"],
                "assembly_id": assembly_id,
                "routed": result.routed,
                "unrouted": result.unrouted,
                "by_target": result.by_target,
                "moved": result.moved,
            }
        )
    return {
        "rule_set": rule_set.model_dump(mode="json"),
        "whole_policies": True,
        "sources": rows,
        "routed": sum(r["routed"] for r in rows),
        "by_target": dict(by_target),
        "by_rule": dict(by_rule),
        "seconds": round(time.perf_counter() - started, 2),
    }


def whole_waves_step(
    engine: Engine,
    settings: Settings,
    assembly: dict[str, Any],
    *,
    progress: StepProgress | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Plan waves from the assemblies and run wave 0: whole policies into the new platform."""

    def whole_policies(
        context: WaveContext, plan: Plan, criteria: PlanCriteria, status: WaveStatus
    ) -> dict[str, Any]:
        later = [wave_policy_ids(context, w.wave_id) for w in plan.waves if w.number > 0]
        target = context.target("new_platform")
        completed = status.status == WaveState.COMPLETED and hasattr(target, "children")
        return {
            "assembly_ids": plan.assembly_ids,
            "whole_policies": True,
            "summary": plan.summary,
            "failing_rules": _failing_rules(
                engine, settings, plan.assembly_ids, criteria.business_rules, later
            ),
            "wave0": {"child_rows": target.children(status.wave_id) if completed else {}},
        }

    return plan_and_run_wave0(
        engine,
        settings,
        assembly_ids=assembly["assembly_ids"],
        progress=progress,
        extras=whole_policies,
    )


def _failing_rules(
    engine: Engine,
    settings: Settings,
    assembly_ids: list[str],
    rules: list[str],
    later: list[Any],
) -> dict[str, int]:
    """Per business rule: the planned policies of later waves it fails (why they wait)."""

    if not later:
        return {}
    members = pa.concat_arrays(later)
    counts: Counter[str] = Counter()
    for assembly_id in assembly_ids:
        for whole in assembly_records(engine, settings, settings.tenant, assembly_id):
            ids = whole.column("policy_core.policy_id").cast(pa.string())
            batch = whole.filter(pc.is_in(ids, value_set=members))
            for rule in rules:
                ok = evaluate_rule(rule, batch, check_rule(rule, batch.schema.names))
                failed = pc.invert(pc.fill_null(ok, False)).cast(pa.int64())
                counts[rule] += int(pc.sum(failed).as_py() or 0)
    return {rule: n for rule, n in counts.most_common() if n}


def assembly_problems(result: dict[str, Any]) -> list[str]:
    """What went wrong in the whole-policy steps, one line each."""
    problems: list[str] = []
    if "assembly" not in result:  # the per-source journey
        return problems
    assembly = result["assembly"]
    if result["mapping"]["approved"] and not assembly.get("assemblies"):
        problems.append("no policy root was assembled: nothing whole to migrate")
    for row in assembly.get("assemblies", []):
        if row["quarantined"] and not row["quarantined_reasons"]:
            problems.append(f"{row['root']}: {row['quarantined']} policies quarantined, no reason")
        if row["complete"] + row["partial"] == 0:
            problems.append(f"{row['root']}: no valid assembled policy")
    return problems
