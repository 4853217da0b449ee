"""Code value crosswalks: every distinct value of each coded source column, and its canonical
value through the source's mapping (code table, value map), or none.

Values are counted by DuckDB on the staged Parquet, so a column of any length costs one pass.
A value with no canonical value quarantines exactly the records that hold it when the assembly
runs; approving with ``--min-confidence`` leaves low-confidence proposals unmapped too. A value
no table decides may carry a suggestion the data points to (numeric frequency modes:
:mod:`tools.assembly.code_evidence`); it stays unmapped until a person confirms it.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
from pydantic import ValidationError

from core.errors import InputError
from knowledge.canonical import fields
from knowledge.glossary.codes import code_table
from tools.assembly.code_evidence import frequency_suggestions
from tools.assembly.contracts import CodeCrosswalk, CrosswalkEdit, CrosswalkValue
from tools.assembly.keyspace import quote, scan
from tools.canonical.spec import CodeStep, FieldRule
from tools.canonical.transforms import translate_codes
from tools.content.sources import SourceInfo
from tools.routing.yaml_lines import LINE_KEY, load_yaml_with_lines

MAX_VALUES = 200  # a coded column with more distinct values than this is not a code


def coded_fields() -> dict[str, list[str]]:
    """Canonical v1 fields with a closed set of values."""
    return {f.path: list(f.allowed_values) for f in fields("policy_v1") if f.allowed_values}


def code_values(rule: FieldRule) -> list[str] | None:
    """The canonical values a rule's code step translates to (None without a code step): a
    column read through a code table is coded even when its canonical field is open text
    (``policy_type``, ``endorsement_type``)."""
    step = next((s for s in rule.transform if isinstance(s, CodeStep)), None)
    if step is None:
        return None
    values = list(dict.fromkeys(step.values.values()))
    if step.table:
        table = code_table(step.table)
        values += [e.canonical for e in table.entries if e.canonical not in values]
        values += [v for v in table.values or () if v not in values]
    return values


def allowed_for(rule: FieldRule, coded: dict[str, list[str]]) -> list[str] | None:
    """The values a coded rule may take: its field's closed list, else its code step's values;
    None when the rule is not coded."""
    if rule.target in coded:
        return coded[rule.target]
    return code_values(rule)


def _plain(value: str) -> str:
    return "".join(ch for ch in value.lower() if ch.isalnum())


def _translate(
    values: list[str], rule: FieldRule, allowed: list[str]
) -> list[tuple[str | None, float, str]]:
    """Each value's canonical value, confidence and evidence: through the mapping's code step,
    else when the value is a canonical value written in another case or with separators."""
    step = next((s for s in rule.transform if isinstance(s, CodeStep)), None)
    through: list[str | None] = [None] * len(values)
    how = "the mapping has no code table"
    if step is not None:
        strict = step.model_copy(update={"on_unknown": "null"})
        translated, _ = translate_codes(pa.array(values, pa.string()), strict)
        through = translated.to_pylist()
        how = f"code table {step.table}" if step.table else "the mapping's value map"
    plain = {_plain(a): a for a in allowed}
    out: list[tuple[str | None, float, str]] = []
    for value, target in zip(values, through, strict=True):
        if target in allowed:
            out.append((target, round(rule.confidence, 3), f"{how} -> {target}"))
        elif _plain(value) in plain:
            same = plain[_plain(value)]
            out.append((same, 0.9, f"the canonical value '{same}' as written ({how})"))
        else:
            out.append((None, 0.0, f"no canonical {rule.target} value for it ({how})"))
    return out


def _fields(path: str) -> str:
    """``.A.B`` (a struct path inside a list element) as DuckDB field accesses."""
    return "".join(f".{quote(part)}" for part in path.strip(".").split(".") if part)


def element_values(column: str) -> str:
    """A DuckDB list of the values a repeated-group column holds in one record:
    ``COVERAGES[].COV_CD`` -> the ``COV_CD`` of every element of ``COVERAGES``, through any
    depth of nested groups (``A[].B[].C``)."""
    head, *rest = column.split("[]")
    expr = quote(head)
    for depth, part in enumerate(rest[:-1]):
        expr = f"flatten(list_transform({expr}, lambda e{depth}: e{depth}{_fields(part)}))"
    last = len(rest)
    return f"list_transform({expr}, lambda e{last}: e{last}{_fields(rest[-1])})"


def _value_counts(
    con: duckdb.DuckDBPyConnection, info: SourceInfo, column: str
) -> list[tuple[str, int]]:
    """Each distinct value of a column with the records holding it; a repeated group's value
    counts once per record that holds it in any element (those records are quarantined)."""
    if "[]" in column:
        text = f"list_transform({element_values(column)}, lambda x: trim(CAST(x AS VARCHAR)))"
        inner = f"SELECT unnest(list_distinct({text})) AS v FROM {scan(info)}"
    else:
        inner = f"SELECT trim(CAST({quote(column)} AS VARCHAR)) AS v FROM {scan(info)}"
    rows = con.execute(
        f"SELECT v, count(*) AS n FROM ({inner}) WHERE v IS NOT NULL GROUP BY v "
        f"ORDER BY n DESC, v LIMIT {MAX_VALUES + 1}"
    ).fetchall()
    return [(str(v), int(n)) for v, n in rows]


def crosswalk_for(
    con: duckdb.DuckDBPyConnection, info: SourceInfo, rule: FieldRule, allowed: list[str]
) -> CodeCrosswalk | None:
    """The crosswalk of one mapped coded column, at any depth of repeated groups (None for
    non-codes: a column with more than :data:`MAX_VALUES` values)."""
    staged = {c["name"] for c in info.columns}
    if rule.source is None or rule.source.split("[]", 1)[0] not in staged:
        return None
    rows = _value_counts(con, info, rule.source)
    rows = [(v, n) for v, n in rows if v]
    if not rows or len(rows) > MAX_VALUES:
        return None
    proposals = _translate([v for v, _ in rows], rule, allowed)
    undecided = [value for (value, _), (c, _, _) in zip(rows, proposals, strict=True) if c is None]
    hints = frequency_suggestions(info, rule.source, undecided, allowed) if undecided else {}
    values = [
        CrosswalkValue(
            value=value,
            count=int(count),
            canonical=c,
            confidence=conf,
            evidence=hints[value].evidence if value in hints else why,
            suggested=hints[value].canonical if value in hints else None,
        )
        for (value, count), (c, conf, why) in zip(rows, proposals, strict=True)
    ]
    unmapped = sum(v.count for v in values if v.canonical is None)
    return CodeCrosswalk(
        source=info.source_id,
        source_name=info.name,
        column=rule.source,
        field=rule.target,
        allowed=allowed,
        values=values,
        unmapped_rows=unmapped,
    )


def below(crosswalk: CodeCrosswalk, min_confidence: float) -> CodeCrosswalk:
    """The crosswalk with proposals under ``min_confidence`` left unmapped."""
    values = [
        v
        if v.canonical is None or v.confidence >= min_confidence
        else v.model_copy(update={"canonical": None, "evidence": v.evidence + " (below bar)"})
        for v in crosswalk.values
    ]
    unmapped = sum(v.count for v in values if v.canonical is None)
    return crosswalk.model_copy(update={"values": values, "unmapped_rows": unmapped})


CROSSWALK_FIX = (
    "list edits as `crosswalks: [{source, column, value, canonical}]` naming a crosswalk of the "
    "assembly (`data-mash assembly propose` lists them)"
)


def load_edits(path: Path) -> list[tuple[str, CrosswalkEdit]]:
    """Crosswalk edits from YAML, each with where it was written (``file:line``).

    Raises:
        InputError: naming the file and line of malformed YAML or a malformed edit.
    """
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise InputError(
            f"cannot read crosswalk edits: {exc.strerror}", where=str(path), fix=CROSSWALK_FIX
        ) from None
    data, issues = load_yaml_with_lines(text)
    if issues:
        raise InputError(issues[0].message, where=f"{path}:{issues[0].line}", fix=CROSSWALK_FIX)
    items = data.get("crosswalks") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise InputError(
            "expected a top-level 'crosswalks:' list", where=f"{path}:1", fix=CROSSWALK_FIX
        )
    out = []
    for item in items:
        line = item.get(LINE_KEY) if isinstance(item, dict) else None
        where = f"{path}:{line}" if line else str(path)
        body = {k: v for k, v in item.items() if k != LINE_KEY} if isinstance(item, dict) else {}
        if isinstance(body.get("value"), int | float):
            body["value"] = str(body["value"])  # a code written 7 in YAML is the text '7'
        try:
            out.append((where, CrosswalkEdit.model_validate(body)))
        except ValidationError as exc:
            detail = exc.errors()[0]
            name = ".".join(str(p) for p in detail["loc"]) or "edit"
            raise InputError(f"{name}: {detail['msg']}", where=where, fix=CROSSWALK_FIX) from None
    return out


def apply_edits(
    crosswalks: list[CodeCrosswalk], edits: list[tuple[str, CrosswalkEdit]]
) -> list[CodeCrosswalk]:
    """The crosswalks with a person's edits applied.

    Raises:
        InputError: naming where the edit was written: a crosswalk the assembly does not have,
            a value its column never holds, a canonical value outside the field's values.
    """
    out = list(crosswalks)
    for where, edit in edits:
        at = next(
            (
                i
                for i, x in enumerate(out)
                if edit.source in (x.source, x.source_name) and x.column == edit.column
            ),
            None,
        )
        if at is None:
            known = ", ".join(f"{x.source_name}.{x.column}" for x in out) or "none"
            raise InputError(
                f"no crosswalk {edit.source}.{edit.column} in this assembly (crosswalks: {known})",
                where=where,
                fix=CROSSWALK_FIX,
            )
        xw = out[at]
        if edit.canonical is not None and edit.canonical not in xw.allowed:
            raise InputError(
                f"crosswalk {xw.source_name}.{xw.column}: '{edit.value}' -> '{edit.canonical}' "
                f"is not a value of {xw.field}",
                where=where,
                fix=f"use one of: {', '.join(xw.allowed)}",
            )
        if edit.value not in {v.value for v in xw.values}:
            raise InputError(
                f"{xw.source_name}.{xw.column} never holds the value '{edit.value}'",
                where=where,
                fix="edit a value the crosswalk lists (with its count)",
            )
        values = [
            v.model_copy(
                update={
                    "canonical": edit.canonical,
                    "confidence": 1.0,
                    "evidence": f"edited by a person ({where})",
                }
            )
            if v.value == edit.value
            else v
            for v in xw.values
        ]
        unmapped = sum(v.count for v in values if v.canonical is None)
        out[at] = xw.model_copy(update={"values": values, "unmapped_rows": unmapped})
    return out


def check_values(crosswalks: list[CodeCrosswalk]) -> None:
    """Raise one InputError for a canonical value outside its field's allowed values."""
    for xw in crosswalks:
        for v in xw.values:
            if v.canonical is not None and v.canonical not in xw.allowed:
                raise InputError(
                    f"crosswalk {xw.source_name}.{xw.column}: '{v.value}' -> '{v.canonical}' "
                    f"is not a value of {xw.field}",
                    where=f"crosswalks[{xw.source_name}.{xw.column}]",
                    fix=f"use one of: {', '.join(xw.allowed)}",
                )
