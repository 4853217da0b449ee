"""Ground truth of how the estate's sources relate: keys, key transforms, orphans, duplicates.

``ground_truth/relationships.json`` lists every true parent/child relationship (a child column
whose values refer to a parent source's key) with the transform that makes them equal:

- ``identity``: the values are written the same way;
- ``number``: both sides reduce to the same policy number once prefixes, separators, zero
  padding, case and a term suffix are stripped (``4512`` = ``P000004512`` = ``kx004512-01``);
- ``crosswalk``: the child's number is the group number of an acquired policy; the
  ``acquired_crosswalk`` table turns it into the acquired company's own key.

A policy reference appears only when the estate holds at least one such record (a tiny estate
may have no claim on a life policy). ``orphans`` counts, per child key, the records whose key
refers to no parent at all; ``duplicates`` the duplicate records per source (both from
``problems.jsonl``); ``conflicts`` the cross-system conflicts (``conflicts.jsonl``).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from evals.estate.problems import DUPLICATE, ORPHAN_COVERAGE, ORPHAN_REFERENCE

# The source holding one row per policy of each home system, its key, and how children reach it.
HOME_SOURCE = {
    "policy_master": ("policy_master", "POL_NBR", "identity"),
    "agency": ("agency_policies", "Policy Number", "identity"),
    "life": ("life", "CONTRNO", "identity"),
    "acquired": ("acquired_policy", "policy_number", "crosswalk"),
}
# Child sources referring to a policy of any home system: key column and key format.
POLICY_CHILDREN = {
    "billing": ("PolicyNo", "number"),
    "claims_links": ("policyRef", "number"),
    "correspondence": ("policy-ref", "number"),
    "endorsements": ("POL_NBR", "identity"),
}
CROSSWALK = {"source": "acquired_crosswalk", "from": "GROUP_POLICY_NO", "to": "LEGACY_POLICY_NO"}
# Relationships inside one system, present in every estate.
FIXED = [
    ("acquired_policy", "policy_number", "acquired_coverage", "policy_number", "identity"),
    ("acquired_policy", "policy_number", "acquired_crosswalk", "LEGACY_POLICY_NO", "identity"),
    ("acquired_party", "party_id", "acquired_policy", "insured_party_id", "identity"),
    ("agency_agents", "Agent Code", "policy_master", "AGT_CD", "identity"),
    ("agency_agents", "Agent Code", "agency_policies", "Agent Code", "identity"),
    ("agency_agents", "Agent Code", "acquired_policy", "agent_code", "identity"),
    ("agency_agents", "Agent Code", "life", "AGENTNO", "number"),
]


def _entry(
    parent: str, parent_key: str, child: str, child_key: str, transform: str
) -> dict[str, Any]:
    return {
        "parent": parent,
        "parent_key": parent_key,
        "child": child,
        "child_key": child_key,
        "transform": transform,
        "crosswalk": CROSSWALK if transform == "crosswalk" else None,
    }


def relationship_truth(
    links: Counter[tuple[str, str]],
    problems: dict[str, Counter[str]],
    conflicts: Counter[str],
) -> dict[str, Any]:
    """The relationships document.

    Args:
        links: ``(child source, home system) -> records`` of child records that refer to a
            policy of that home system.
        problems: injected problems per source and kind (the problem log's counts).
        conflicts: cross-system conflicts per source.
    """
    rels = [_entry(*row) for row in FIXED]
    for child, (child_key, fmt) in POLICY_CHILDREN.items():
        for home, (parent, parent_key, home_fmt) in HOME_SOURCE.items():
            if not links[(child, home)]:
                continue
            if home_fmt == "crosswalk":
                transform = "crosswalk"
            elif fmt == "identity":
                transform = "identity"
            else:
                transform = "number"
            rels.append(_entry(parent, parent_key, child, child_key, transform))
    orphans = {
        child: {"key": key, "count": problems.get(child, Counter())[ORPHAN_REFERENCE]}
        for child, (key, _) in POLICY_CHILDREN.items()
    }
    orphans["acquired_coverage"] = {
        "key": "policy_number",
        "count": problems.get("acquired_coverage", Counter())[ORPHAN_COVERAGE],
    }
    duplicates = {
        source: counts[DUPLICATE]
        for source, counts in sorted(problems.items())
        if counts[DUPLICATE]
    }
    return {
        "relationships": rels,
        "orphans": orphans,
        "duplicates": duplicates,
        "conflicts": dict(sorted(conflicts.items())),
    }
