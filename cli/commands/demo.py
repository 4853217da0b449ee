"""``data-mash demo``: the sample estate, end to end (grows with each capability)."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.console import Console

from cli.app import command_app
from cli.commands.demo_whole import render_assembly, render_components, render_relationships
from cli.context import JsonOption, TenantOption, state_for
from cli.output import emit, table
from cli.progress import step_progress
from core.statuses import WaveState
from evals import demo as demo_run  # called through the module: tests swap its steps
from evals.contracts import DemoReport

app = command_app()


@app.command()
def demo(
    ctx: typer.Context,
    policies: Annotated[int, typer.Option(help="Policies in the generated estate.")] = 5000,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same estate.")] = 7,
    per_source: Annotated[
        bool,
        typer.Option(
            "--per-source",
            help="Route and migrate each policy source on its own instead of whole policies "
            "assembled from every system (the journey before assembly; for comparison).",
        ),
    ] = False,
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """Generate the sample estate of eight legacy systems and run the journey on it.

    Ingest and profile every source, propose and review mappings, relate the sources (keys
    written differently, crosswalks, orphans), assemble each policy root from every system
    (a completeness table per source), route the whole policies, plan waves from the
    assemblies and run wave 0 into the new platform (a policy row plus child rows per
    component), then reconcile per component. The estate lands in the workspace
    (DATA_MASH_HOME/estates/seedS-N) and is reused when it exists. Every quarantined, invalid
    or failed count comes with its top reasons; a step that fails makes the command exit 1
    (its problems listed on stderr). Running it again rolls the previous run's wave 0 back
    first (audited). Example: data-mash demo --policies 5000 --json
    """

    state = state_for(ctx, json_out, tenant)
    demo_run.estate_step(state.settings, policies=policies, seed=seed, dry_check=True)
    with step_progress(enabled=not state.json) as progress:
        result = demo_run.run_demo(
            state.engine,
            state.settings,
            policies=policies,
            seed=seed,
            progress=progress,
            whole_policies=not per_source,
        )

    def render(console: Console) -> None:

        _render_estate(console, result["estate"])
        _render_sources(console, result["sources"])
        _render_mapping(console, result["mapping"])
        if "assembly" in result:
            render_relationships(console, result["relationships"])
            render_assembly(console, result["assembly"])
        _render_routing(console, result["routing"])
        _render_waves(console, result["waves"], result["reconciliation"])
        if "assembly" in result:
            render_components(console, result["waves"], result["reconciliation"])
        if result.get("sync"):
            _render_sync(console, result["sync"])

    emit(state, DemoReport.model_validate(result), render)
    problems = list(result.get("problems") or [])
    wave0 = result["waves"].get("wave0") or {}
    if not problems and wave0 and wave0.get("status") != WaveState.COMPLETED:
        problems.append(f"wave 0 ended {wave0.get('status')}: {wave0.get('error') or '-'}")
    if problems:  # a failed run never exits 0
        for problem in problems:
            sys.stderr.write(f"data-mash: error: demo: {problem}\n")
        raise typer.Exit(1)


def _reason_lines(
    console: Console, title: str, reasons: list[dict[str, Any]], mapping_id: str
) -> None:
    """Top reasons, one line each; legacy codes that are not canonical values on one field are
    one line naming the codes (``'PRP' is not one of: ...`` three times says less)."""
    console.print(title)
    codes: dict[str, list[dict[str, Any]]] = {}
    for r in reasons:
        if r["kind"] == "literal_error" and r["message"].startswith("'"):
            codes.setdefault(r["path"], []).append(r)
    shown: set[str] = set()
    for r in reasons:
        group = codes.get(r["path"], [])
        if len(group) > 1 and r in group:
            if r["path"] in shown:
                continue
            shown.add(r["path"])
            listed = ", ".join(
                f"{g['message'].split(chr(39))[1]} ({g['records']:,} records)" for g in group
            )
            first = group[0]["message"].split(chr(39))[1]
            console.print(
                f"    {r['path']}: codes {listed} have no "
                "value mapping to the canonical values; map them with: data-mash mapping "
                f"set-field {mapping_id} {r['path']} --transform "
                f'\'{{"kind": "code", "values": {{"{first}": "..."}}}}\''
            )
            continue
        examples = f", e.g. {', '.join(r['examples'])}" if r.get("examples") else ""
        console.print(f"    {r['records']:,} x {r['path']}: {r['message']}{examples}")


def _render_estate(console: Console, estate: dict[str, Any]) -> None:
    console.print(
        table(
            f"Sample estate: {estate['policies']:,} policies, seed {estate['seed']} "
            f"({estate['path']})",
            ["system", "format", "files", "records", "injected problems"],
            [
                (
                    s["system"],
                    s["format"],
                    ", ".join(f.rsplit("/", 1)[-1] for f in s["files"]),
                    f"{s['records']:,}",
                    f"{s['injected_problems']:,}",
                )
                for s in estate["systems"]
            ],
        )
    )


def _render_sources(console: Console, sources: dict[str, Any]) -> None:
    console.print(
        table(
            f"Ingested and profiled: {sources['records']:,} records in {sources['seconds']:.1f} s",
            ["source", "system", "source_id", "records", "quarantined", "quality", "issues found"],
            [
                (
                    s["name"],
                    s["system"],
                    s["source_id"],
                    f"{s['records']:,}",
                    f"{s['quarantined']:,}",
                    f"{s['quality_score']:.2f}",
                    ", ".join(f"{k} {v}" for k, v in s["issues"].items()) or "-",
                )
                for s in sources["sources"]
            ],
        )
    )
    for s in sources["sources"]:
        if s["quarantined"]:
            console.print(f"  {s['name']}: {s['quarantined']:,} records quarantined at ingest:")
            for r in s.get("quarantine_reasons", []):
                console.print(f"    {r['field']}: {r['reason']} ({r['in_sample']} in the sample)")


def _render_mapping(console: Console, mapping: dict[str, Any]) -> None:
    console.print(
        table(
            f"Mappings proposed for every source: top-1 {mapping['top1']:.1%} against the ground "
            f"truth ({mapping['seconds']:.1f} s)",
            [
                "source",
                "top-1",
                "auto-accepted",
                "precision",
                "review",
                "status",
                "canonical valid/invalid",
            ],
            [
                (
                    r["source"],
                    f"{r['top1']:.0%}",
                    r["auto_accepted"],
                    "-"
                    if r["auto_accepted_precision"] is None
                    else f"{r['auto_accepted_precision']:.0%}",
                    (
                        f"+{r['review']['confirmed']} -{r['review']['rejected']} "
                        f"~{r['review']['edited']}"
                    )
                    if "review" in r
                    else "",
                    r["status"][:60],
                    f"{r['canonical_valid']:,}/{r['canonical_invalid']:,}"
                    if "canonical_valid" in r
                    else "",
                )
                for r in mapping["sources"]
            ],
        )
    )
    for r in mapping["sources"]:
        if r.get("canonical_invalid"):
            _reason_lines(
                console,
                f"  {r['source']}: {r['canonical_invalid']:,} records quarantined by the "
                "canonical model; top reasons:",
                r.get("reasons", []),
                r["mapping_id"],
            )
        elif r["status"].startswith("needs review"):
            console.print(f"  {r['source']}: {r['status']}")


def _render_routing(console: Console, routing: dict[str, Any]) -> None:
    console.print(
        table(
            f"Routed {routing['routed']:,} policies with the example rules "
            f"({routing['seconds']:.1f} s)",
            ["target system", "policies"],
            sorted(((t, f"{n:,}") for t, n in routing["by_target"].items()), key=lambda r: r[0]),
        )
    )
    unrouted = [(s["source"], s["unrouted"]) for s in routing["sources"] if s.get("unrouted")]
    for source, n in unrouted:
        console.print(f"  {source}: {n:,} policies matched no rule (they stay where they are)")
    fired = [
        (rule, f"{n:,}")
        for rule, n in sorted(routing["by_rule"].items(), key=lambda kv: -kv[1])
        if n
    ]
    console.print(table("Rules that fired", ["rule", "policies"], fired))


def _render_waves(console: Console, waves: dict[str, Any], recon: dict[str, Any]) -> None:
    if waves.get("rolled_back"):
        console.print(
            "Rolled back the previous demo run's wave(s) first (audited): "
            + ", ".join(waves["rolled_back"])
        )
    if "plan_id" not in waves:
        console.print(f"No wave planned: {waves.get('reason', waves.get('status'))}")
        return
    console.print(
        table(
            f"Wave plan {waves['plan_id']}",
            ["wave", "label", "policies", "target"],
            [
                (w["number"], w["label"], f"{w['policy_count']:,}", w["target"])
                for w in waves["waves"]
            ],
        )
    )
    wave0 = waves["wave0"]
    console.print(
        f"Wave 0 ({wave0['wave_id']}): {wave0['status']}, {wave0['migrated']:,} "
        f"migrated, {wave0.get('routed_elsewhere', 0):,} routed elsewhere by the "
        f"rules, {wave0['failed']:,} failed; milestones: "
        + ", ".join(f"{k} {v}" for k, v in wave0["steps"].items())
    )
    if wave0.get("error"):
        console.print(f"  [red]wave 0: {wave0['error']}[/red]")
    if "passed" in recon:
        totals = ", ".join(
            f"{k.rsplit('.', 1)[-1]} {v['source']}={v['target']}"
            for k, v in recon.get("totals", {}).items()
            if v["source"] != "0"
        )
        console.print(
            f"Reconciliation {'PASSED' if recon['passed'] else 'FAILED'}: "
            f"{recon['matched']:,}/{recon['source_count']:,} policies match by row "
            f"hash; control totals {totals}"
        )


def _render_sync(console: Console, sync: dict[str, Any]) -> None:
    """After wave 0: the second legacy extract, what sync applied, the two conflicts."""
    if sync.get("status") == "skipped":
        console.print(f"Sync after wave 0: skipped ({sync['reason']}).")
        return
    ledger, second = sync["ledger"], sync["extract_2"]
    console.print(
        f"Sync after wave 0: {ledger['changed']:,} policies now owned by {ledger['owner']}; "
        f"a second legacy extract brought {second['updates']:,} updated policies "
        f"({second['inserts']:,} inserts, {second['deletes']:,} deletes)."
    )
    console.print(
        f"    applied {sync['applied']:,} changes: {sync['from_legacy']:,} fields from legacy, "
        f"{sync['from_new']:,} from new; delivered {sync['delivered_new']:,} to new, "
        f"{sync['delivered_legacy']:,} to legacy ({sync['seconds']} s)"
    )
    resolved, queued = sync["resolved_by_rule"], sync["queued_for_a_person"]
    console.print(f"    {len(resolved)} conflict(s) resolved by rule:")
    for c in resolved:
        console.print(f"      {c['policy_id']} {c['path']}: {c['winner']} wins ({c['reason']})")
    console.print(f"    {len(queued)} conflict(s) queued for a person:")
    for c in queued:
        console.print(f"      #{c['conflict']} {c['policy_id']} {c['path']}: {c['reason']}")
