"""Key columns of staged sources as distinct-value tables in DuckDB, and how their keys read.

A key value ``KX-004512`` reads as prefix ``KX``, separator ``-``, digits ``004512``; its
*number* is 4512. Discovery compares keys either as written (identity) or by number, so a
prefix, separator, zero padding, case or a ``-NN`` term suffix does not hide a relationship.

Each candidate column becomes one DuckDB table of its distinct values (``v``), their number
(``num``, null when the value is not key-shaped) and row counts (``n``): DuckDB holds and spills
them, never Python sets, so memory stays bounded at any estate size.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds

from tools.assembly.contracts import KeyShape
from tools.content.sources import SourceInfo

# prefix letters, optional separator, digits, optional '-NN' term suffix
KEY_REGEX = r"^([A-Za-z]{0,4})([-_ ]?)([0-9]{1,18})(-[0-9]{2})?$"
_KEY = re.compile(KEY_REGEX)
SAMPLE_ROWS = 5000
MIN_KEYLIKE = 0.95  # share of a sample's values that must be key-shaped
MIN_UNIQUE = 0.95  # distinct / rows for a column to be a parent key
# Columns named like measures (or addresses and phone numbers) are never keys, whatever
# their digits look like.
MEASURE_WORDS = {
    "amt",
    "amount",
    "premium",
    "prem",
    "cents",
    "date",
    "dt",
    "ts",
    "cnt",
    "count",
    "limit",
    "lmt",
    "ded",
    "deductible",
    "bal",
    "balance",
    "pct",
    "rate",
    "face",
    "faceamt",
    "at",
    # Address and contact values are digits too, and a 5-digit postal code lies inside any
    # policy-number range of 100,000 or more: an insured's postal code is no reference.
    "postal",
    "postcode",
    "zip",
    "zipcode",
    "phone",
    "tel",
    "telephone",
    "fax",
    "mobile",
}
_ABBREVIATIONS = {
    "no": "number",
    "nbr": "number",
    "num": "number",
    "nr": "number",
    "pol": "policy",
    "agt": "agent",
}


def name_tokens(name: str) -> list[str]:
    """Lower-case words of a column name (``INSD_ADDR.CITY_NM``, ``policyRef``, ``Policy No``),
    common abbreviations spelled out (``no``/``nbr``/``num`` -> ``number``)."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name.rsplit(".", maxsplit=1)[-1])
    words = [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]
    return [_ABBREVIATIONS.get(w, w) for w in words]


@dataclass
class KeyColumn:
    """One staged column loaded as a distinct-value table."""

    source: SourceInfo
    column: str
    table: str
    rows: int  # non-null rows
    distinct: int
    numbered: int  # rows whose value has a number
    numbers: int  # distinct numbers (fewer than distinct values: values embed a sequence)
    span: int  # max - min + 1 of the numbers (0 without numbers)
    shape: KeyShape
    tokens: list[str] = field(default_factory=list)
    width: int = 0  # columns of the source
    max_number: float = 0.0  # largest number (0 without numbers)
    q90: float = 0.0  # 90% quantile of the distinct values' numbers (0 without numbers)
    # Whether the table has a ``first`` column: true on one value of each number. Only
    # columns whose values share numbers have one; elsewhere every value is the first.
    shared_numbers: bool = False

    @property
    def unique(self) -> bool:
        return self.rows > 0 and self.distinct / self.rows >= MIN_UNIQUE

    @property
    def composite(self) -> bool:
        """Distinct values that share a number: an id built from a parent number and a
        sequence (``D000004512-02``), not a reference to the parent."""
        return self.numbers > 0 and self.distinct > 1.05 * self.numbers

    @property
    def surrogate(self) -> bool:
        """Bare integers running densely from a start (an autoincrement key): every column of
        small numbers falls inside them, so containment alone says nothing."""
        bare = not self.shape.prefix and self.shape.width is None and not self.shape.suffix
        return bare and self.span > 0 and self.numbers >= 0.9 * self.span

    @property
    def label(self) -> str:
        return f"{self.source.name}.{self.column}"


def connect(temp_dir: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that spills to ``temp_dir`` beyond a fixed memory budget."""
    temp_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(":memory:")
    con.execute("SET memory_limit = '512MB'")
    con.execute("SET threads = 2")
    con.execute(f"SET temp_directory = '{_sql_text(str(temp_dir))}'")
    con.execute("SET preserve_insertion_order = false")
    return con


def parquet_files(info: SourceInfo) -> list[str]:
    """The staged Parquet parts of a source, in order."""
    return sorted(str(p) for p in Path(info.records_path).glob("part-*.parquet"))


def _sql_text(text: str) -> str:
    return text.replace("'", "''")


def quote(name: str) -> str:
    """A column name as a DuckDB identifier."""
    return '"' + name.replace('"', '""') + '"'


def scan(info: SourceInfo) -> str:
    """The FROM clause reading every part of a staged source."""
    files = ", ".join(f"'{_sql_text(f)}'" for f in parquet_files(info))
    return f"read_parquet([{files}], union_by_name = true)"


def _candidate_columns(info: SourceInfo) -> list[str]:
    files = parquet_files(info)
    if not files:
        return []
    schema = ds.dataset(files, format="parquet").schema
    out = []
    for f in schema:
        if not (pa.types.is_string(f.type) or pa.types.is_large_string(f.type)):
            if not pa.types.is_integer(f.type):
                continue
        if set(name_tokens(f.name)) & MEASURE_WORDS:
            continue
        out.append(f.name)
    return out


def load_key_columns(con: duckdb.DuckDBPyConnection, sources: list[SourceInfo]) -> list[KeyColumn]:
    """Stage every key-shaped column of ``sources`` as a distinct-value table.

    A column is key-shaped when at least 95% of a sample of its values read as a key; the
    sample keeps the full load to the few columns that can be keys.
    """
    out: list[KeyColumn] = []
    for info in sources:
        columns = _candidate_columns(info)
        if not columns:
            continue
        checks = ", ".join(
            f"avg(CASE WHEN regexp_full_match(trim(CAST({quote(c)} AS VARCHAR)), '{KEY_REGEX}') "
            f"THEN 1.0 ELSE 0.0 END) FILTER (WHERE {quote(c)} IS NOT NULL)"
            for c in columns
        )
        shares = con.execute(
            f"SELECT {checks} FROM (SELECT * FROM {scan(info)} LIMIT {SAMPLE_ROWS})"
        ).fetchone()
        assert shares is not None
        for column, share in zip(columns, shares, strict=True):
            if share is None or share < MIN_KEYLIKE:
                continue
            out.append(load_column(con, info, column, len(out)))
    return [k for k in out if k.rows > 0 and k.distinct > 1]


def load_column(
    con: duckdb.DuckDBPyConnection, info: SourceInfo, column: str, index: int
) -> KeyColumn:
    """Load one column as distinct-value table ``k<index>`` (``v``, ``num``, ``n``)."""
    table = f"k{index}"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {table} AS "
        f"SELECT v, TRY_CAST(regexp_extract(v, '{KEY_REGEX}', 3) AS BIGINT) AS num, count(*) AS n "
        f"FROM (SELECT trim(CAST({quote(column)} AS VARCHAR)) AS v FROM {scan(info)}) "
        f"WHERE v IS NOT NULL AND v <> '' GROUP BY v"
    )
    stats = con.execute(
        f"SELECT coalesce(sum(n), 0), count(*), "
        f"coalesce(sum(n) FILTER (WHERE num IS NOT NULL), 0), count(DISTINCT num), "
        f"coalesce(max(num) - min(num) + 1, 0), coalesce(max(num), 0), "
        f"coalesce(quantile_cont(num, 0.9), 0), count(num) FROM {table}"
    ).fetchone()
    assert stats is not None
    sample = [r[0] for r in con.execute(f"SELECT v FROM {table} USING SAMPLE 200 ROWS").fetchall()]
    shared = int(stats[3]) < int(stats[7])
    if shared:
        # Counting the distinct numbers a join matched then needs no DISTINCT over the join.
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT v, num, n, "
            f"num IS NOT NULL AND row_number() OVER (PARTITION BY num ORDER BY v) = 1 AS first "
            f"FROM {table}"
        )
    return KeyColumn(
        source=info,
        column=column,
        table=table,
        rows=int(stats[0]),
        distinct=int(stats[1]),
        numbered=int(stats[2]),
        numbers=int(stats[3]),
        span=int(stats[4]),
        shape=key_shape(sample),
        tokens=name_tokens(column),
        width=len(info.columns),
        max_number=float(stats[5]),
        q90=float(stats[6]),
        shared_numbers=shared,
    )


def key_shape(values: list[str]) -> KeyShape:
    """How a sample of keys is written: the commonest prefix and suffix, padding and case."""
    parsed = [m for m in (_KEY.match(v) for v in values) if m is not None]
    if not parsed:
        return KeyShape(prefix="", width=None, suffix="", case="none")
    prefix = Counter(m[1] + m[2] for m in parsed).most_common(1)[0][0]
    suffix = Counter(m[4] or "" for m in parsed).most_common(1)[0][0]
    padded = any(m[3].startswith("0") for m in parsed)
    width = Counter(len(m[3]) for m in parsed).most_common(1)[0][0] if padded else None
    letters = "".join(ch for ch in prefix if ch.isalpha())
    case: Any = "none" if not letters else ("upper" if letters.isupper() else "lower")
    return KeyShape(prefix=prefix, width=width, suffix=suffix, case=case)
