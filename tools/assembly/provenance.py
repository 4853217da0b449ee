"""Per-field provenance of an assembled policy, expanded from the run's compact side file.

The run keeps, per policy, the rows each source contributed and the source that won each
contested field. Expanding that with the assembly's rules gives, for every field, the system,
source, row(s) and column(s) it came from.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from tools.assembly.contracts import FieldProvenance, SourceCompleteness
from tools.assembly.spec import get_assembly
from tools.assembly.stage import ID_PATH, contributors


def expand(
    engine: Engine, tenant: str, assembly_id: str, row: dict[str, Any]
) -> tuple[list[FieldProvenance], dict[str, SourceCompleteness]]:
    """Provenance entries and the completeness record of one policy's provenance row."""
    spec = get_assembly(engine, assembly_id, tenant=tenant)
    parts = contributors(engine, tenant, spec)
    root = parts[0]
    rows: dict[str, list[int]] = {root.name: [int(row.get("root_row", -1))]}
    completeness: dict[str, SourceCompleteness] = {
        root.name: SourceCompleteness(
            kind="root",
            held=1,
            arrived=1 if row.get("valid") else 0,
            fills=[*(f"{lp}[]" for lp in root.lists), *root.scalars],
        )
    }
    for c in parts[1:]:
        got = [int(r) for r in (row.get(f"rows:{c.index}") or [])]
        rows[c.name] = got
        completeness[c.name] = SourceCompleteness(
            kind=c.kind,
            held=int(row.get(f"held:{c.index}") or 0),
            arrived=len(got),
            fills=[*(f"{lp}[]" for lp in c.lists), *c.scalars],
        )
    out: list[FieldProvenance] = []
    by_name = {c.name: c for c in parts}
    scalar_paths = list(dict.fromkeys(p for c in parts for p in c.scalars))
    for path in scalar_paths:
        winner = row.get(f"win:{path}")
        if winner is None:
            owner = next((c for c in parts if path in c.scalars and rows.get(c.name)), None)
        else:
            owner = by_name.get(winner)
        if owner is None or (path != ID_PATH and not rows.get(owner.name)):
            continue
        rule = next((r for r in owner.rules if r.target == path), None)
        out.append(
            FieldProvenance(
                field=path,
                system=owner.info.system or owner.name,
                source=owner.name,
                source_id=owner.info.source_id,
                rows=rows[owner.name][:1],
                columns=[rule.source] if rule is not None and rule.source else [],
            )
        )
    for c in parts:
        got = rows.get(c.name) or []
        for list_path in c.lists:
            if not got:
                continue
            columns = [
                r.source for r in c.rules if r.target.startswith(f"{list_path}[]") and r.source
            ]
            out.append(
                FieldProvenance(
                    field=f"{list_path}[]",
                    system=c.info.system or c.name,
                    source=c.name,
                    source_id=c.info.source_id,
                    rows=got,
                    columns=list(dict.fromkeys(columns)),
                )
            )
    return out, completeness
