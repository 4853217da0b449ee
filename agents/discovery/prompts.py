"""Discovery's words: the templated explanations (prompts/explain_*.md) and its questions."""

from __future__ import annotations

from typing import Any

from servers.prompts import prompt_text

CHOOSE_SOURCE = "Several sources were ingested. Which one do you want to map first?"
REVIEW_MAPPING = (
    "Review the proposed mapping. Confirm, edit or reject fields (low-confidence "
    "ones first), then approve it."
)
REVIEW_RULES = "Approve this routing rule set, so the mapping and rules can be exported?"
RULES_INVALID = "The rule set has errors. Fix the YAML file and retry, or stop here."

MAX_ISSUES = 8
MAX_EXAMPLES = 5


def compact_profile(profile: dict[str, Any]) -> dict[str, Any]:
    """The parts of a profile the journey keeps and shows (not the full value histograms)."""
    columns = [
        {
            k: c.get(k)
            for k in (
                "name",
                "type",
                "null_rate",
                "distinct",
                "pattern",
                "quality",
                "is_key",
                "top_values",
                "invalid_dates",
            )
        }
        for c in profile.get("columns", [])
    ]
    for column in columns:
        column["top_values"] = [v.get("value") for v in (column["top_values"] or [])][:3]
    return {
        "source_id": profile.get("source_id"),
        "name": profile.get("name"),
        "records": profile.get("records"),
        "quality_score": profile.get("quality_score"),
        "key_columns": profile.get("key_columns") or [],
        "columns": columns,
        "issues": profile.get("issues", []),
    }


def explain_profile(source: dict[str, Any], profile: dict[str, Any]) -> str:
    """What is in one source and what is wrong with it, with example keys from the issues."""
    columns = profile["columns"]
    keys = profile["key_columns"] or [c["name"] for c in columns if c.get("is_key")]
    sparse = [
        f"{c['name']} ({c['null_rate']:.0%} empty)"
        for c in columns
        if isinstance(c.get("null_rate"), int | float) and c["null_rate"] >= 0.2
    ]
    bad = source.get("bad_records") or 0
    return prompt_text(
        "explain_profile",
        name=source.get("name") or profile.get("name"),
        system=source.get("system") or "system not given",
        records=profile.get("records"),
        columns=len(columns),
        quality=_score(profile.get("quality_score")),
        bad_records=(
            f"{bad} records could not be decoded and were quarantined."
            if bad
            else "Every record decoded."
        ),
        keys=", ".join(keys) or "none found",
        nulls=", ".join(sparse) or "none",
        issues=_issues_text(profile),
    )


def _issues_text(profile: dict[str, Any]) -> str:
    issues = profile.get("issues") or []
    low = [
        c
        for c in profile["columns"]
        if isinstance(c.get("quality"), int | float) and c["quality"] < 0.8
    ]
    if not issues and not low:
        return "No quality problems found."
    lines = ["Quality problems:"]
    for issue in issues[:MAX_ISSUES]:
        examples = ", ".join(str(k) for k in (issue.get("sample_keys") or [])[:MAX_EXAMPLES])
        what = {"duplicate_keys": "duplicate keys", "invalid_dates": "invalid dates"}.get(
            issue.get("kind"), str(issue.get("kind")).replace("_", " ")
        )
        lines.append(
            f"- {what} in {issue.get('column')}: {issue.get('count')} record(s)"
            + (f", e.g. {examples}" if examples else "")
        )
    if len(issues) > MAX_ISSUES:
        lines.append(f"- ... and {len(issues) - MAX_ISSUES} more (see the profile)")
    for column in low[:MAX_ISSUES]:
        lines.append(f"- column {column['name']} has quality {column['quality']:.2f}")
    return "\n".join(lines)


def field_rows(mapping: dict[str, Any]) -> list[dict[str, Any]]:
    """The mapping's fields as {source, target, confidence, evidence, status}, whatever the
    server calls them."""
    rows = []
    for item in mapping.get("mappings") or mapping.get("fields") or []:
        source = item.get("source") or item.get("source_column") or item.get("column")
        target = item.get("target") or item.get("canonical_field") or item.get("field")
        rows.append(
            {
                "source": source,
                "target": target,
                "confidence": item.get("confidence"),
                "evidence": evidence_text(item.get("evidence")),
                "status": item.get("status", "proposed"),
            }
        )
    return rows


def evidence_text(evidence: Any) -> str:
    """Evidence in a line: which signals agreed, the runner-up, a few sample values."""
    if not isinstance(evidence, dict):
        if isinstance(evidence, list):
            return "; ".join(map(str, evidence))
        return str(evidence or "")
    parts = []
    if evidence.get("agreed"):
        parts.append("agreed: " + ", ".join(map(str, evidence["agreed"])))
    alternatives = evidence.get("alternatives") or []
    if alternatives and isinstance(alternatives[0], dict):
        best = alternatives[0]
        parts.append(f"else {best.get('target')} ({best.get('confidence')})")
    if evidence.get("sample_values"):
        parts.append("e.g. " + ", ".join(map(str, evidence["sample_values"][:3])))
    shown = {"agreed", "alternatives", "sample_values", "signals", "unmapped_reason"}
    parts += [f"{k}: {v}" for k, v in evidence.items() if k not in shown and v]
    return "; ".join(parts)


def unmapped_of(mapping: dict[str, Any]) -> list[str]:
    found = mapping.get("unmapped") or []
    return [u if isinstance(u, str) else str(u.get("source") or u.get("column")) for u in found]


def explain_mapping(
    mapping_id: str, source_name: str, mapping: dict[str, Any], threshold: float
) -> str:
    rows = field_rows(mapping)
    low = [
        r for r in rows if isinstance(r["confidence"], int | float) and r["confidence"] < threshold
    ]
    return prompt_text(
        "explain_mapping",
        mapping_id=mapping_id,
        source=source_name,
        mapped=len(rows),
        unmapped=len(unmapped_of(mapping)),
        low=len(low),
        threshold=threshold,
        low_fields=", ".join(
            f"{r['source']} -> {r['target']} ({r['confidence']:.2f})" for r in low[:10]
        )
        or "none",
    )


def explain_routing(
    rule_set: str,
    rules: int,
    path: str,
    validation: dict[str, Any],
    distribution: dict[str, Any] | None,
) -> str:
    warnings = validation.get("warnings") or []
    checked = "valid" + (f", {len(warnings)} warning(s)" if warnings else ", no warnings")
    if distribution is None:
        return prompt_text(
            "explain_routing",
            rule_set=rule_set,
            rules=rules,
            path=path,
            validation=checked,
            total="no",
            by_target="not run",
            by_rule="not run",
        )
    total = int(distribution.get("routed", 0)) + int(distribution.get("unrouted", 0))
    return prompt_text(
        "explain_routing",
        rule_set=rule_set,
        rules=rules,
        path=path,
        validation=checked,
        total=total,
        by_target=_counts(distribution.get("by_target") or {}),
        by_rule=_counts(distribution.get("by_rule") or {}, limit=5),
    )


def _counts(counts: dict[str, int], limit: int = 10) -> str:
    ordered = sorted(((k, v) for k, v in counts.items() if v), key=lambda kv: (-kv[1], kv[0]))[
        :limit
    ]
    return ", ".join(f"{k} {v}" for k, v in ordered) or "none"


def _score(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, int | float) else "unknown"
