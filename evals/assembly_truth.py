"""Whole-policy ground truth of a generated estate, and the reviewed mappings assembly runs with.

Two halves:

- :func:`reviewed_rules` turns the estate's ground-truth mapping (``ground_truth/mapping.json``
  and ``transforms.json``) into mapping rules, the way a migration engineer's review ends: every
  column on its true field, every date format, decimal and code table as the system documents
  it, and the coded values the canonical model does not know crosswalked to one it does
  (:data:`ENUM_CROSSWALK`, the engineer's decision, not the generator's).
- :func:`truth_documents` assembles the true canonical document of every policy without any of
  data-mash's assembly code: a plain per-policy Python join (dict of lists) over the staged
  records, keyed by the generator's own key functions (:func:`evals.estate.keys.number_of`,
  which inverts the acquired company's numbering rather than looking it up), dropping the
  records the problem log names (duplicates, orphans, invalid values) and deciding every field
  two systems hold by the conflict log (the home system holds the true value). A policy is
  *clean* when no record of any system that belongs to it carries an injected problem.

Values are converted in plain Python (``strptime``, ``Decimal``, dict lookups), independently
of ``tools.canonical``'s vectorised transforms, so the comparison checks them too.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from core.statuses import RuleStatus
from evals.estate.keys import number_of
from tools.canonical.repository import approve_mapping, create_mapping
from tools.content.sources import SourceRegistry

# Canonical values the estate's code tables give that canonical v1's closed lists do not hold,
# and the value a reviewer crosswalks them to.
ENUM_CROSSWALK: dict[str, dict[str, str]] = {
    "coverage_sections[].coverage_type": {
        "collision": "auto",
        "comprehensive": "auto",
        "medical": "health",
    },
    "correspondence.communications[].channel": {"mail": "letter"},
}
ID_PATH = "policy_core.policy_id"
# The home systems' policy sources, whose key names the policy.
ROOTS = ("policy_master", "agency_policies", "life", "acquired_policy")
# Sources joined to a policy through a column of the policy (or of its party): lookups.
LOOKUPS = {
    "agency_agents": ("Agent Code", "policy_core.agent_info.agent_id"),
    "acquired_party": ("party_id", "policy_core.insured_party.party_id"),
}
NOT_ASSEMBLED = {"agency_summary", "acquired_crosswalk"}
# Fields a reviewer reads through the glossary's code table when the system writes the codes
# as they are (the table's canonical value is the code): an unknown code is then reported.
GLOSSARY_TABLES = {"policy_core.insured_party.address.state": "us_state"}
# What the ground truth cannot say and a reviewer adds (as in the demo's review): a life
# contract takes effect on its issue date, and every coverage of the life system is life.
# (source column or None, target, ground-truth style transform)
REVIEW_EDITS: dict[str, list[tuple[str | None, str, dict[str, Any]]]] = {
    "life": [
        ("ISSUEDT", "policy_core.effective_date", {"kind": "date", "format": "%Y%j"}),
        (None, "coverage_sections[].coverage_type", {"kind": "constant", "value": "life"}),
    ]
}


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


def _composed(columns: dict[str, str | None]) -> set[str]:
    """Fields the truth composes from several columns (an endorsement's ``changes`` from its
    change lines): no mapping rule expresses that, so they are left out on both sides."""
    targets = [t for t in columns.values() if t is not None]
    return {t for t in targets if targets.count(t) > 1}


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


class BadValue(ValueError):
    """A value the ground-truth transform cannot read (an injected invalid value)."""


def _date(value: Any, fmt: str) -> dt.date:
    text = str(value).strip()
    try:
        return dt.datetime.strptime(text, fmt).date()
    except ValueError:
        raise BadValue(text) from None


def _decimal(value: Any, spec: dict[str, Any]) -> Decimal:
    text = str(value).strip()
    if spec.get("decimal_separator") == "," and isinstance(value, str):
        text = text.replace(".", "").replace(",", ".")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise BadValue(text) from None
    if spec.get("implied") and isinstance(value, str | int):
        number = number.scaleb(-int(spec["scale"]))
    return number


def convert(value: Any, spec: dict[str, Any] | None, target: str) -> Any:
    """One source value as its canonical value, by the ground-truth transform (plain Python)."""
    if spec is not None and spec["kind"] == "constant":
        return spec["value"]
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if spec is None:
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return value.strip() if isinstance(value, str) else value
    kind = spec["kind"]
    if kind == "date":
        return _date(value, spec["format"])
    if kind == "decimal":
        return _decimal(value, spec)
    if kind == "code":
        code = str(value).strip()
        if code not in spec["table"]:
            raise BadValue(code)
        canonical = spec["table"][code]
        return ENUM_CROSSWALK.get(target, {}).get(canonical, canonical)
    if kind == "format":
        return str(spec["pattern"]).format(int(value))
    raise ValueError(f"unknown ground-truth transform {spec}")


@dataclass
class TruthSource:
    """One staged source with the columns that feed the document and their transforms."""

    name: str
    files: list[str]
    key: str  # column naming the policy (children, roots) or the looked-up entity (lookups)
    rules: list[tuple[str, str, dict[str, Any] | None]]  # (column, target, transform)
    rows: list[dict[str, Any]] = field(default_factory=list)

    def records(self) -> Iterator[tuple[int, dict[str, Any]]]:
        index = 0
        for path in self.files:
            for row in pq.read_table(path).to_pylist():
                yield index, row
                index += 1


def _get(row: dict[str, Any], column: str) -> Any:
    return row.get(column)


def _put(doc: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        doc = doc.setdefault(part, {})
    doc[parts[-1]] = value


def _items(source: TruthSource, row: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The list items one record supplies, per canonical list path (raises BadValue)."""
    out: dict[str, list[dict[str, Any]]] = {}
    by_list: dict[str, list[tuple[str, str, dict[str, Any] | None]]] = defaultdict(list)
    for column, target, spec in source.rules:
        if "[]" in target:
            by_list[target.split("[]", 1)[0]].append((column, target, spec))
    for list_path, rules in by_list.items():
        nested = [c for c, _, _ in rules if "[]" in c]
        if nested:  # the record holds the list itself (COVERAGES[]): one item per element
            outer = nested[0].split("[]", 1)[0]
            elements = row.get(outer) or []
        else:
            elements = [row]
        items = []
        for element in elements:
            item: dict[str, Any] = {}
            for column, target, spec in rules:
                leaf_column = column.split("[].", 1)[1] if "[]" in column else column
                # a record-level column repeats on every item of a list the record holds
                holder = element if "[]" in column else row
                value = convert(_get(holder, leaf_column), spec, target)
                if value is not None:
                    _put(item, target.split("[].", 1)[1], value)
            if item:
                items.append(item)
        if items:
            out[list_path] = items
    return out


def _scalars(source: TruthSource, row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for column, target, spec in source.rules:
        if "[]" in target or target == ID_PATH:
            continue
        value = convert(_get(row, column), spec, target)
        if value is not None:
            out[target] = value
    return out


def normal(value: Any) -> Any:
    """A document (or value) in a comparable form: leaves as text, nulls and empties dropped,
    numbers by value (``2000000.00`` = ``2000000``), list items in a fixed order."""
    if isinstance(value, dict):
        out = {k: normal(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        items = [normal(v) for v in value]
        items = [i for i in items if i not in (None, {}, [])]
        return sorted(items, key=lambda i: json.dumps(i, sort_keys=True))
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float | Decimal):
        number = Decimal(str(value))
        return str(int(number)) if number == number.to_integral_value() else f"{number:.2f}"
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value).strip()
    return text or None


@dataclass
class EstateTruth:
    """The true documents of the clean policies, per root source and policy id as written."""

    documents: dict[str, dict[str, dict[str, Any]]]
    policies: int  # policies the roots hold
    clean: int
    unexplained: list[tuple[str, str, str]]  # (policy id, field, sources) disagreeing unlogged


def _sources(estate: Path, files: dict[str, list[str]]) -> dict[str, TruthSource]:
    truth = estate / "ground_truth"
    mapping = json.loads((truth / "mapping.json").read_text("utf-8"))
    transforms = json.loads((truth / "transforms.json").read_text("utf-8"))
    out = {}
    for name, columns in mapping.items():
        if name in NOT_ASSEMBLED or name not in files:
            continue
        key = LOOKUPS[name][0] if name in LOOKUPS else None
        rules = []
        composed = _composed(columns)
        for column, target in columns.items():
            if target is None or target in composed:
                continue
            if target == ID_PATH:
                key = key or column
            rules.append((column, target, transforms.get(name, {}).get(column)))
        for column, target, spec in REVIEW_EDITS.get(name, []):
            rules = [r for r in rules if r[1] != target]
            rules.append((column or "", target, spec))
        assert key is not None, name
        out[name] = TruthSource(name, files[name], key, rules)
    return out


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


def _document(
    sources: dict[str, TruthSource],
    root: str,
    number: int,
    rows: list[tuple[int, dict[str, Any]]],
    children: list[str],
    by_number: dict[str, dict[int, list[tuple[int, dict[str, Any]]]]],
    lookups: dict[str, dict[str, tuple[int, dict[str, Any]]]],
    problems: set[tuple[str, int]],
    conflicts: dict[tuple[int, str], Any],
) -> tuple[str, dict[str, Any], list[tuple[str, str]]] | None:
    """One clean policy's document, or None when a record of it carries a problem."""
    if len(rows) != 1 or (root, rows[0][0]) in problems:
        return None
    gathered: list[tuple[str, dict[str, Any]]] = [(root, rows[0][1])]
    for child in children:
        for index, row in by_number[child].get(number, []):
            if (child, index) in problems:
                return None
            gathered.append((child, row))
    try:
        root_scalars = _scalars(sources[root], rows[0][1])
        for name, (_, join_field) in LOOKUPS.items():
            ref = root_scalars.get(join_field)
            hit = lookups.get(name, {}).get(str(normal(ref))) if ref is not None else None
            if hit is not None:
                if (name, hit[0]) in problems:
                    return None
                gathered.insert(1, (name, hit[1]))
        supplied: dict[str, list[tuple[str, Any]]] = defaultdict(list)
        lists: dict[str, list[dict[str, Any]]] = defaultdict(list)
        seen: set[str] = set()
        for name, row in gathered:
            if name not in seen:  # a child's scalars come from its first record
                for path, value in _scalars(sources[name], row).items():
                    supplied[path].append((name, value))
            seen.add(name)
            for list_path, items in _items(sources[name], row).items():
                lists[list_path].extend(items)
    except BadValue:
        return None
    policy_id = str(normal(rows[0][1].get(sources[root].key)))
    doc: dict[str, Any] = {}
    _put(doc, ID_PATH, policy_id)
    disagreements = []
    for path, values in supplied.items():
        distinct = {json.dumps(normal(v)) for _, v in values}
        value = values[0][1]
        if len(distinct) > 1:
            true = conflicts.get((number, path))
            if true is None or normal(true) != normal(value):
                disagreements.append((path, ",".join(n for n, _ in values)))
        _put(doc, path, value)
    for list_path, items in lists.items():
        _put(doc, list_path, items)
    return policy_id, normal(doc), disagreements


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
