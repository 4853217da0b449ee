"""How ``data-mash demo`` shows whole policies: relationships, assembly completeness per root
and source (with the reasons for every record left out), wave 0's child rows and the
reconciliation per component."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from cli.output import table


def render_relationships(console: Console, rel: dict[str, Any]) -> None:
    console.print(
        table(
            f"Relationships found and confirmed (version {rel['version']}, "
            f"{rel['seconds']:.1f} s): which column of a child refers to which parent key",
            ["parent key", "child key", "keys match", "match", "orphans", "card.", "conf."],
            [
                (
                    f"{r['parent']}.{r['parent_key']}",
                    f"{r['child']}.{r['child_key']}",
                    _transform(r),
                    f"{r['match_rate']:.1%}",
                    f"{r['orphans']:,} {', '.join(r['orphan_sample'])}".strip(),
                    r["cardinality"],
                    f"{r['confidence']:.2f}",
                )
                for r in rel["relationships"]
            ],
        )
    )


def _lists(fills: list[str]) -> str:
    """``payments.payment_history[]`` -> ``payment_history``; scalars as a count."""
    lists = [f[:-2].rsplit(".", 1)[-1] for f in fills if f.endswith("[]")]
    scalars = len(fills) - len(lists)
    return ", ".join([*lists, *([f"{scalars} fields"] if scalars else [])])


def _transform(r: dict[str, Any]) -> str:
    kind = r.get("key_kind")
    if kind is None:
        return "as written"
    return f"crosswalk {r['crosswalk']}" if kind == "crosswalk" else "same number"


def _reasons(console: Console, title: str, reasons: list[dict[str, Any]]) -> None:
    console.print(title)
    for r in reasons:
        where = f"{r['source']}: " if r.get("source") else ""
        examples = f", e.g. {', '.join(r['examples'][:3])}" if r.get("examples") else ""
        console.print(f"    {r['records']:,} x {where}{r['path']}: {r['message']}{examples}")


def _crosswalk_review(
    console: Console, rows: list[dict[str, Any]], shown: set[tuple[str, str, str]]
) -> None:
    """The crosswalk values the proposal left to a person, as the demo's reviewer confirmed
    them; each value's evidence once."""
    if not rows:
        return
    confirmed = ", ".join(
        f"{r['source']}.{r['column']} {r['value']} -> {r['canonical']}" for r in rows
    )
    console.print(f"Crosswalk review by {rows[0]['reviewer']} (audited edit): {confirmed}")
    for r in rows:
        key = (r["source"], r["column"], r["value"])
        if key not in shown:
            shown.add(key)
            console.print(f"  {r['evidence']}")


def render_assembly(console: Console, assembly: dict[str, Any]) -> None:
    console.print(
        f"Assembled {assembly['policies']:,} policies from every system into "
        f"{assembly['documents']:,} whole canonical documents ({assembly['seconds']:.1f} s)"
    )
    shown: set[tuple[str, str, str]] = set()
    for row in assembly["assemblies"]:
        _crosswalk_review(console, row.get("crosswalk_review", []), shown)
        console.print(
            table(
                f"{row['root']} ({row['assembly_id']}): {row['policies']:,} policies -> "
                f"{row['complete']:,} complete, {row['partial']:,} partial, "
                f"{row['quarantined']:,} quarantined; {row['orphans']:,} orphan records, "
                f"{row['conflicts']:,} conflicts, {row['duplicates']:,} duplicates",
                [
                    "source",
                    "kind",
                    "fills",
                    "policies",
                    "held",
                    "arrived",
                    "dup.",
                    "invalid",
                    "orphans",
                ],
                [
                    (
                        c["source"],
                        c["kind"],
                        _lists(c["fills"]),
                        f"{c['policies_held']:,}",
                        f"{c['records_held']:,}",
                        f"{c['records_arrived']:,}",
                        f"{c['duplicates']:,}",
                        f"{c['quarantined_records']:,}",
                        f"{c['orphans']:,}",
                    )
                    for c in row["components"]
                ],
            )
        )
        if row["quarantined"]:
            _reasons(
                console,
                f"  {row['quarantined']:,} policies quarantined (no document written); "
                "top reasons:",
                row["quarantined_reasons"],
            )
        if row["partial"]:
            _reasons(
                console,
                f"  {row['partial']:,} partial policies (records left out for invalid values); "
                "top reasons:",
                row["partial_reasons"],
            )
        if row["conflicts"]:
            console.print(f"  {row['conflicts']:,} conflicts (both values kept); top fields:")
            for c in row["conflict_fields"]:
                console.print(
                    f"    {c['policies']:,} x {c['field']}: {c['sources'][0]} vs "
                    f"{c['sources'][1]}, decided by {c['rule']}"
                )
        dups = row["duplicate_records"]
        if row["duplicates"]:
            by = ", ".join(f"{s} {n:,}" for s, n in dups["by_source"].items())
            sample = f", e.g. keys {', '.join(dups['sample'])}" if dups["sample"] else ""
            console.print(
                f"  {row['duplicates']:,} duplicate records dropped (second copy of a "
                f"record): {by}{sample}"
            )
        for c in row["components"]:
            if c["orphans"]:
                console.print(
                    f"  {c['source']}: {c['orphans']:,} orphan records name no policy of any "
                    f"root, e.g. {', '.join(c['orphan_sample'][:3])}"
                )


def render_components(console: Console, waves: dict[str, Any], recon: dict[str, Any]) -> None:
    """Wave 0's whole policies on the platform and the reconciliation per component."""
    summary = waves.get("summary") or {}
    elsewhere = summary.get("excluded_by_system") or {}
    if elsewhere:
        console.print(
            f"{sum(elsewhere.values()):,} assembled policies are not planned for the new "
            "platform: routing sent them to "
            + ", ".join(f"{t} {n:,}" for t, n in sorted(elsewhere.items()))
        )
    later = summary.get("policies", 0) - summary.get("clean", 0)
    if later > 0:
        gates = {
            g["gate"]: g.get("detail", "")
            for g in (waves.get("wave0") or {}).get("gates", {}).get("results", [])
        }
        why = "; ".join(
            f"{name} {n:,} ({gates.get(name, '').split(':')[0] or name})"
            for name, n in sorted(
                summary.get("not_clean_by_gate", {}).items(), key=lambda kv: -kv[1]
            )
        )
        console.print(
            f"{later:,} planned policies wait in later waves; gates they fail (a policy may "
            f"fail several): {why}"
        )
        for rule, n in (waves.get("failing_rules") or {}).items():
            console.print(f"    {n:,} x business rule {rule}")
    wave0 = waves.get("wave0") or {}
    children = wave0.get("child_rows") or {}
    if children:
        console.print(
            f"New platform holds {wave0['migrated']:,} whole policies of wave 0 with child rows: "
            + ", ".join(f"{t} {n:,}" for t, n in children.items() if n)
        )
    components = recon.get("components") or []
    if components:
        console.print(
            table(
                "Reconciliation per component (source documents vs the platform's read-back)",
                ["component", "items source", "items target", "count diffs", "differ", "totals"],
                [
                    (
                        c["component"],
                        f"{c['source_children']:,}",
                        f"{c['target_children']:,}",
                        c["count_mismatches"],
                        c["different"],
                        "match" if all(t["matches"] for t in c["totals"].values()) else "DIFFER",
                    )
                    for c in components
                ],
            )
        )
