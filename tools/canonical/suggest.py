"""From a staged source to a draft mapping: match columns, infer each field's transform.

The matcher (``tools.canonical.matching``) says which canonical field each column is, with a
calibrated confidence and evidence. This module adds *how* to read the values into that field,
inferred from sample values, never from file names:

- dates: the format under which (nearly) every sample value is a real calendar date
  (``YYYYMMDD``, ``DD.MM.YYYY``, ``YYYYDDD`` Julian, ``MM/DD/YYYY``...; Excel serials in
  spreadsheets); a column already typed as a date needs nothing;
- amounts: decimal commas (``1234,56``) are read as such;
- coded fields (status, coverage type, frequency, state): the glossary code table that
  recognises most sample values; unknown codes are kept, so validation quarantines them
  instead of silently guessing.

The person then confirms, edits or rejects fields (``update_field_mapping``) and approves.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Engine

from core.errors import InputError
from core.metrics import count_confidence
from core.settings import Settings
from core.statuses import RuleStatus
from knowledge.canonical import fields
from knowledge.glossary import code_table, list_code_tables, lookup_code
from tools.canonical import create_mapping
from tools.canonical.contracts import SuggestedMapping
from tools.canonical.dates import parse_dates
from tools.canonical.matching import suggest_matches
from tools.canonical.rule_checks import check_rules, missing_required, parse_rules
from tools.content.indexing import _embedder
from tools.content.sources import SourceInfo, SourceRegistry
from tools.content.staging import staged_batches

SAMPLE_ROWS = 2000
DATE_FORMATS = (
    "YYYY-MM-DD",
    "YYYYMMDD",
    "MM/DD/YYYY",
    "DD.MM.YYYY",
    "DD/MM/YYYY",
    "YYYY/MM/DD",
    "MM-DD-YYYY",
    "YYYYDDD",
    "CYYMMDD",
)
DATE_SHARE = 0.9  # share of sample values that must be real dates under the chosen format
CODE_SHARE = 0.5  # share of distinct sample codes a table must recognise to be chosen
RARE_CODE_SHARE = 0.01  # a code held by fewer rows than this share does not vote on the table
PROPOSE_FLOOR = 0.25  # below this a candidate is noise: the column is left unmapped
CODE_TABLES_BY_TARGET = {
    "status": ("policy_status",),
    "coverage_type": ("coverage_type", "line_of_business"),
    "policy_type": ("line_of_business", "coverage_type"),
    "premium_frequency": ("payment_mode",),
    "billing_frequency": ("payment_mode",),
    "state": ("us_state",),
    "country": ("country",),
}
"""Tables tried first per field leaf; every other table whose ``target`` is a field of that leaf
follows (``tables_for``)."""


def tables_for(leaf: str) -> tuple[str, ...]:
    """The code tables that may read a field of this leaf: the preferred ones, then every
    table the glossary declares for such a field (the address state of a French address is
    read by the French regions' table, not only by the US states')."""
    preferred = CODE_TABLES_BY_TARGET.get(leaf, ())
    declared = tuple(
        name
        for name in list_code_tables()
        if name not in preferred and code_table(name).target.rsplit(".", 1)[-1] == leaf
    )
    return preferred + declared


def sample_columns(info: SourceInfo, rows: int = SAMPLE_ROWS) -> dict[str, pa.Array]:
    batch = next(staged_batches(info.records_path, batch_rows=rows), None)
    if batch is None:
        return {}
    return {name: batch.column(i) for i, name in enumerate(batch.schema.names)}


def column_values(columns: Mapping[str, pa.Array], source: str) -> pa.Array | None:
    """Sample values of a column, or of a list item field (``COVERAGES[].COV_LMT``)."""
    if "[]" not in source:
        return columns.get(source)
    name, _, item = source.partition("[]")
    values = columns.get(name)
    if values is None:
        return None
    flat = pc.list_flatten(values)
    item = item.removeprefix(".")
    return pc.struct_field(flat, item) if item else flat


def _text(values: pa.Array) -> pa.Array:
    present = values.drop_null()
    if pa.types.is_string(present.type) or pa.types.is_large_string(present.type):
        return pc.utf8_trim_whitespace(present)
    return pc.cast(present, pa.string())


def infer_date_format(values: pa.Array, *, spreadsheet: bool = False) -> str | None:
    """The date format under which nearly every sample value is a real date, or None."""

    if pa.types.is_date(values.type) or pa.types.is_timestamp(values.type):
        return None
    present = values.drop_null()
    if len(present) == 0:
        return None
    text = _text(present)
    text = text.filter(pc.not_equal(text, ""))
    if len(text) == 0:
        return None
    candidates = (
        ("excel",) if spreadsheet and not pa.types.is_string(values.type) else ()
    ) + DATE_FORMATS
    best: tuple[float, str] | None = None
    for fmt in candidates:
        try:
            _, failed = parse_dates(text if fmt != "excel" else present, fmt)
        except Exception:  # noqa: BLE001  (a format that cannot even apply is just not chosen)
            continue
        share = 1.0 - float(failed.sum()) / len(failed)
        if share >= DATE_SHARE and (best is None or share > best[0]):
            best = (share, fmt)
    return best[1] if best else None


def infer_code_table(values: pa.Array, target_leaf: str) -> str | None:
    """The code table most of the column's distinct codes are in (None below CODE_SHARE).

    A code held by under :data:`RARE_CODE_SHARE` of the rows does not vote: one mistyped or
    unknown code must not hide the table the rest of the column is written in (it stays
    unknown, and its records fail as they should)."""
    tables = tables_for(target_leaf)
    if not tables:
        return None
    counts = pc.value_counts(_text(values)).to_pylist()
    total = sum(c["counts"] for c in counts if c["values"])
    common = [c["values"] for c in counts if c["values"] and c["counts"] >= RARE_CODE_SHARE * total]
    rare = [c["values"] for c in counts if c["values"] and c["values"] not in common]
    distinct = (common or rare)[:200]
    if not distinct:
        return None
    best: tuple[float, str] | None = None
    for table in tables:
        hits = sum(lookup_code(table, v) is not None for v in distinct) / len(distinct)
        if hits >= CODE_SHARE and (best is None or hits > best[0]):
            best = (hits, table)
    return best[1] if best else None


def infer_transform(
    values: pa.Array | None, target_type: str, target_path: str, *, spreadsheet: bool = False
) -> list[dict[str, Any]]:
    """Transform steps (as FieldRule accepts them) to read ``values`` into the target field."""
    if values is None or len(values) == 0:
        return []
    leaf = target_path.rsplit(".", 1)[-1]
    if target_type == "date":
        fmt = infer_date_format(values, spreadsheet=spreadsheet)
        return [{"kind": "date", "format": fmt}] if fmt else []
    if target_type == "decimal":
        if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
            text = _text(values)
            commas = (
                pc.sum(
                    pc.cast(pc.match_substring_regex(text, r"^-?[\d.\s]*,\d{1,4}$"), pa.int64())
                ).as_py()
                or 0
            )
            if commas >= 0.5 * max(len(text), 1):
                return [{"kind": "money", "decimal_comma": True}]
        return []
    table = infer_code_table(values, leaf)
    if table:
        return [{"kind": "code", "table": table, "on_unknown": "keep"}]
    return []


def suggest_mapping(
    engine: Engine,
    settings: Settings,
    source_id: str,
    *,
    canonical: str = "policy_v1",
    tenant: str | None = None,
    use_semantic: bool = True,
) -> SuggestedMapping:
    """Propose a mapping for a source and store it as a new draft (audited).

    Raises:
        NotFoundError: no such source.
    """

    tenant = tenant or settings.tenant
    info = SourceRegistry(engine, tenant=tenant).get(source_id)
    columns = sample_columns(info)
    embedder = _embedder(settings) if use_semantic else None
    result = suggest_matches(columns, canonical=canonical, embedder=embedder, source_name=info.name)
    types = {f.path: f.type for f in fields(canonical)}
    spreadsheet = info.format == "xlsx"
    rules: list[dict[str, Any]] = []
    shown: list[dict[str, Any]] = []
    unmapped = dict(result.unmapped)
    taken: set[str] = set()
    for match in result.columns:
        best = match.best
        entry: dict[str, Any] = {
            "source": match.column,
            "target": best.target if best else None,
            "confidence": round(best.confidence, 4) if best else 0.0,
            "evidence": _evidence(match),
            "transform": [],
        }
        if best is not None and best.confidence < PROPOSE_FLOOR:
            unmapped[match.column] = f"best candidate {best.target} only {best.confidence:.2f}"
            entry["target"] = None
        elif best is not None and best.target not in taken:
            transform = infer_transform(
                column_values(columns, match.column),
                types.get(best.target, "string"),
                best.target,
                spreadsheet=spreadsheet,
            )
            rule = {
                "source": match.column,
                "target": best.target,
                "transform": transform,
                "confidence": entry["confidence"],
                "evidence": json.dumps(entry["evidence"], default=str)[:2000],
                "status": RuleStatus.PROPOSED,
            }
            problem = _rule_problem(rule, info, canonical)
            if problem is None:
                taken.add(best.target)
                entry["transform"] = transform
                rules.append(rule)
            else:
                unmapped[match.column] = f"{best.target}: {problem}"
                entry["target"] = None
        shown.append(entry)
    rules = _without_keyless_items(rules, shown, unmapped, canonical)
    for rule in rules:  # the proposals the draft keeps
        count_confidence(rule["confidence"])
    mapping = create_mapping(engine, source_id, rules, canonical, tenant=tenant)
    return SuggestedMapping(
        mapping_id=mapping.mapping_id,
        source_id=source_id,
        version=mapping.version,
        canonical=canonical,
        threshold=result.threshold,
        calibration=result.calibration,
        mappings=shown,
        unmapped=unmapped,
        keyless=result.keyless,
        note=result.note,
    )


def _without_keyless_items(
    rules: list[dict[str, Any]],
    shown: list[dict[str, Any]],
    unmapped: dict[str, str],
    canonical: str,
) -> list[dict[str, Any]]:
    """Withdraw proposals into a list whose items would lack a required field.

    An item without its required fields (a claim link without its claim id) cannot be built, and
    a draft holding one cannot be approved: one weak name match (a corporate insured's
    incorporation date read as a claim's reported date) would block the whole mapping. Such
    proposals are left unmapped with the reason, for a person to map the list's key or drop them.
    """

    needs: dict[str, list[str]] = {}
    for path in missing_required(parse_rules(rules), canonical):
        if "[]." in path:
            needs.setdefault(path.rsplit("[].", 1)[0] + "[].", []).append(path)
    kept = []
    for rule in rules:
        prefix = next((p for p in needs if rule["target"].startswith(p)), None)
        if prefix is None:
            kept.append(rule)
            continue
        unmapped[rule["source"]] = (
            f"{rule['target']}: its list item needs {', '.join(needs[prefix])}, "
            "which no column fills"
        )
    withdrawn = {r["source"] for r in rules} - {r["source"] for r in kept}
    for entry in shown:
        if entry["source"] in withdrawn:
            entry["target"] = None
    return kept


def _rule_problem(rule: dict[str, Any], info: SourceInfo, canonical: str) -> str | None:
    """Why a proposed rule would be refused on the source's sample, or None if it is fine."""

    try:
        check_rules(parse_rules([rule]), info, canonical)
    except InputError as exc:
        return exc.what
    return None


def _evidence(match: Any) -> dict[str, Any]:
    best = match.best
    return {
        "candidate": best.target if best else None,  # the ranking's first, even when withheld
        "signals": {k: round(v, 3) for k, v in (best.signals.items() if best else [])},
        "agreed": list(best.agreed) if best else [],
        "alternatives": [
            {"target": c.target, "confidence": round(c.confidence, 4)}
            for c in match.candidates[1:4]
        ],
        "sample_values": match.sample_values[:5],
        "unmapped_reason": match.unmapped_reason,
    }
