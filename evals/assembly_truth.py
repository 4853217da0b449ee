"""Whole-policy ground truth of a generated estate, and the reviewed mappings assembly runs with.

Two halves:

- :func:`reviewed_rules` turns the estate's ground-truth mapping (``ground_truth/mapping.json``
  and ``transforms.json``) into mapping rules, the way a migration engineer's review ends: every
  column on its true field, every date format, decimal and code table as the system documents
  it, and the coded values the canonical model does not know crosswalked to one it does
  (:data:`ENUM_CROSSWALK`, the engineer's decision, not the generator's).
- :func:`truth_documents` recomposes the same true documents the generator writes
  (``ground_truth/policies.jsonl``, :mod:`evals.estate.policy_truth`) from the *staged* Parquet
  records, with the same plain per-policy Python join (dict of lists). The eval suite and the
  acceptance tests score against the generator's file; this one remains the naive baseline of
  ``benchmarks/bench_assembly.py`` and a cross-check that staging kept every value.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.statuses import RuleStatus
from evals.estate.keys import number_of
from evals.estate.policy_truth import (
    ENUM_CROSSWALK,
    ID_PATH,
    LOOKUPS,
    NOT_ASSEMBLED,
    REVIEW_EDITS,
    ROOTS,
    BadValue,
    EstateTruth,
    TruthSource,
    _composed,
    _document,
    convert,
    load_policy_truth,
    normal,
    truth_sources,
)
from tools.canonical.repository import approve_mapping, create_mapping
from tools.content.sources import SourceRegistry

__all__ = [
    "ENUM_CROSSWALK",
    "ID_PATH",
    "LOOKUPS",
    "NOT_ASSEMBLED",
    "REVIEW_EDITS",
    "ROOTS",
    "BadValue",
    "EstateTruth",
    "TruthSource",
    "convert",
    "load_policy_truth",
    "normal",
    "reviewed_rules",
    "score_documents",
    "truth_documents",
]

# Fields a reviewer reads through the glossary's code table when the system writes the codes
# as they are (the table's canonical value is the code): an unknown code is then reported.
GLOSSARY_TABLES = {"policy_core.insured_party.address.state": "us_state"}


def _token_format(fmt: str) -> str:
    out = fmt.replace("%Y", "YYYY").replace("%m", "MM").replace("%d", "DD").replace("%j", "DDD")
    return out.replace("%H", "HH").replace("%M", "MI").replace("%S", "SS")


def _step(spec: dict[str, Any], target: str) -> list[dict[str, Any]]:
    kind = spec["kind"]
    if kind == "date":
        return [{"kind": "date", "format": _token_format(spec["format"])}]
    if kind == "decimal":
        if spec.get("implied"):
            return [{"kind": "money", "implied_decimals": int(spec["scale"])}]
        if spec.get("decimal_separator") == ",":
            return [{"kind": "money", "decimal_comma": True}]
        return []
    if kind == "code":
        table = {k: ENUM_CROSSWALK.get(target, {}).get(v, v) for k, v in spec["table"].items()}
        return [{"kind": "code", "values": table, "case_insensitive": False}]
    if kind == "constant":
        return [{"kind": "constant", "value": spec["value"]}]
    if kind == "format" and spec.get("pattern") == "A{:05d}":
        return [{"kind": "text", "pad_left": 5, "prefix": "A"}]
    raise ValueError(f"no mapping step for ground-truth transform {spec}")


def reviewed_rules(estate: Path) -> dict[str, list[dict[str, Any]]]:
    """Per source name, the mapping rules of the estate's ground truth (see the module doc)."""
    truth = estate / "ground_truth"
    mapping = json.loads((truth / "mapping.json").read_text("utf-8"))
    transforms = json.loads((truth / "transforms.json").read_text("utf-8"))
    out: dict[str, list[dict[str, Any]]] = {}
    for source, columns in mapping.items():
        rules = []
        composed = _composed(columns)
        for column, target in columns.items():
            if target is None or target in composed:
                continue
            spec = transforms.get(source, {}).get(column)
            steps = _step(spec, target) if spec else []
            if not steps and target in GLOSSARY_TABLES:
                steps = [{"kind": "code", "table": GLOSSARY_TABLES[target]}]
            rules.append(
                {
                    "source": column,
                    "target": target,
                    "transform": steps,
                    "confidence": 1.0,
                    "status": RuleStatus.CONFIRMED,
                }
            )
        for column, target, spec in REVIEW_EDITS.get(source, []):
            rules = [r for r in rules if r["target"] != target]
            rules.append(
                {
                    "source": column,
                    "target": target,
                    "transform": _step(spec, target),
                    "confidence": 1.0,
                    "status": RuleStatus.CONFIRMED,
                }
            )
        out[source] = rules
    return out


# -- the true document of every clean policy ------------------------------------------------


def _sources(estate: Path, files: dict[str, list[str]]) -> dict[str, TruthSource]:
    truth = estate / "ground_truth"
    mapping = json.loads((truth / "mapping.json").read_text("utf-8"))
    transforms = json.loads((truth / "transforms.json").read_text("utf-8"))
    return truth_sources(mapping, transforms, files)


def truth_documents(estate: Path, files: dict[str, list[str]]) -> EstateTruth:
    """The true canonical document of every clean policy (see the module docstring).

    Args:
        estate: the generated estate (its ``ground_truth`` folder is read).
        files: per source name, its staged Parquet parts in record order.
    """
    sources = _sources(estate, files)
    problems = set()
    with (estate / "ground_truth" / "problems.jsonl").open(encoding="utf-8") as f:
        for line in f:
            p = json.loads(line)
            problems.add((p["source"], int(p["record_index"])))
    conflicts: dict[tuple[int, str], Any] = {}
    with (estate / "ground_truth" / "conflicts.jsonl").open(encoding="utf-8") as f:
        for line in f:
            c = json.loads(line)
            conflicts[(number_of(c["policy_id"]) or -1, c["canonical"])] = c["other_value"]
    lookups: dict[str, dict[str, tuple[int, dict[str, Any]]]] = {}
    by_number: dict[str, dict[int, list[tuple[int, dict[str, Any]]]]] = {}
    for name, source in sources.items():
        if name in LOOKUPS:
            table: dict[str, tuple[int, dict[str, Any]]] = {}
            for index, row in source.records():
                table.setdefault(str(normal(row.get(source.key))), (index, row))
            lookups[name] = table
            continue
        grouped: dict[int, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
        for index, row in source.records():
            number = number_of(row.get(source.key))
            if number is not None:
                grouped[number].append((index, row))
        by_number[name] = grouped
    documents: dict[str, dict[str, dict[str, Any]]] = {}
    unexplained: list[tuple[str, str, str]] = []
    policies = clean = 0
    children = [n for n in by_number if n not in ROOTS]
    for root in ROOTS:
        if root not in by_number:
            continue
        out = documents.setdefault(root, {})
        for number, rows in by_number[root].items():
            policies += 1
            doc = _document(
                sources, root, number, rows, children, by_number, lookups, problems, conflicts
            )
            if doc is None:
                continue
            clean += 1
            policy_id, document, disagreements = doc
            unexplained.extend((policy_id, f, s) for f, s in disagreements)
            out[policy_id] = document
    return EstateTruth(documents, policies, clean, unexplained)


def install_reviewed_mappings(engine: Any, estate: Path, *, tenant: str) -> dict[str, str]:
    """Store the reviewed mapping of every ingested estate source (roots approved).

    Returns:
        source name -> mapping id.
    """

    rules = reviewed_rules(estate)
    out = {}
    for info in SourceRegistry(engine, tenant=tenant).list():
        if info.name not in rules or info.name in NOT_ASSEMBLED:
            continue
        mapping = create_mapping(engine, info.source_id, rules[info.name], tenant=tenant)
        if info.name in ROOTS:
            approve_mapping(engine, mapping.mapping_id, tenant=tenant)
        out[info.name] = mapping.mapping_id
    return out


@dataclass
class DocumentScore:
    """Assembled documents of one root against the truth of its clean policies."""

    clean: int
    found: int  # clean policies with an assembled (valid) document
    equal: int
    differences: list[tuple[str, str]]  # (policy id, first differing path), a sample


def _first_difference(got: Any, want: Any, path: str = "") -> str | None:
    if isinstance(got, dict) and isinstance(want, dict):
        for key in sorted(set(got) | set(want)):
            diff = _first_difference(got.get(key), want.get(key), f"{path}.{key}".lstrip("."))
            if diff is not None:
                return diff
        return None
    if got != want:
        return f"{path}: got {json.dumps(got)[:120]} want {json.dumps(want)[:120]}"
    return None


def score_documents(
    assembled: Iterator[dict[str, Any]], truth: dict[str, dict[str, Any]], sample: int = 10
) -> DocumentScore:
    """Compare assembled documents (canonical dicts) with the truth of the clean policies."""
    found = equal = 0
    differences = []
    for document in assembled:
        policy_id = str(document["policy_core"]["policy_id"])
        want = truth.get(policy_id)
        if want is None:
            continue
        found += 1
        got = normal(document)
        if got == want:
            equal += 1
        elif len(differences) < sample:
            differences.append((policy_id, _first_difference(got, want) or "?"))
    return DocumentScore(len(truth), found, equal, differences)
