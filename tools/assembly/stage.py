"""Stage an assembly: map every contributing source and place its rows on the root's policies.

Each source (the root, its child sources, its lookups) is mapped batch by batch through its
frozen rules (code crosswalks applied) into candidate Parquet parts, a task per staged part on
the run's executor. DuckDB then, in the driver, spilling to disk under a fixed memory budget,

- numbers the root's policies (``!pos``) in the order of their key, keeping the first row of a
  key written twice (the later copy is the stale re-send) and reporting the others;
- joins each child's key to a root policy by the relationship's key transform (as written, by
  number, or through a crosswalk source), drops repeated child records (the same record id
  twice for one policy, or a second row of a 1:1 source), reporting them;
- joins each lookup (the insured party, the agent) to the policies that refer to it;
- writes one file per source sorted by ``!pos``, so a batch of policies is a range of positions.

Nothing here holds one Python object per row: Arrow batches in, DuckDB joins, Parquet out.
Child records with an invalid value (an unmapped code, a bad date) are flagged ``!bad`` and
reported; the assembly leaves them out of the document and counts the policy as partial.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import Engine, and_, select

from core.errors import InputError
from core.executors import Executor, LocalExecutor
from core.store.models import AssemblyRow, table_of
from tools.assembly.contracts import AssemblySpec, CodeCrosswalk, Relationship
from tools.assembly.keyspace import KEY_REGEX, parquet_files, quote, scan
from tools.canonical.build import Plan, build_candidates, compile_plan
from tools.canonical.fastcheck import check_candidates
from tools.canonical.output import write_atomically
from tools.canonical.repository import approved_mapping
from tools.canonical.rule_checks import source_schema
from tools.canonical.spec import CodeStep, FieldRule
from tools.content.sources import SourceInfo, SourceRegistry
from tools.content.staging import part_batches, staged_dataset

ID_PATH = "policy_core.policy_id"
POS = "!pos"
ROW = "!row"
BAD = "!bad"
CKEY = "!ck"  # the raw key a child/lookup joins on
DKEY = "!dk"  # a child record's own id (duplicates)
STAGE_STATE = "_stage.json"
MAP_ROWS = 20_000
Kind = Literal["root", "child", "lookup"]
StageProgress = Callable[[str], None]
ASSEMBLY = table_of(AssemblyRow)


@dataclass
class Contributor:
    """One source of an assembly and how it is staged."""

    index: int
    kind: Kind
    info: SourceInfo
    rules: list[FieldRule]
    relationship: Relationship | None
    plan: Plan | None = None
    lists: list[str] = field(default_factory=list)
    scalars: list[str] = field(default_factory=list)
    id_leaf: dict[str, str] = field(default_factory=dict)  # list path -> its id leaf

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def file(self) -> str:
        return f"s{self.index:02d}.parquet"


def raw_key(column: str) -> str:
    """The staged-candidate column holding a root source column's raw value."""
    return f"!k:{column}"


def with_crosswalks(rules: list[FieldRule], crosswalks: list[CodeCrosswalk]) -> list[FieldRule]:
    """Rules whose coded columns translate through the assembly's approved crosswalk values.

    A value the crosswalk leaves unmapped is an error of the record that holds it (named with
    its value and field), so exactly those records are quarantined."""
    by_column = {(x.column, x.field): x for x in crosswalks}
    out = []
    for rule in rules:
        xw = by_column.get((rule.source or "", rule.target))
        if xw is None:
            out.append(rule)
            continue
        values = {v.value: v.canonical for v in xw.values if v.canonical is not None}
        steps = list(rule.transform)
        at = next((i for i, s in enumerate(steps) if isinstance(s, CodeStep)), None)
        if at is None:
            steps.append(CodeStep(values=values, case_insensitive=False, on_unknown="error"))
        else:
            old = steps[at]
            assert isinstance(old, CodeStep)
            steps[at] = old.model_copy(
                update={"values": {**old.values, **values}, "on_unknown": "error"}
            )
        out.append(rule.model_copy(update={"transform": tuple(steps)}))
    return out


def _trim(array: pa.Array) -> pa.Array:
    text = array if pa.types.is_string(array.type) else pc.cast(array, pa.string())
    return pc.utf8_trim_whitespace(text)


def _id_leaves(plan: Plan) -> dict[str, str]:
    """Per list the plan fills, the leaf naming an item (``endorsement_id``...), if mapped."""
    out = {}
    for list_path, rules in plan.lists.items():
        for rule in rules:
            if rule.leaf.name.endswith("_id") and rule.rule.source is not None:
                out[list_path] = rule.leaf.name
                break
    return out


def _component_errors(
    candidates: pa.Table, contributor: Contributor, version: str
) -> tuple[np.ndarray, pa.Table]:
    """Rows of a child batch with an error in a field the child supplies; those errors."""
    verdict = check_candidates(candidates, version)
    errors = verdict.errors
    own = [*contributor.lists, *contributor.scalars]
    if errors.num_rows == 0 or not own:
        return np.zeros(candidates.num_rows, dtype=bool), errors.slice(0, 0)
    paths = errors.column("path")
    mine = pc.is_in(paths, pa.array(contributor.scalars, pa.string()))
    for lp in contributor.lists:
        mine = pc.or_(mine, pc.starts_with(paths, lp))
    picked = errors.filter(mine)
    bad = np.zeros(candidates.num_rows, dtype=bool)
    bad[picked.column("row").to_numpy()] = True
    return bad, picked


def _map_source(  # noqa: PLR0913
    contributor: Contributor,
    tmp: Path,
    version: str,
    raw: list[str],
    keep: np.ndarray | None = None,
    executor: Executor | None = None,
    errors: ErrorSink | None = None,
) -> Path:
    """Map a source's rows (only the sorted row numbers ``keep``, when given) into candidate
    parts under ``tmp/<index>/``, a task per staged part on ``executor``; its child records'
    errors go to ``errors`` as each part's task returns them."""
    info = contributor.info
    schema = source_schema(info)
    plan = compile_plan(contributor.rules, version, schema)
    contributor.plan = plan
    contributor.id_leaf = _id_leaves(plan)
    folder = tmp / f"m{contributor.index:02d}"
    folder.mkdir(parents=True, exist_ok=True)
    columns = list(dict.fromkeys([*plan.columns, *raw])) or [schema.names[0]]
    staged = sorted(info.records_path.glob("part-*.parquet"))
    if not staged:
        return folder
    unified = staged_dataset(info.records_path).schema
    target = pa.schema([unified.field(name) for name in columns])
    items: list[tuple[int, Path, int, np.ndarray | None]] = []
    start = 0
    for k, part in enumerate(staged):
        rows = pq.ParquetFile(part).metadata.num_rows
        kept = None
        if keep is not None:
            lo, hi = np.searchsorted(keep, [start, start + rows])
            kept = keep[lo:hi]
        items.append((k, part, start, kept))
        start += rows
    task = MapStagedPart(contributor, version, raw, target, folder)
    for out in (executor or LocalExecutor()).map(task, items):
        if errors is not None:
            errors.add(out)
    return folder


class ErrorSink:
    """The staging's child errors, written to one Parquet file as the tasks return them (a
    source whose every record holds an unmapped code has as many errors as records)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer: pq.ParquetWriter | None = None

    def add(self, tables: list[pa.Table]) -> None:
        for table in tables:
            if self._writer is None:
                self._writer = pq.ParquetWriter(self.path, table.schema)
            self._writer.write_table(table)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


class MapStagedPart:
    """The executor task of staging: map one staged part of a source (its rows in ``keep``)
    into candidate parts ``part-<part>-<batch>.parquet``, replaced whole, so a retried task
    leaves one copy; returns the child records' errors (small Arrow tables)."""

    def __init__(  # noqa: PLR0913
        self,
        contributor: Contributor,
        version: str,
        raw: list[str],
        schema: pa.Schema,
        folder: Path,
    ) -> None:
        self.contributor, self.version, self.raw = contributor, version, raw
        self.schema, self.folder = schema, folder

    def __call__(self, item: tuple[int, Path, int, np.ndarray | None]) -> list[pa.Table]:
        errors = self._map(item)
        # Arrow's allocator keeps freed pages for reuse, and over many parts they pile up in
        # the process's peak: each part returns them.
        pa.default_memory_pool().release_unused()
        return errors

    def _map(self, item: tuple[int, Path, int, np.ndarray | None]) -> list[pa.Table]:
        k, part, offset, keep = item
        errors: list[pa.Table] = []
        for j, batch in enumerate(part_batches(part, self.schema, batch_rows=MAP_ROWS)):
            start = offset
            offset += batch.num_rows
            candidates, errs = self._candidates(batch, start, keep)
            errors.extend(errs)
            write_atomically(candidates, self.folder / f"part-{k:05d}-{j:05d}.parquet")
        return errors

    def _candidates(
        self, batch: pa.RecordBatch, start: int, keep: np.ndarray | None
    ) -> tuple[pa.Table, list[pa.Table]]:
        contributor, raw = self.contributor, self.raw
        assert contributor.plan is not None
        rows = None
        if keep is not None:
            lo, hi = np.searchsorted(keep, [start, start + batch.num_rows])
            rows = keep[lo:hi]
            batch = batch.take(pa.array(rows - start))
        candidates = build_candidates(batch, contributor.plan, start)
        if rows is not None:
            at = candidates.column_names.index(ROW)
            candidates = candidates.set_column(at, ROW, pa.array(rows, pa.int64()))
        if contributor.kind == "root":
            for col in raw:
                candidates = candidates.append_column(raw_key(col), _trim(batch.column(col)))
            return candidates, []
        candidates = candidates.append_column(CKEY, _trim(batch.column(raw[0])))
        if contributor.kind != "child":
            return candidates, []
        bad, errs = _component_errors(candidates, contributor, self.version)
        candidates = candidates.append_column(BAD, pa.array(bad))
        errors = []
        if errs.num_rows:
            rows_at = candidates.column(ROW).take(errs.column("row"))
            keys = candidates.column(CKEY).take(errs.column("row"))
            errors.append(
                pa.table(
                    {
                        "source": pa.array([contributor.info.name] * errs.num_rows, pa.string()),
                        "row": rows_at,
                        "key": keys,
                        "path": errs.column("path"),
                        "message": errs.column("message"),
                        "kind": errs.column("kind"),
                    }
                )
            )
        candidates = candidates.append_column(DKEY, _dedup_key(candidates, contributor))
        return candidates, errors


def _dedup_key(candidates: pa.Table, contributor: Contributor) -> pa.Array:
    """A child record's identity within its policy: its first item's id, or '' for a 1:1
    source without ids (a second row for the policy is a duplicate), else null (never one)."""
    n = candidates.num_rows
    for list_path, leaf in contributor.id_leaf.items():
        lists = candidates.column(list_path).combine_chunks()
        first = pc.list_element(
            pc.if_else(pc.greater(pc.list_value_length(lists), 0), lists, None), 0
        )
        return pc.struct_field(first, [first.type.get_field_index(leaf)]).cast(pa.string())
    rel = contributor.relationship
    if rel is not None and rel.cardinality == "1:1":
        return pa.array([""] * n, pa.string())
    return pa.nulls(n, pa.string())


def _parts(folder: Path) -> str:
    files = ", ".join(f"'{p}'" for p in sorted(folder.glob("part-*.parquet")))
    return f"read_parquet([{files}])"


def _num(expr: str) -> str:
    return f"TRY_CAST(regexp_extract({expr}, '{KEY_REGEX}', 3) AS BIGINT)"


def _match(rel: Relationship, child: str, parent: str) -> str:
    """SQL joining child key table ``child`` (v, num) to parent key table ``parent`` (v, num)."""
    kind = rel.key_transform.kind if rel.key_transform else None
    if kind == "number":
        return f"{child}.num = {parent}.num"
    return f"{child}.v = {parent}.v"


def build_stage(
    con: duckdb.DuckDBPyConnection,
    spec: AssemblySpec,
    contributors: list[Contributor],
    sources: dict[str, SourceInfo],
    folder: Path,
    *,
    batch_policies: int,
    version: str,
    progress: StageProgress | None = None,
    executor: Executor | None = None,
) -> dict[str, object]:
    """Build ``folder`` (atomically: a temporary folder renamed into place); every source's
    staged parts are mapped on ``executor`` (default: here), the joins run here in DuckDB."""
    root = contributors[0]
    tmp = folder.parent / f".stage-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    try:
        root_id = next((r.source for r in root.rules if r.target == ID_PATH), None)
        if root_id is None:
            raise InputError(
                f"the root {root.name} maps no column to {ID_PATH}",
                where=f"mapping {spec.root_mapping_id}",
                fix="map its policy key to policy_core.policy_id",
            )
        raw_root = [root_id]
        for c in contributors[1:]:
            assert c.relationship is not None
            col = c.relationship.parent_key if c.kind == "child" else c.relationship.child_key
            raw_root.append(col)
        raw_root = list(dict.fromkeys(raw_root))
        errors = ErrorSink(tmp / "child_quarantine.parquet")
        mapped: dict[int, Path] = {}
        unplaced: dict[str, int] = {}
        for c in contributors:
            if progress:
                progress(f"mapping {c.name}")
            assert c.relationship is not None or c.kind == "root"
            raw = raw_root
            if c.kind == "child":
                assert c.relationship is not None
                raw = [c.relationship.child_key]
            elif c.kind == "lookup":
                assert c.relationship is not None
                raw = [c.relationship.parent_key]
            keep = None
            if c.kind == "child":
                keep, unplaced[c.name] = _placed_rows(con, c, sources)
            mapped[c.index] = _map_source(c, tmp, version, raw, keep, executor, errors)
            if c.kind == "root":
                # The root's policies first: a child is mapped only for rows that reach them
                # (a billing file shared by four policy systems is not mapped four times over).
                _root_keys(con, c, mapped[c.index], raw_root, root_id)
        if progress:
            progress("joining sources to policies")
        errors.close()
        summary = _join(con, contributors, mapped, sources, tmp, unplaced)
        for path in mapped.values():
            shutil.rmtree(path)
        summary["batch_policies"] = batch_policies
        summary["contributors"] = [
            {
                "index": c.index,
                "kind": c.kind,
                "name": c.name,
                "source": c.info.source_id,
                "lists": c.lists,
                "scalars": c.scalars,
            }
            for c in contributors
        ]
        (tmp / STAGE_STATE).write_text(json.dumps(summary))
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return summary


def _root_keys(
    con: duckdb.DuckDBPyConnection,
    root: Contributor,
    mapped: Path,
    raw_root: list[str],
    root_id: str,
) -> None:
    """Tables ``rk`` (the root's policies with their position ``pos``, one per key) and
    ``dups`` (the later rows of a key written twice)."""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE r0 AS SELECT {quote(ROW)} AS row, "
        + ", ".join(f"nullif({quote(raw_key(c))}, '') AS {quote(c)}" for c in raw_root)
        + f" FROM {_parts(mapped)}"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE rdup AS SELECT row, "
        f"{quote(root_id)} AS key, min(row) OVER (PARTITION BY {quote(root_id)}) AS kept, "
        f"row_number() OVER (PARTITION BY {quote(root_id)} ORDER BY row) AS rn "
        f"FROM r0 WHERE {quote(root_id)} IS NOT NULL"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE rk AS SELECT r0.*, "
        f"(row_number() OVER (ORDER BY {quote(root_id)} NULLS LAST, row) - 1) AS pos "
        "FROM r0 LEFT JOIN rdup USING (row) WHERE rdup.rn IS NULL OR rdup.rn = 1"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE dups AS SELECT '"
        + root.name.replace("'", "''")
        + "' AS source, d.key, d.kept, d.row, k.pos FROM rdup d JOIN rk k ON k.row = d.kept "
        "WHERE d.rn > 1"
    )


def _parent_keys(
    con: duckdb.DuckDBPyConnection, rel: Relationship, sources: dict[str, SourceInfo]
) -> str:
    """Tables of the root's keys a child refers to (``pk_*``: pos, v, num) and, for a
    crosswalk, its pairs (``xw_*``: num, v), each built once per staging (every child of one
    parent key, and both the placing and the joining pass, share them); returns the join from
    a child key table ``ck`` (v, num) to the parent's keys, aliased ``pk``."""
    pcol = quote(rel.parent_key)
    pk = _once(
        con,
        "pk",
        rel.parent_key,
        f"SELECT pos, {pcol} AS v, {_num(pcol)} AS num FROM rk WHERE {pcol} IS NOT NULL",
    )
    xw = rel.key_transform.crosswalk if rel.key_transform else None
    if xw is None:
        return f"JOIN {pk} pk ON {_match(rel, 'ck', 'pk')}"
    pairs = _once(
        con,
        "xw",
        f"{xw.source}\x1f{xw.from_key}\x1f{xw.to_key}",
        "SELECT DISTINCT "
        f"{_num(f'trim(CAST({quote(xw.from_key)} AS VARCHAR))')} AS num, "
        f"trim(CAST({quote(xw.to_key)} AS VARCHAR)) AS v FROM {scan(sources[xw.source])}",
    )
    return f"JOIN {pairs} xw ON ck.num = xw.num JOIN {pk} pk ON xw.v = pk.v"


def _once(con: duckdb.DuckDBPyConnection, prefix: str, key: str, query: str) -> str:
    """A temp table of ``query`` named after ``key``, created on first use; its name."""
    name = f"{prefix}_{hashlib.sha1(key.encode()).hexdigest()[:12]}"
    found = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = ?", [name]
    ).fetchone()
    if not found or not found[0]:
        con.execute(f"CREATE TEMP TABLE {name} AS {query}")
    return name


def _placed_rows(
    con: duckdb.DuckDBPyConnection, child: Contributor, sources: dict[str, SourceInfo]
) -> tuple[np.ndarray, int]:
    """The row numbers of a child whose key names a policy of the root (sorted), read from
    its raw staged keys; and how many keyed rows name none (unplaced)."""
    rel = child.relationship
    assert rel is not None
    files = parquet_files(child.info)
    starts, at = [], 0
    for f in files:
        starts.append(f"WHEN '{f}' THEN {at}")
        at += pq.ParquetFile(f).metadata.num_rows
    row = f"(CASE filename {' '.join(starts)} END + file_row_number)" if files else "0"
    names = ", ".join(f"'{f}'" for f in files)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE ck AS SELECT row, v, {_num('v')} AS num FROM ("
        f"SELECT {row} AS row, nullif(trim(CAST({quote(rel.child_key)} AS VARCHAR)), '') AS v "
        f"FROM read_parquet([{names}], filename = true, file_row_number = true, "
        "union_by_name = true)) WHERE v IS NOT NULL"
    )
    join = _parent_keys(con, rel, sources)
    # Each placed row's policy is kept (``cp_NN``): the joining pass reuses it instead of
    # reading and matching the child's keys a second time.
    table = _placed_table(child)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT ck.row, min(pk.pos) AS pos "
        f"FROM ck {join} GROUP BY ck.row"
    )
    placed = con.execute(f"SELECT row FROM {table} ORDER BY 1").fetchnumpy()["row"]
    keyed = int(con.execute("SELECT count(*) FROM ck").fetchone()[0])  # type: ignore[index]
    return np.asarray(placed, dtype=np.int64), keyed - len(placed)


def _placed_table(child: Contributor) -> str:
    return f"cp_{child.index:02d}"


def _join(
    con: duckdb.DuckDBPyConnection,
    contributors: list[Contributor],
    mapped: dict[int, Path],
    sources: dict[str, SourceInfo],
    out: Path,
    unplaced: dict[str, int],
) -> dict[str, object]:
    root = contributors[0]
    policies = int(con.execute("SELECT count(*) FROM rk").fetchone()[0])  # type: ignore[index]
    con.execute(
        f"COPY (SELECT t.*, k.pos AS {quote(POS)} FROM {_parts(mapped[root.index])} t "
        f"JOIN rk k ON t.{quote(ROW)} = k.row ORDER BY k.pos) "
        f"TO '{out / root.file}' (FORMAT parquet, ROW_GROUP_SIZE 20000)"
    )
    for c in contributors[1:]:
        rel = c.relationship
        assert rel is not None
        parts = _parts(mapped[c.index])
        name = c.name.replace("'", "''")
        if c.kind == "child":
            # The mapped rows are exactly the placed ones; their policy comes from placing.
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE cm AS SELECT m.row, m.v, m.dk, p.pos FROM ("
                f"SELECT {quote(ROW)} AS row, nullif({quote(CKEY)}, '') AS v, "
                f"{quote(DKEY)} AS dk FROM {parts}) m JOIN {_placed_table(c)} p USING (row) "
                "WHERE m.v IS NOT NULL"
            )
            con.execute(
                "CREATE OR REPLACE TEMP TABLE cd AS SELECT *, CASE WHEN dk IS NULL THEN 1 ELSE "
                "row_number() OVER (PARTITION BY pos, dk ORDER BY row) END AS rn, "
                "min(row) OVER (PARTITION BY pos, dk) AS kept FROM cm"
            )
            con.execute(f"INSERT INTO dups SELECT '{name}', v, kept, row, pos FROM cd WHERE rn > 1")
            con.execute(
                f"COPY (SELECT t.*, k.pos AS {quote(POS)} FROM {parts} t JOIN cd k "
                f"ON t.{quote(ROW)} = k.row WHERE k.rn = 1 ORDER BY k.pos, t.{quote(ROW)}) "
                f"TO '{out / c.file}' (FORMAT parquet, ROW_GROUP_SIZE 20000)"
            )
        else:
            ccol = quote(rel.child_key)
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE rl AS SELECT pos, {ccol} AS v, "
                f"{_num(ccol)} AS num FROM rk WHERE {ccol} IS NOT NULL"
            )
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE lk AS SELECT row, v, num FROM ("
                f"SELECT {quote(ROW)} AS row, nullif({quote(CKEY)}, '') AS v, "
                f"{_num(quote(CKEY))} AS num, row_number() OVER (PARTITION BY "
                f"nullif({quote(CKEY)}, '') ORDER BY {quote(ROW)}) AS rn FROM {parts}) "
                "WHERE rn = 1 AND v IS NOT NULL"
            )
            # numbers can repeat across keys written differently: keep the first row per number
            match = _match(rel, "rl", "lk")
            con.execute(
                "CREATE OR REPLACE TEMP TABLE lm AS SELECT rl.pos, min(lk.row) AS row "
                f"FROM rl JOIN lk ON {match} GROUP BY rl.pos"
            )
            con.execute(
                f"COPY (SELECT t.*, k.pos AS {quote(POS)} FROM {parts} t JOIN lm k "
                f"ON t.{quote(ROW)} = k.row ORDER BY k.pos) "
                f"TO '{out / c.file}' (FORMAT parquet, ROW_GROUP_SIZE 20000)"
            )
    con.execute(
        "COPY (SELECT * FROM dups ORDER BY source, pos, row) "
        f"TO '{out / 'duplicates.parquet'}' (FORMAT parquet)"
    )
    duplicates = int(
        con.execute(f"SELECT count(*) FROM '{out / 'duplicates.parquet'}'").fetchone()[0]  # type: ignore[index]
    )
    return {"policies": policies, "duplicates": duplicates, "unplaced": unplaced}


def _frozen_rules(engine: Engine, tenant: str, assembly_id: str) -> dict[str, list[FieldRule]]:
    with engine.connect() as conn:
        row = conn.execute(
            select(ASSEMBLY.c.component_rules).where(
                and_(ASSEMBLY.c.tenant == tenant, ASSEMBLY.c.assembly_id == assembly_id)
            )
        ).scalar_one()
    data = json.loads(row) if isinstance(row, str) else row
    return {k: [FieldRule.model_validate(r) for r in v] for k, v in (data or {}).items()}


def _targets(rules: list[FieldRule]) -> tuple[list[str], list[str]]:
    lists, scalars = [], []
    for r in rules:
        if r.target == ID_PATH:
            continue
        if "[]" in r.target:
            lists.append(r.target.split("[]", 1)[0])
        else:
            scalars.append(r.target)
    return list(dict.fromkeys(lists)), list(dict.fromkeys(scalars))


def contributors(engine: Engine, tenant: str, spec: AssemblySpec) -> list[Contributor]:
    """The root and every component of an approved assembly, with the rules they run with."""
    registry = SourceRegistry(engine, tenant=tenant)
    root_info = registry.get(spec.root)
    root_mapping = approved_mapping(engine, spec.root_mapping_id, tenant=tenant)
    frozen = _frozen_rules(engine, tenant, spec.assembly_id)
    root_rules = with_crosswalks(
        root_mapping.fields, [x for x in spec.crosswalks if x.source == spec.root]
    )
    lists, scalars = _targets(root_rules)
    out = [
        Contributor(
            0, "root", root_info, root_rules, None, lists=lists, scalars=[ID_PATH, *scalars]
        )
    ]
    for i, comp in enumerate(spec.components, start=1):
        rules = [r for r in frozen.get(comp.source, []) if r.target != ID_PATH]
        rules = with_crosswalks(rules, [x for x in spec.crosswalks if x.source == comp.source])
        lists, scalars = _targets(rules)
        kind = "child" if comp.direction == "child" else "lookup"
        out.append(
            Contributor(
                i,
                kind,  # type: ignore[arg-type]
                registry.get(comp.source),
                rules,
                comp.relationship,
                lists=lists,
                scalars=scalars,
            )
        )
    return out
