"""Relationship discovery: which child column refers to which parent key, by value containment.

For every key-shaped column (the child) and every unique key-shaped column of another source
(a possible parent), DuckDB counts the child rows whose key the parent holds, as written and by
number (:mod:`tools.assembly.keyspace`). A candidate survives when it is plausible as a foreign
key, not a coincidence of small integers:

- the child's values lie inside the parent's range (a surrogate key 1..k is not contained in
  policy numbers 1..n just because k < n), and
- the matched values spread over the parent like a sample of it (their 10/50/90% quantiles sit
  near the parent's own).

A child's parents are the set of disjoint candidates that together cover the most of its rows
(a billing file refers to the policies of four admin systems, each holding a share); the child
is related only when they cover at least :data:`MIN_COVERAGE` of it, the rest being orphans.
Two unique columns that contain each other are one 1:1 relationship; the child is the column
named as a qualified form of the other (``insured_party_id`` -> ``party_id``). A small table of
two unique keys that is the child of one parent and the parent of other children is a crosswalk:
those children relate to its parent through it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import combinations

import duckdb

from tools.assembly.contracts import CrosswalkRef, KeyShape, KeyTransform, Relationship
from tools.assembly.keyspace import KeyColumn

MIN_RATE = 0.02  # a parent holding less of the child than this is not considered
MIN_COVERAGE = 0.90  # the parents together must hold this share of the child's rows
MAX_OVERLAP = 0.01  # parents of one child hold disjoint shares of it
RANK_TOLERANCE = 0.15  # quantile-rank deviation allowed on a large sample
QUANTILES = (0.1, 0.5, 0.9)
MAX_CANDIDATES = 12
NAME_WEIGHT = 0.05
MIN_DISTINCT = 10
MIN_MATCHED = 5  # distinct matched numbers needed to judge how they spread
ORPHAN_SAMPLE = 10
CROSSWALK_MAX_COLUMNS = 4


@dataclass
class Candidate:
    """A possible child -> parent link, before the parents of each child are chosen."""

    child: KeyColumn
    parent: KeyColumn
    by_number: bool
    matched: int
    fit: float
    via: KeyColumn | None = None  # crosswalk column the child's number is matched against
    evidence: dict[str, float | int | str] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.matched / self.child.rows if self.child.rows else 0.0

    def match_sql(self) -> str:
        """A boolean SQL expression over the child's table: this parent holds the row's key."""
        target = self.via or self.parent
        if self.by_number:
            return f"(num IN (SELECT num FROM {target.table} WHERE num IS NOT NULL))"
        return f"(v IN (SELECT v FROM {target.table}))"


def scalar(con: duckdb.DuckDBPyConnection, sql: str) -> float:
    row = con.execute(sql).fetchone()
    return float(row[0]) if row is not None and row[0] is not None else 0.0


@dataclass
class NumberMatch:
    """What the number join tells about one (child, parent) pair."""

    matched: int  # child rows
    ranks: list[float]  # parent rank (0..1) of the matched numbers' 10/50/90% quantiles
    sample: int  # distinct matched numbers
    parent_max: float


def _fit(child_q90: float, match: NumberMatch) -> tuple[float, dict[str, float]] | None:
    """How well the matched numbers look like a sample of the parent's (None: implausible)."""
    if match.sample < MIN_MATCHED or child_q90 > match.parent_max * 1.1 + 10:
        return None
    # A sample's quantile ranks scatter by about sqrt(q(1-q)/k): small samples get more room.
    slack = [RANK_TOLERANCE + 3 * math.sqrt(q * (1 - q) / match.sample) for q in QUANTILES]
    excess = [abs(r - q) / t for r, q, t in zip(match.ranks, QUANTILES, slack, strict=True)]
    if max(excess) > 1.0:
        return None
    evidence = {
        f"rank_q{int(q * 100)}": round(r, 3) for q, r in zip(QUANTILES, match.ranks, strict=True)
    }
    return 1.0 - max(excess), evidence


def _numbered(key: KeyColumn) -> bool:
    return key.rows > 0 and key.numbered / key.rows >= 0.9


def _first(key: KeyColumn) -> str:
    return "first" if key.shared_numbers else "true"


def _containment(
    con: duckdb.DuckDBPyConnection, keys: list[KeyColumn], parents: list[KeyColumn]
) -> tuple[dict[tuple[str, str], int], dict[tuple[str, str], NumberMatch]]:
    """Every (child, parent) pair of two sources at once, in two joins: matched rows as
    written; matched rows by number with the parent ranks of the matched numbers.

    The joins read the distinct-value tables through views (no copy), tagged with integer
    column and source numbers so that pairs within one source are never joined, and count the
    distinct matched numbers from each table's ``first`` flag (no DISTINCT over the join)."""
    index = {k.table: i for i, k in enumerate(keys)}
    source_no = {sid: i for i, sid in enumerate(dict.fromkeys(k.source.source_id for k in keys))}
    children = [k for k in keys if k.distinct >= MIN_DISTINCT]
    if not children:
        return {}, {}

    def tagged(key: KeyColumn, columns: str) -> str:
        return (
            f"SELECT {index[key.table]} AS col, {source_no[key.source.source_id]} AS src, "
            f"{columns} FROM {key.table}"
        )

    kchild = " UNION ALL ".join(tagged(k, f"v, num, n, {_first(k)} AS first") for k in children)
    con.execute(f"CREATE OR REPLACE TEMP VIEW kchild AS {kchild}")
    kpar = " UNION ALL ".join(tagged(p, "v") for p in parents)
    exact = {
        (keys[c].table, keys[p].table): int(m)
        for c, p, m in con.execute(
            f"SELECT c.col, p.col, sum(c.n) FROM kchild c JOIN ({kpar}) p "
            f"ON c.v = p.v AND c.src <> p.src GROUP BY c.col, p.col"
        ).fetchall()
    }
    # Each parent's distinct numbers with their percent rank, one window per parent.
    kparnum = " UNION ALL ".join(
        f"SELECT {index[p.table]} AS col, {source_no[p.source.source_id]} AS src, num, "
        f"percent_rank() OVER (ORDER BY num) AS r "
        f"FROM (SELECT DISTINCT num FROM {p.table} WHERE num IS NOT NULL)"
        for p in parents
        if p.numbered
    )
    numeric: dict[tuple[str, str], NumberMatch] = {}
    if kparnum:
        qs = ", ".join(str(q) for q in QUANTILES)
        for c, p, m, q, k in con.execute(
            f"SELECT c.col, p.col, sum(c.n), quantile_cont(p.r, [{qs}]), "
            f"count(*) FILTER (WHERE c.first) FROM kchild c JOIN ({kparnum}) p "
            f"ON c.num = p.num AND c.src <> p.src GROUP BY c.col, p.col"
        ).fetchall():
            numeric[(keys[c].table, keys[p].table)] = NumberMatch(
                int(m), [float(x) for x in q], int(k), keys[p].max_number
            )
    return exact, numeric


def candidates(con: duckdb.DuckDBPyConnection, keys: list[KeyColumn]) -> list[Candidate]:
    """Every plausible child -> parent link among the key columns."""
    parents = [k for k in keys if k.unique]
    if not parents:
        return []
    exact_rows, number_rows = _containment(con, keys, parents)
    out: list[Candidate] = []
    for child in keys:
        if child.distinct < MIN_DISTINCT:
            continue  # a handful of codes (plan T20, WL1...) is not a reference
        for parent in parents:
            if parent.source.source_id == child.source.source_id:
                continue
            if (parent.surrogate or child.surrogate) and not _affinity(child, parent):
                continue  # surrogate keys (1, 2, 3...) are only trusted with a naming signal
            pair = (child.table, parent.table)
            exact = exact_rows.get(pair, 0)
            by_num = number_rows.get(pair) if _numbered(child) and _numbered(parent) else None
            numeric = by_num.matched if by_num else 0
            matched = max(exact, numeric)
            if matched < MIN_RATE * child.rows or matched < 3:
                continue
            fit: tuple[float, dict[str, float]] | None = (1.0, {})
            if by_num is not None:
                fit = _fit(child.q90, by_num)
            if fit is None:
                continue
            evidence: dict[str, float | int | str] = {"exact_rows": exact, "number_rows": numeric}
            evidence.update(fit[1])
            out.append(
                Candidate(child, parent, numeric > exact, matched, fit[0], evidence=evidence)
            )
    return out


def _overlaps(con: duckdb.DuckDBPyConnection, cands: list[Candidate]) -> dict[tuple[int, int], int]:
    pairs = list(combinations(range(len(cands)), 2))
    if not pairs:
        return {}
    child = cands[0].child
    flags = ", ".join(f"{c.match_sql()} AS m{i}" for i, c in enumerate(cands))
    sums = ", ".join(f"coalesce(sum(n) FILTER (WHERE m{i} AND m{j}), 0)" for i, j in pairs)
    row = con.execute(f"SELECT {sums} FROM (SELECT n, {flags} FROM {child.table})").fetchone()
    assert row is not None
    return {pair: int(v) for pair, v in zip(pairs, row, strict=True)}


def choose_parents(con: duckdb.DuckDBPyConnection, cands: list[Candidate]) -> list[Candidate]:
    """The disjoint set of one child's candidates covering most of it ([] below the bar)."""
    cands = sorted(cands, key=lambda c: -c.matched)[:MAX_CANDIDATES]
    child = cands[0].child
    overlap = _overlaps(con, cands)
    limit = MAX_OVERLAP * child.rows
    best: tuple[float, tuple[int, ...]] = (0.0, ())
    for size in range(1, len(cands) + 1):
        for subset in combinations(range(len(cands)), size):
            if any(overlap[p] > limit for p in combinations(subset, 2)):
                continue
            # Coverage decides; names only break near-ties (agent codes 1..400 and policy
            # numbers 1..400 cannot be told apart by their values alone).
            named = sum(_affinity(child, cands[i].parent) for i in subset) / size
            score = sum(cands[i].rate for i in subset) + NAME_WEIGHT * named - 0.001 * size
            if score > best[0]:
                best = (score, subset)
    chosen = [cands[i] for i in best[1]]
    if sum(c.rate for c in chosen) < MIN_COVERAGE:
        return []
    if child.unique and not any(_affinity(child, c.parent) for c in chosen):
        # Two entity keys that both run 1, 2, 3... contain each other by chance; a unique
        # column refers to another only when a name says so (insured_party_id -> party_id).
        return []
    return chosen


def drop_composite_ids(chosen: list[Candidate]) -> list[Candidate]:
    """When two columns of one source refer to the same parents, keep the plain reference: a
    composite id (a document number built from the policy number) or the source's own unique
    id (notes numbered 1, 2, 3... like the policies) only looks like one."""
    parents_of: dict[str, set[str]] = {}
    for c in chosen:
        parents_of.setdefault(c.child.table, set()).add(c.parent.table)
    out = []
    for c in chosen:
        twins = [
            other
            for other in chosen
            if other.child.source.source_id == c.child.source.source_id
            and other.child.table != c.child.table
            and parents_of[other.child.table] == parents_of[c.child.table]
            and not other.child.composite
        ]
        own_id = c.child.unique and any(not t.child.unique for t in twins)
        if (c.child.composite or own_id) and twins:
            continue
        out.append(c)
    return out


def _affinity(child: KeyColumn, parent: KeyColumn) -> float:
    """1.0 when the two column names share a word, else 0.0."""
    return 1.0 if set(child.tokens) & set(parent.tokens) else 0.0


def _qualifies(child: KeyColumn, parent: KeyColumn) -> bool:
    """``insured_party_id`` qualifies ``party_id``; ``LEGACY_POLICY_NO`` ``policy_number``."""
    c, p = child.tokens, parent.tokens
    return len(c) > len(p) and c[len(c) - len(p) :] == p


def drop_reverse_links(chosen: list[Candidate]) -> list[Candidate]:
    """Of two unique columns that contain each other, keep the link whose child qualifies."""
    keyed = {(c.child.table, c.parent.table): c for c in chosen}
    out = []
    for c in chosen:
        reverse = keyed.get((c.parent.table, c.child.table))
        if reverse is not None:
            if _qualifies(c.parent, c.child):
                continue  # the reverse link names the qualified child
            if not _qualifies(c.child, c.parent) and c.child.width > c.parent.width:
                continue  # no naming signal: the wider table is the entity
        out.append(c)
    return out


def compose_crosswalks(chosen: list[Candidate]) -> list[Candidate]:
    """Children of a crosswalk's second key become children of the crosswalk's parent."""
    out = list(chosen)
    for link in chosen:
        xw = link.child.source
        if link.child.width > CROSSWALK_MAX_COLUMNS or not link.child.unique or link.by_number:
            continue
        for c in chosen:
            if c.parent.source.source_id != xw.source_id or c.parent.table == link.child.table:
                continue
            if c not in out:
                continue
            out.remove(c)
            out.append(
                Candidate(
                    child=c.child,
                    parent=link.parent,
                    by_number=c.by_number,
                    matched=c.matched,
                    fit=c.fit,
                    via=c.parent,
                    evidence={**c.evidence, "crosswalk_key": link.child.column},
                )
            )
    # A crosswalk's keys are looked up, not references: drop links where one is the child.
    links = {c.via.table for c in out if c.via is not None}
    return [c for c in out if c.child.table not in links]


def _transform(c: Candidate) -> KeyTransform | None:
    if c.via is None and not c.by_number:
        return None
    child, parent = c.child.shape, c.parent.shape
    if c.via is not None:
        xw_link = c.evidence.get("crosswalk_key", "")
        return KeyTransform(
            kind="crosswalk",
            child=child,
            parent=parent,
            crosswalk=CrosswalkRef(
                source=c.via.source.source_id,
                source_name=c.via.source.name,
                from_key=c.via.column,
                to_key=str(xw_link),
            ),
            description=(
                f"{_describe(child)} the child key, find its number in "
                f"{c.via.source.name}.{c.via.column}, take {xw_link} as the parent key"
            ),
        )
    return KeyTransform(
        kind="number",
        child=child,
        parent=parent,
        description=f"{_describe(child)} the child key and {_describe(parent)[0].lower()}"
        f"{_describe(parent)[1:]} the parent key; compare the numbers",
    )


def _describe(shape: KeyShape) -> str:
    parts = []
    if shape.prefix:
        parts.append(f"strip '{shape.prefix}'")
    if shape.width:
        parts.append(f"zero padding ({shape.width})")
    if shape.suffix:
        parts.append(f"suffix '{shape.suffix}'")
    return ("Read the number of" if not parts else ", ".join(parts).capitalize() + " of").strip()


def relationships(con: duckdb.DuckDBPyConnection, keys: list[KeyColumn]) -> list[Relationship]:
    """Discover the relationships among the key columns (see the module docstring)."""
    by_child: dict[str, list[Candidate]] = {}
    for c in candidates(con, keys):
        by_child.setdefault(c.child.table, []).append(c)
    chosen = [c for cands in by_child.values() for c in choose_parents(con, cands)]
    chosen = compose_crosswalks(drop_reverse_links(drop_composite_ids(chosen)))
    out: list[Relationship] = []
    for child_table in sorted({c.child.table for c in chosen}):
        parents = [c for c in chosen if c.child.table == child_table]
        out.extend(finish(con, parents))
    return sorted(out, key=lambda r: (r.child_name, r.child_key, r.parent_name, r.parent_key))


def finish(con: duckdb.DuckDBPyConnection, parents: list[Candidate]) -> list[Relationship]:
    """The relationships of one child key to its chosen parents, with orphans and cardinality."""
    child = parents[0].child
    # One pass over the child marks the rows each parent holds (each parent's keys are hashed
    # once); the orphans, their sample and the cardinalities are read from the marks.
    flags = ", ".join(f"{c.match_sql()} AS m{i}" for i, c in enumerate(parents))
    con.execute(f"CREATE OR REPLACE TEMP TABLE kmarks AS SELECT v, n, {flags} FROM {child.table}")
    matched_any = " OR ".join(f"m{i}" for i in range(len(parents)))
    counts = ", ".join(
        f"count(*) FILTER (WHERE m{i} AND n > 1), count(*) FILTER (WHERE m{i})"
        for i in range(len(parents))
    )
    row = con.execute(
        f"SELECT coalesce(sum(n) FILTER (WHERE NOT ({matched_any})), 0), {counts} FROM kmarks"
    ).fetchone()
    assert row is not None
    orphans = int(row[0])
    sample = [
        str(r[0])
        for r in con.execute(
            f"SELECT v FROM kmarks WHERE NOT ({matched_any}) ORDER BY v LIMIT {ORPHAN_SAMPLE}"
        ).fetchall()
    ]
    coverage = sum(c.rate for c in parents)
    out = []
    for i, c in enumerate(parents):
        repeated = (int(row[1 + 2 * i]), int(row[2 + 2 * i]))
        one_to_one = repeated[1] > 0 and repeated[0] / repeated[1] < 0.05
        naming = 0.5 + 0.5 * _affinity(child, c.parent)
        confidence = 0.5 * min(1.0, coverage) + 0.3 * c.fit + 0.2 * naming
        out.append(
            Relationship(
                parent=c.parent.source.source_id,
                parent_name=c.parent.source.name,
                parent_key=c.parent.column,
                child=child.source.source_id,
                child_name=child.source.name,
                child_key=child.column,
                key_transform=_transform(c),
                match_rate=round(c.rate, 4),
                matched=c.matched,
                orphans=orphans,
                orphan_sample=sample,
                cardinality="1:1" if one_to_one else "1:n",
                confidence=round(min(1.0, confidence), 3),
                evidence={**c.evidence, "coverage": round(coverage, 4)},
            )
        )
    return out
