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
    """Ingest an extract. Its columns are not indexed for semantic search: the sync tests never
    search them, and the default local model would start a torch child process per workspace."""
    plain = settings.model_copy(update={"embedding_provider": "none"})
    return ingest_file(
        engine, plain, path, fmt="csv", options={"header": True}, system="LEG"
    ).source_id


def flat_to_rows(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A flat canonical document as extract rows (one per coverage)."""
    by_path = {path: column for column, path in COLUMNS.items()}
    head = {by_path[p]: v for p, v in doc.items() if "[" not in p and p in by_path}
    coverages: dict[str, dict[str, Any]] = {}
    for path, value in doc.items():
        if path.startswith("coverage_sections["):
            cid, _, field = path[len("coverage_sections[") :].partition("].")
            coverages.setdefault(cid, {})[by_path[f"coverage_sections[].{field}"]] = value
    if not coverages:
        return [head]
    return [{**head, **coverages[cid]} for cid in sorted(coverages)]


def write_flat_extract(path: Path, docs: Mapping[str, Mapping[str, Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=HEADER)
        writer.writeheader()
        for pid in sorted(docs):
            for row in flat_to_rows(docs[pid]):
                writer.writerow(row)
    return path


class LegacyBook:
    """The legacy system in the tests: flat documents, its batch loader for sync's corrections.

    The loader applies each correction file once, path by path, only where the policy still
    holds the value the correction expects (compare-and-set), like the platform does.
    """

    def __init__(self, docs: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.docs: dict[str, dict[str, Any]] = {p: dict(d) for p, d in (docs or {}).items()}
        self.loaded: set[str] = set()

    def load_corrections(self, folder: Path) -> int:
        import json

        applied = 0
        for file in sorted(folder.glob("corrections-*.jsonl")) if folder.is_dir() else []:
            if file.name in self.loaded:
                continue
            for line in file.read_text(encoding="utf-8").splitlines():
                item = json.loads(line)
                doc = dict(self.docs.get(item["policy_id"], {}))
                sets, expect = item["patch"]["set"], item["patch"]["expect"]
                for p, v in sets.items():
                    if doc.get(p) != expect.get(p):
                        continue
                    if v is None:
                        doc.pop(p, None)
                    else:
                        doc[p] = v
                    applied += 1
                if doc:
                    self.docs[item["policy_id"]] = doc
                else:
                    self.docs.pop(item["policy_id"], None)
            self.loaded.add(file.name)
            file.replace(file.with_name(file.name + ".loaded"))  # the loader's receipt
        return applied
