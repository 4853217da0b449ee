"""Discovery's words: the templated explanations (prompts/explain_*.md) and its questions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from servers.prompts import prompt_text
from tools.canonical.contracts import MatchEvidence, SuggestedMapping
from tools.content.contracts import SourceProfileReport
from tools.routing.contracts import RouteResult, RulesValidation

CHOOSE_SOURCE = "Several sources were ingested. Which one do you want to map first?"
REVIEW_MAPPING = (
    "Review the proposed mapping. Confirm, edit or reject fields (low-confidence "
    "ones first), then approve it."
)
REVIEW_RULES = "Approve this routing rule set, so the mapping and rules can be exported?"
RULES_INVALID = "The rule set has errors. Fix the YAML file and retry, or stop here."

MAX_ISSUES = 8
MAX_EXAMPLES = 5


def compact_profile(profile: SourceProfileReport) -> dict[str, Any]:
    """The parts of a profile the journey keeps and shows (not the full value histograms)."""
    return {
        "source_id": profile.source_id,
        "name": profile.name,
        "records": profile.records,
        "quality_score": profile.quality_score,
        "key_columns": list(profile.key_columns),
        "columns": [
            {
                "name": c.name,
                "type": c.type,
                "null_rate": c.null_rate,
                "distinct": c.distinct,
                "pattern": c.pattern,
                "quality": c.quality,
                "is_key": c.is_key,
                "top_values": [v.value for v in c.top_values][:3],
                "invalid_dates": c.invalid_dates.model_dump() if c.invalid_dates else None,
            }
            for c in profile.columns
        ],
        "issues": [i.model_dump() for i in profile.issues],
    }


def explain_profile(source: dict[str, Any], profile: dict[str, Any]) -> str:
    """What is in one source and what is wrong with it, with example keys from the issues.

    ``source`` is the journey's ingest summary, ``profile`` a :func:`compact_profile`.
    """
    columns = profile["columns"]
    keys = profile["key_columns"] or [c["name"] for c in columns if c["is_key"]]
    sparse = [f"{c['name']} ({c['null_rate']:.0%} empty)" for c in columns if c["null_rate"] >= 0.2]
    bad = source["bad_records"]
    return prompt_text(
        "explain_profile",
        name=source["name"],
        system=source["system"] or "system not given",
        records=profile["records"],
        columns=len(columns),
        quality=_score(profile["quality_score"]),
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
    issues = profile["issues"]
    low = [c for c in profile["columns"] if c["quality"] < 0.8]
    if not issues and not low:
        return "No quality problems found."
    lines = ["Quality problems:"]
    for issue in issues[:MAX_ISSUES]:
        examples = ", ".join(str(k) for k in issue["sample_keys"][:MAX_EXAMPLES])
        what = {"duplicate_keys": "duplicate keys", "invalid_dates": "invalid dates"}[issue["kind"]]
        lines.append(
            f"- {what} in {issue['column']}: {issue['count']} record(s)"
            + (f", e.g. {examples}" if examples else "")
        )
    if len(issues) > MAX_ISSUES:
        lines.append(f"- ... and {len(issues) - MAX_ISSUES} more (see the profile)")
    for column in low[:MAX_ISSUES]:
        lines.append(f"- column {column['name']} has quality {column['quality']:.2f}")
    return "\n".join(lines)


def field_rows(
    mapping: SuggestedMapping, decisions: Sequence[Mapping[str, Any]] = ()
) -> list[dict[str, Any]]:
    """The proposal's fields as {source, target, confidence, evidence, status}, with the
    person's decisions ({field, action, target}) applied in order."""
    rows = [
        {
            "source": item.source,
            "target": item.target,
            "confidence": item.confidence,
            "evidence": evidence_text(item.evidence),
            "status": "proposed",
        }
        for item in mapping.mappings
    ]
    status = {"edit": "edited", "confirm": "confirmed", "reject": "rejected"}
    for decision in decisions:
        row = next((r for r in rows if r["source"] == decision["field"]), None)
        if row is None:
            row = {"source": decision["field"], "confidence": None, "evidence": "set by hand"}
            rows.append(row)
        row.update(target=decision["target"], status=status[decision["action"]])
    return rows


def evidence_text(evidence: MatchEvidence) -> str:
    """Evidence in a line: which signals agreed, the runner-up, a few sample values."""
    parts = []
    if evidence.agreed:
        parts.append("agreed: " + ", ".join(evidence.agreed))
    if evidence.alternatives:
        best = evidence.alternatives[0]
        parts.append(f"else {best.target} ({best.confidence})")
    if evidence.sample_values:
        parts.append("e.g. " + ", ".join(evidence.sample_values[:3]))
    return "; ".join(parts)


def unmapped_of(mapping: SuggestedMapping) -> list[str]:
    """Source columns the proposal leaves unmapped."""
    return list(mapping.unmapped)


def explain_mapping(
    mapping_id: str, source_name: str, mapping: SuggestedMapping, threshold: float
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
    validation: RulesValidation,
    distribution: RouteResult | None,
) -> str:
    warnings = validation.warnings
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
    total = distribution.routed + distribution.unrouted
    return prompt_text(
        "explain_routing",
        rule_set=rule_set,
        rules=rules,
        path=path,
        validation=checked,
        total=total,
        by_target=_counts(distribution.by_target),
        by_rule=_counts(distribution.by_rule, limit=5),
    )


def _counts(counts: dict[str, int], limit: int = 10) -> str:
    ordered = sorted(((k, v) for k, v in counts.items() if v), key=lambda kv: (-kv[1], kv[0]))[
        :limit
    ]
    return ", ".join(f"{k} {v}" for k, v in ordered) or "none"


def _score(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, int | float) else "unknown"
