"""The true assembled document of every clean policy, written by the estate generator.

While it writes a chunk, each system writer keeps the chunk's records of its assembled sources as
a reader yields them (:meth:`evals.estate.systems.base.SystemWriter.capture`). All of a policy's
records are written within one chunk, so after each chunk :class:`PolicyTruthWriter` joins them
per policy in plain Python and streams one JSON line per clean policy to
``ground_truth/policies.jsonl``: memory stays bounded by the chunk size at any estate size.

The join is the one a migration engineer's review ends with: children keyed by the generator's
own key functions (:func:`evals.estate.keys.number_of`, which inverts the acquired company's
numbering rather than looking it up), lookups (agents, parties) through the policy's column,
every value converted by its ground-truth transform in plain Python (``strptime``, ``Decimal``,
dict lookups), independently of ``tools/``; a field two systems hold takes the home system's
value, and a disagreement the conflict log does not name is counted as unexplained. A policy is
*clean* when no record of any system that belongs to it carries an injected problem; those
policies' documents are written, the others are only counted.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any

import pyarrow.parquet as pq

from evals.estate.keys import number_of

POLICIES_FILE = "ground_truth/policies.jsonl"
SUMMARY_FILE = "ground_truth/policies_summary.json"

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
# What the ground truth cannot say and a reviewer adds (as in the demo's review): a life
# contract takes effect on its issue date, and every coverage of the life system is life.
# (source column or None, target, ground-truth style transform)
REVIEW_EDITS: dict[str, list[tuple[str | None, str, dict[str, Any]]]] = {
    "life": [
        ("ISSUEDT", "policy_core.effective_date", {"kind": "date", "format": "%Y%j"}),
        (None, "coverage_sections[].coverage_type", {"kind": "constant", "value": "life"}),
    ]
}


def _composed(columns: dict[str, str | None]) -> set[str]:
    """Fields the truth composes from several columns (an endorsement's ``changes`` from its
    change lines): no mapping rule expresses that, so they are left out on both sides."""
    targets = [t for t in columns.values() if t is not None]
    return {t for t in targets if targets.count(t) > 1}


# -- the true document of every clean policy -----------------------------------------------


class BadValue(ValueError):
    """A value the ground-truth transform cannot read (an injected invalid value)."""


@functools.lru_cache(maxsize=1 << 16)
def _parsed_date(text: str, fmt: str) -> dt.date | None:
    # an estate holds a few thousand distinct days: parse each once
    try:
        return dt.datetime.strptime(text, fmt).date()
    except ValueError:
        return None


def _date(value: Any, fmt: str) -> dt.date:
    text = str(value).strip()
    parsed = _parsed_date(text, fmt)
    if parsed is None:
        raise BadValue(text)
    return parsed


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
        value = values[0][1]
        if len(values) > 1 and len({json.dumps(normal(v)) for _, v in values}) > 1:
            true = conflicts.get((number, path))
            if true is None or normal(true) != normal(value):
                disagreements.append((path, ",".join(n for n, _ in values)))
        _put(doc, path, value)
    for list_path, items in lists.items():
        _put(doc, list_path, items)
    return policy_id, normal(doc), disagreements


def truth_sources(
    mapping: dict[str, dict[str, str | None]],
    transforms: dict[str, dict[str, dict[str, Any]]],
    files: dict[str, list[str]] | None = None,
) -> dict[str, TruthSource]:
    """Every assembled source with the columns that feed the document and their transforms.

    Args:
        mapping, transforms: the ground truth's ``mapping.json`` and ``transforms.json``.
        files: per source name, its staged Parquet parts (only these sources are kept); None
            keeps every assembled source, with no files (their records are given in memory).
    """
    out = {}
    for name, columns in mapping.items():
        if name in NOT_ASSEMBLED or (files is not None and name not in files):
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
        out[name] = TruthSource(name, list((files or {}).get(name, [])), key, rules)
    return out


Records = dict[str, list[tuple[int, dict[str, Any]]]]  # source -> (record index, record)


class PolicyTruthWriter:
    """Streams the true document of every clean policy, one chunk of policies at a time.

    Each line is ``{"root": source, "policy_id": id as written, "policy": document}`` with the
    document in :func:`normal` form.
    """

    def __init__(
        self,
        out_dir: Path,
        mapping: dict[str, dict[str, str | None]],
        transforms: dict[str, dict[str, dict[str, Any]]],
    ) -> None:
        self.out_dir = out_dir
        self.sources = truth_sources(mapping, transforms)
        self._file: IO[str] = (out_dir / POLICIES_FILE).open("w", encoding="utf-8", newline="\n")
        self._static: dict[str, dict[str, tuple[int, dict[str, Any]]]] = {}
        self.policies = 0
        self.clean = 0
        self.unexplained: list[tuple[str, str, str]] = []

    def _lookup(self, name: str, records: list[tuple[int, dict[str, Any]]], into: dict) -> None:  # type: ignore[type-arg]
        table = into.setdefault(name, {})
        key = self.sources[name].key
        for index, row in records:
            table.setdefault(str(normal(row.get(key))), (index, row))

    def add_static(self, records: Records) -> None:
        """Lookup records written once for the whole estate (the agent roster)."""
        for name, rows in records.items():
            if name in LOOKUPS and name in self.sources:
                self._lookup(name, rows, self._static)

    def write_chunk(
        self,
        records: Records,
        problems: set[tuple[str, int]],
        conflicts: list[dict[str, Any]],
    ) -> None:
        """Join one chunk's records per policy and write the clean policies' documents.

        Args:
            records: the chunk's records of every assembled source, in file order.
            problems: (source, record index) of every record of the chunk with a problem.
            conflicts: the chunk's conflict log rows.
        """
        true_values = {
            (number_of(c["policy_id"]) or -1, c["canonical"]): c["other_value"] for c in conflicts
        }
        lookups = {name: dict(table) for name, table in self._static.items()}
        by_number: dict[str, dict[int, list[tuple[int, dict[str, Any]]]]] = {}
        for name, rows in records.items():
            if name not in self.sources:
                continue
            if name in LOOKUPS:
                self._lookup(name, rows, lookups)
                continue
            grouped: dict[int, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
            key = self.sources[name].key
            for index, row in rows:
                number = number_of(row.get(key))
                if number is not None:
                    grouped[number].append((index, row))
            by_number[name] = grouped
        # children in the order of the ground-truth mapping, as the staged estate lists them
        children = [n for n in self.sources if n in by_number and n not in ROOTS]
        lines = []
        for root in ROOTS:
            for number, rows in by_number.get(root, {}).items():
                self.policies += 1
                doc = _document(
                    self.sources,
                    root,
                    number,
                    rows,
                    children,
                    by_number,
                    lookups,
                    problems,
                    true_values,
                )
                if doc is None:
                    continue
                self.clean += 1
                policy_id, document, disagreements = doc
                self.unexplained.extend((policy_id, f, s) for f, s in disagreements)
                line = {"root": root, "policy_id": policy_id, "policy": document}
                lines.append(json.dumps(line, ensure_ascii=False, sort_keys=True))
        if lines:
            self._file.write("\n".join(lines) + "\n")

    def close(self) -> None:
        """Close the documents and write the counts beside them."""
        self._file.close()
        summary = {
            "policies": self.policies,
            "clean": self.clean,
            "unexplained": len(self.unexplained),
            "unexplained_sample": [list(u) for u in self.unexplained[:20]],
        }
        (self.out_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n", "utf-8")


def load_policy_truth(estate: Path) -> EstateTruth:
    """The generator's true documents of an estate's clean policies (``policies.jsonl``).

    Raises:
        FileNotFoundError: if the estate was generated without them (an older generator).
    """
    documents: dict[str, dict[str, dict[str, Any]]] = {}
    with (Path(estate) / POLICIES_FILE).open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                documents.setdefault(row["root"], {})[row["policy_id"]] = row["policy"]
    summary = json.loads((Path(estate) / SUMMARY_FILE).read_text("utf-8"))
    unexplained = [(str(a), str(b), str(c)) for a, b, c in summary["unexplained_sample"]]
    unexplained += [("?", "?", "?")] * (summary["unexplained"] - len(unexplained))
    return EstateTruth(documents, summary["policies"], summary["clean"], unexplained)
