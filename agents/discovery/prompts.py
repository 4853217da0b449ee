"""Discovery's words: the templated explanations (prompts/explain_*.md) and its questions."""

from __future__ import annotations

import json
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
REVIEW_AFTER_FAILED_EDIT = (
    "That edit was not applied (see the note above). Take one of the ways forward listed "
    "first, or give the transform yourself (edit COLUMN TARGET date FORMAT | money DECIMALS | "
    "code TABLE | JSON), fill the field with a constant (constant TARGET VALUE), or leave it "
    "unmapped (reject COLUMN)."
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
                "date_format": c.date_format,
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
        if decision["action"] == "constant":  # no source column: one value for every record
            rows.append(
                {
                    "source": f"(constant {decision['value']})",
                    "target": decision["target"],
                    "confidence": None,
                    "evidence": "set by hand",
                    "status": "confirmed",
                }
            )
            continue
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
    # A proposal lists every column; only those with a target are mapped. Columns without one
    # and the columns the proposal names as unmapped are counted once each.
    mapped = [r for r in rows if r["target"]]
    unmapped = {r["source"] for r in rows if not r["target"]} | set(unmapped_of(mapping))
    unmapped -= {r["source"] for r in mapped}
    low = [
        r
        for r in mapped
        if isinstance(r["confidence"], int | float) and r["confidence"] < threshold
    ]
    return prompt_text(
        "explain_mapping",
        mapping_id=mapping_id,
        source=source_name,
        mapped=len(mapped),
        unmapped=len(unmapped),
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


TRANSFORM_FORMS = "date FORMAT, money DECIMALS, code TABLE or a JSON transform"


def target_and_transform(text: str) -> tuple[str, list[dict[str, Any]] | None]:
    """Split an edit's ``TARGET [transform]`` into the target and the transform steps.

    ``date YYYYDDD``, ``money 2`` (implied decimals), ``money comma`` (decimal comma),
    ``code policy_status`` (a glossary table), or the steps as JSON.

    Raises:
        ValueError: the text after the target is none of these.
    """
    words = text.strip().split(maxsplit=1)
    target = words[0]
    rest = words[1].strip() if len(words) > 1 else ""
    if not rest:
        return target, None
    if rest[0] in "[{":
        try:
            steps = json.loads(rest)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"the transform is not JSON: {exc.msg} at column {exc.colno}"
            ) from None
        steps = [steps] if isinstance(steps, dict) else steps
        if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
            raise ValueError("a JSON transform is an object or a list of objects")
        return target, steps
    kind, *args = rest.split()
    if kind == "date" and len(args) == 1:
        return target, [{"kind": "date", "format": args[0]}]
    if kind == "money" and args == ["comma"]:
        return target, [{"kind": "money", "decimal_comma": True}]
    if kind == "money" and len(args) == 1 and args[0].isdigit():
        return target, [{"kind": "money", "implied_decimals": int(args[0])}]
    if kind == "code" and len(args) == 1:
        return target, [{"kind": "code", "table": args[0]}]
    raise ValueError(f"'{rest}' is not a transform: give {TRANSFORM_FORMS} after the target")


def transform_text(steps: list[dict[str, Any]]) -> str:
    """Transform steps in a few words, e.g. ``date YYYYDDD``."""
    shown = []
    for step in steps:
        detail = [str(v) for k, v in step.items() if k != "kind"]
        shown.append(" ".join([str(step.get("kind")), *detail]))
    return ", ".join(shown)


def ways_forward(
    column: str,
    target: str,
    message: str,
    profile_column: dict[str, Any],
    *,
    has_transform: bool,
) -> list[dict[str, Any]]:
    """Choices that can fix a refused edit, best first (the person still decides).

    A date target refused because the column holds numbers or text in another layout gets the
    same edit with the date format the profile found in the column; a refused transform is not
    offered again.
    """
    ways: list[dict[str, Any]] = []
    if "date" in message.lower() and not has_transform:
        found = str(profile_column.get("date_format") or "").replace("(int)", "").strip()
        if found:
            ways.append(
                {
                    "action": "edit",
                    "field": column,
                    "target": f"{target} date {found}",
                    "label": f"edit {column} {target} date {found} "
                    f"(the profile reads {column} as {found} dates)",
                }
            )
    return ways
