"""Legacy extracts for the sync tests: a policy file with one row per coverage, as CSV."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from core.settings import Settings
from tools.content.ingest import ingest_file

COLUMNS = {
    "POLNO": "policy_core.policy_id",
    "STAT": "policy_core.status",
    "CARRIER": "policy_core.carrier",
    "CITY": "policy_core.insured_party.address.city",
    "PREMIUM": "rating_components.premium_amount",
    "COVID": "coverage_sections[].coverage_id",
    "COVTYPE": "coverage_sections[].coverage_type",
}
HEADER = list(COLUMNS)


def policy_rows(policy: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One extract row per coverage of a policy (flat dict with ``coverages``: id -> type)."""
    head = {
        "POLNO": policy["id"],
        "STAT": policy.get("status", ""),
        "CARRIER": policy.get("carrier", ""),
        "CITY": policy.get("city", ""),
        "PREMIUM": policy.get("premium", ""),
    }
    coverages = policy.get("coverages") or {}
    if not coverages:
        return [{**head, "COVID": "", "COVTYPE": ""}]
    return [{**head, "COVID": cid, "COVTYPE": kind} for cid, kind in sorted(coverages.items())]


def write_extract(
    path: Path, policies: list[Mapping[str, Any]], header: list[str] | None = None
) -> Path:
    header = header or HEADER
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, extrasaction="ignore")
        writer.writeheader()
        for policy in policies:
            for row in policy_rows(policy):
                writer.writerow(row)
    return path


def ingest(engine: Engine, settings: Settings, path: Path) -> str:
    return ingest_file(
        engine, settings, path, fmt="csv", options={"header": True}, system="LEG"
    ).source_id
