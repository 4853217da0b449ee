"""Relate sources: propose relationships, let a person confirm or edit them, store versions.

``propose_relationships`` only reads. ``confirm_relationships`` validates the set (every key
matches something, no cycle) before anything is written, then stores it as the tenant's next
version through the write-ahead audit log; versions are never changed afterwards.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path

import duckdb
import yaml
from pydantic import ValidationError
from sqlalchemy import Engine, func, insert, select

from core.errors import InputError, NotFoundError
from core.settings import Settings
from core.statuses import RelationshipsStatus
from core.store.models import RelationshipSetRow, table_of, utcnow
from tools.assembly import keyspace
from tools.assembly.contracts import (
    CrosswalkKeys,
    RelateResult,
    Relationship,
    RelationshipEdit,
)
from tools.assembly.discovery import Candidate, finish, relationships
from tools.audit import AuditLog
from tools.content.sources import SourceInfo, SourceRegistry

NAMESPACE = "assembly"
SET = table_of(RelationshipSetRow)


def _sources(engine: Engine, tenant: str, source_ids: Sequence[str]) -> list[SourceInfo]:
    if len(set(source_ids)) < 2:
        raise InputError(
            "relate needs at least two different sources",
            where="source ids",
            fix="pass two or more source ids from `data-mash sources`",
        )
    registry = SourceRegistry(engine, tenant=tenant)
    infos = [registry.get(s) for s in dict.fromkeys(source_ids)]
    for info in infos:
        if not keyspace.parquet_files(info):
            raise InputError(
                f"source {info.source_id} ({info.name}) has no staged records",
                where=str(info.records_path),
                fix="ingest the file again with `data-mash ingest`",
            )
    return infos


def _discover(infos: list[SourceInfo], settings: Settings) -> list[Relationship]:
    settings.home.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="relate-", dir=settings.home) as tmp:
        con = keyspace.connect(Path(tmp))
        try:
            keys = keyspace.load_key_columns(con, infos)
            return relationships(con, keys)
        finally:
            con.close()


def propose_relationships(
    engine: Engine, settings: Settings, source_ids: Sequence[str], *, tenant: str
) -> RelateResult:
    """Discover how ``source_ids`` relate (reads only; nothing is stored)."""
    infos = _sources(engine, tenant, source_ids)
    found = _discover(infos, settings)
    note = None if found else "no column of one source refers to a key of another"
    return RelateResult(
        sources=[i.source_id for i in infos],
        relationships=found,
        status=RelationshipsStatus.PROPOSED,
        note=note,
    )


def load_edits(path: Path) -> list[RelationshipEdit]:
    """Relationships a person wrote (YAML or JSON: a list, or ``{relationships: [...]}``).

    Raises:
        InputError: naming the file and the item when the file or an item is malformed.
    """
    try:
        data = yaml.safe_load(path.read_text("utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(
            f"cannot read relationships: {exc}".splitlines()[0],
            where=str(path),
            fix="give a YAML or JSON list of {parent, parent_key, child, child_key}",
        ) from None
    items = data.get("relationships") if isinstance(data, dict) else data
    if not isinstance(items, list) or not items:
        raise InputError(
            "no relationships listed",
            where=str(path),
            fix="give a list of {parent, parent_key, child, child_key}",
        )
    edits = []
    for number, item in enumerate(items, start=1):
        try:
            edits.append(RelationshipEdit.model_validate(item))
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "item"
            raise InputError(
                f"relationship {number}: {field}: {first['msg']}",
                where=f"{path}: relationships[{number - 1}]",
                fix="each relationship needs parent, parent_key, child and child_key",
            ) from None
    return edits


def _resolve(name: str, infos: list[SourceInfo], where: str) -> SourceInfo:
    for info in infos:
        if name in (info.source_id, info.name):
            return info
    raise InputError(
        f"'{name}' is not one of the sources being related",
        where=where,
        fix="name a source id (or name) passed to relate",
    )


def _edited(
    edits: list[RelationshipEdit], infos: list[SourceInfo], settings: Settings
) -> list[Relationship]:
    """Evaluate each edited relationship on the data; one error if a key matches nothing."""
    proposed = {r.edge: r for r in _discover(infos, settings)}
    out = []
    with tempfile.TemporaryDirectory(prefix="relate-", dir=settings.home) as tmp:
        con = keyspace.connect(Path(tmp))
        try:
            for number, edit in enumerate(edits, start=1):
                where = f"relationships[{number - 1}]"
                parent = _resolve(edit.parent, infos, f"{where}.parent")
                child = _resolve(edit.child, infos, f"{where}.child")
                edge = (parent.source_id, edit.parent_key, child.source_id, edit.child_key)
                found = proposed.get(edge)
                if found is not None and _states(edit, found):
                    out.append(found)
                    continue
                crosswalk = None
                if edit.crosswalk is not None:
                    xw = _resolve(edit.crosswalk.source, infos, f"{where}.crosswalk.source")
                    crosswalk = (xw, edit.crosswalk)
                out.append(
                    _measure(
                        con,
                        (parent, edit.parent_key),
                        (child, edit.child_key),
                        where,
                        transform=edit.key_transform,
                        crosswalk=crosswalk,
                    )
                )
        finally:
            con.close()
    return out


def _states(edit: RelationshipEdit, rel: Relationship) -> bool:
    """Whether a proposal is what the edit states (then it is kept as proposed)."""
    if edit.key_transform is None:
        return True
    kind = rel.key_transform.kind if rel.key_transform is not None else "identity"
    if kind != edit.key_transform:
        return False
    xw = rel.key_transform.crosswalk if rel.key_transform is not None else None
    if edit.crosswalk is None or xw is None:
        return edit.crosswalk is None and xw is None
    return edit.crosswalk.source in (xw.source, xw.source_name) and (
        edit.crosswalk.from_key,
        edit.crosswalk.to_key,
    ) == (xw.from_key, xw.to_key)


def _load(
    con: duckdb.DuckDBPyConnection, info: SourceInfo, column: str, index: int, where: str
) -> keyspace.KeyColumn:
    names = {c["name"] for c in info.columns}
    if column not in names:
        raise InputError(
            f"{info.name} has no column '{column}'",
            where=where,
            fix=f"use one of: {', '.join(sorted(names)[:12])}",
        )
    return keyspace.load_column(con, info, column, index)


EXACT = "SELECT coalesce(sum(n), 0) FROM {c} WHERE v IN (SELECT v FROM {p})"
NUMERIC = (
    "SELECT coalesce(sum(n), 0) FROM {c} WHERE num IN (SELECT num FROM {p} WHERE num IS NOT NULL)"
)


def _measure(
    con: duckdb.DuckDBPyConnection,
    parent_side: tuple[SourceInfo, str],
    child_side: tuple[SourceInfo, str],
    where: str,
    *,
    transform: str | None = None,
    crosswalk: tuple[SourceInfo, CrosswalkKeys] | None = None,
) -> Relationship:
    """One relationship a person stated, measured on the data with the transform they named
    (or the better of as written and by number); one error when its keys match nothing."""
    (parent, parent_key), (child, child_key) = parent_side, child_side
    p = _load(con, parent, parent_key, 0, f"{where}.parent_key")
    c = _load(con, child, child_key, 1, f"{where}.child_key")
    via = None
    evidence: dict[str, float | int | str] = {"edited": "yes"}
    if crosswalk is not None:
        xw, keys = crosswalk
        via = _load(con, xw, keys.from_key, 2, f"{where}.crosswalk.from_key")
        _load(con, xw, keys.to_key, 3, f"{where}.crosswalk.to_key")
        # The assembly joins the crosswalk's parent column as written (stage._parent_keys).
        if _rows(con, EXACT.format(c="k3", p="k0")) == 0:
            raise InputError(
                f"{xw.name}.{keys.to_key} holds no key of {parent.name}.{parent_key}",
                where=f"{where}.crosswalk.to_key",
                fix="name the crosswalk column that holds the parent's keys",
            )
        evidence["crosswalk_key"] = keys.to_key
    target = via.table if via is not None else "k0"
    exact = _rows(con, EXACT.format(c="k1", p=target))
    numeric = _rows(con, NUMERIC.format(c="k1", p=target))
    # A crosswalk is looked up by number, as the assembly run joins it.
    by_number = {"identity": False, "number": True, "crosswalk": True}.get(
        transform or "", numeric > exact
    )
    matched = numeric if by_number else exact
    if matched == 0:
        how = {False: "as written", True: "by number"}[by_number]
        through = f" through {crosswalk[0].name}" if crosswalk else ""
        raise InputError(
            f"{child.name}.{child_key} matches no key of {parent.name}.{parent_key}{through} "
            f"({how})",
            where=where,
            fix="check the columns and the key transform: not one child value is a parent key",
        )
    cand = Candidate(c, p, by_number, matched, 0.5, via=via, evidence=evidence)
    return finish(con, [cand])[0]


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row is not None else 0


def check_acyclic(rels: list[Relationship]) -> None:
    """Raise one InputError naming a cycle of sources, if the relationships hold one."""
    children: dict[str, set[str]] = {}
    names = {}
    for r in rels:
        children.setdefault(r.parent, set()).add(r.child)
        names[r.parent], names[r.child] = r.parent_name, r.child_name
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(children.get(node, ())):
            if state.get(nxt) == 1:
                cycle = [*path[path.index(nxt) :], nxt] if nxt in path else [node, nxt]
                raise InputError(
                    "the relationships form a cycle: " + " -> ".join(names[n] for n in cycle),
                    where="relationships",
                    fix="drop one relationship of the cycle: a parent cannot be its own child",
                )
            if state.get(nxt) is None:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for start in sorted(children):
        if start not in state:
            visit(start, [start])


def confirm_relationships(
    engine: Engine,
    settings: Settings,
    source_ids: Sequence[str],
    *,
    tenant: str,
    min_confidence: float = 0.0,
    edits: list[RelationshipEdit] | None = None,
) -> RelateResult:
    """Store the proposed relationships (at or above ``min_confidence``), or the edited set.

    Validation comes first, so a bad set writes nothing.

    Raises:
        InputError: an edited relationship whose key matches nothing, a cycle, an empty set.
    """
    infos = _sources(engine, tenant, source_ids)
    if edits:
        rels = _edited(edits, infos, settings)
    else:
        rels = [r for r in _discover(infos, settings) if r.confidence >= min_confidence]
    if not rels:
        raise InputError(
            "no relationship to confirm",
            where="relate --confirm",
            fix="lower --min-confidence, or list the relationships with --file",
        )
    check_acyclic(rels)
    payload = [r.model_dump(mode="json") for r in rels]
    sources = [i.source_id for i in infos]
    audit = AuditLog(engine, tenant=tenant)
    with audit.operation(
        NAMESPACE,
        "confirm_relationships",
        target=",".join(sources)[:256],
        payload={"sources": sources, "relationships": len(rels)},
    ) as op:
        with op.atomic() as conn:
            version = (
                conn.execute(
                    select(func.coalesce(func.max(SET.c.version), 0)).where(SET.c.tenant == tenant)
                ).scalar_one()
                + 1
            )
            conn.execute(
                insert(SET).values(
                    tenant=tenant,
                    version=version,
                    source_ids=sources,
                    relationships=payload,
                    actor=audit.actor,
                    entry_id=op.entry_id,
                    created_at=utcnow(),
                )
            )
            op.outcome = {"version": version, "relationships": len(rels)}
    return RelateResult(
        sources=sources,
        relationships=rels,
        version=version,
        status=RelationshipsStatus.CONFIRMED,
        note=None,
    )


def confirmed_relationships(
    engine: Engine, *, tenant: str, version: int | None = None
) -> RelateResult:
    """The latest (or the given) confirmed version.

    Raises:
        NotFoundError: when nothing was confirmed yet (or the version does not exist).
    """
    query = select(SET).where(SET.c.tenant == tenant)
    query = query.where(SET.c.version == version) if version else query
    with engine.connect() as conn:
        row = conn.execute(query.order_by(SET.c.version.desc()).limit(1)).mappings().first()
    if row is None:
        raise NotFoundError(
            "no confirmed relationships" + (f" version {version}" if version else ""),
            where=f"tenant {tenant}",
            fix="run `data-mash relate SOURCE_ID... --confirm` first",
        )
    rels = row["relationships"]
    rels = json.loads(rels) if isinstance(rels, str) else rels
    return RelateResult(
        sources=list(row["source_ids"]),
        relationships=[Relationship.model_validate(r) for r in rels],
        version=row["version"],
        status=RelationshipsStatus.CONFIRMED,
    )
