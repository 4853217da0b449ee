"""Fields the pipeline adds to canonical batches before routing: origin, quality, planned wave.

``source_system``
    The legacy system the source belongs to (the source registry's ``system``).
``data_quality_score``
    Per record, in [0, 1]. When the mapping run wrote a ``data_quality_score`` column it is kept
    as is. Otherwise: of the record's scalar canonical fields that hold a value, plus the
    mandatory fields (policy id, status, effective date) whether they hold one or not, the share
    that holds a *valid* value. Valid: text not blank and inside the field's closed value set
    when it has one (case-insensitive), a date between 1900-01-01 and 2100-12-31, a number that
    is not NaN. A missing mandatory field therefore lowers the score; a field the source never
    fills does not. List components (coverages, endorsements...) are not scored.
``wave``
    The policy's planned wave number, from an injected lookup (``WaveLookup``; for stored plans
    see :func:`tools.routing.canonical_input.planned_wave_lookup`); null when no plan exists.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from knowledge.canonical import fields as canonical_fields
from tools.routing.compiled import ID_FIELD

SOURCE_SYSTEM, QUALITY, WAVE = "source_system", "data_quality_score", "wave"
#: Maps a batch's policy ids to their planned wave numbers (null where none), same length.
WaveLookup = Callable[[pa.Array], pa.Array]
_EARLIEST, _LATEST = dt.date(1900, 1, 1), dt.date(2100, 12, 31)


@lru_cache(maxsize=4)
def _catalogue(version: str) -> dict[str, tuple[str, bool, tuple[str, ...] | None]]:
    """Scalar leaves outside lists: path -> (type, mandatory, allowed values lower-cased)."""
    return {
        f.path: (
            f.type,
            f.mandatory,
            tuple(v.lower() for v in f.allowed_values) if f.allowed_values else None,
        )
        for f in canonical_fields(version)
        if f.list_path is None
    }


def _valid(column: pa.Array, kind: str, allowed: tuple[str, ...] | None) -> pa.Array:
    """True where the value is present and valid (never null)."""
    t = column.type
    if pa.types.is_null(t):
        return pa.array(np.zeros(len(column), np.bool_))
    if kind == "date" and (pa.types.is_string(t) or pa.types.is_large_string(t)):
        column = pc.cast(
            pc.strptime(column, format="%Y-%m-%d", unit="s", error_is_null=True), pa.date32()
        )
    if kind == "date" and (pa.types.is_date(column.type) or pa.types.is_timestamp(column.type)):
        dates = pc.cast(column, pa.date32())
        ok = pc.and_(
            pc.greater_equal(dates, pa.scalar(_EARLIEST)), pc.less_equal(dates, pa.scalar(_LATEST))
        )
    elif pa.types.is_string(t) or pa.types.is_large_string(t):
        text = pc.utf8_trim_whitespace(column)
        ok = pc.greater(pc.utf8_length(text), 0)
        if allowed:
            ok = pc.and_(ok, pc.is_in(pc.utf8_lower(text), value_set=pa.array(allowed)))
    elif pa.types.is_floating(t):
        ok = pc.invert(pc.is_nan(column))
    else:
        ok = pc.is_valid(column)
    return pc.fill_null(ok, False)


def quality_scores(batch: pa.RecordBatch, *, canonical: str = "policy_v1") -> pa.Array:
    """The per-record data quality score of a canonical batch (see the module docstring)."""
    rows = batch.num_rows
    valid = np.zeros(rows, np.int32)
    counted = np.zeros(rows, np.int32)
    for path, (kind, mandatory, allowed) in _catalogue(canonical).items():
        index = batch.schema.get_field_index(path)
        if index < 0:
            if mandatory:
                counted += 1
            continue
        column = batch.column(index)
        present = pc.is_valid(column).to_numpy(zero_copy_only=False)
        counted += present | mandatory
        valid += _valid(column, kind, allowed).to_numpy(zero_copy_only=False)
    score = np.divide(valid, counted, out=np.ones(rows), where=counted > 0)
    return pa.array(np.round(score, 4), pa.float64())


def add_derived_fields(
    batch: pa.RecordBatch | pa.Table,
    *,
    source_system: str | None,
    wave_lookup: WaveLookup | None = None,
    canonical: str = "policy_v1",
) -> pa.RecordBatch:
    """Append ``source_system``, ``data_quality_score`` and ``wave`` where the batch lacks them.

    Columns already present are kept (a mapping run may provide its own score), so applying it
    twice changes nothing.
    """
    if isinstance(batch, pa.Table):
        batch = (
            batch.combine_chunks().to_batches()[0]
            if batch.num_rows
            else pa.RecordBatch.from_pylist([], schema=batch.schema)
        )
    names = set(batch.schema.names)
    if SOURCE_SYSTEM not in names:
        batch = batch.append_column(
            SOURCE_SYSTEM, pa.array([source_system] * batch.num_rows, pa.string())
        )
    if QUALITY not in names:
        batch = batch.append_column(QUALITY, quality_scores(batch, canonical=canonical))
    if WAVE not in names:
        if wave_lookup is None:
            waves = pa.nulls(batch.num_rows, pa.int32())
        else:
            waves = wave_lookup(batch.column(ID_FIELD).cast(pa.string()))
        batch = batch.append_column(WAVE, waves)
    return batch


def wave_lookup_from(plan: Mapping[str, int]) -> WaveLookup:
    """A lookup over an in-memory ``policy_id -> wave`` plan (tests, small plans)."""
    keys = pa.array(list(plan), pa.string())
    values = pa.array(list(plan.values()), pa.int32())

    def lookup(policy_ids: pa.Array) -> pa.Array:
        return pc.take(values, pc.index_in(policy_ids, value_set=keys))

    return lookup


def with_derived_fields(
    batches: Iterable[pa.RecordBatch | pa.Table],
    *,
    source_system: str | None,
    wave_lookup: WaveLookup | None = None,
) -> Iterator[pa.RecordBatch]:
    """Stream batches with the derived fields added (see :func:`add_derived_fields`)."""
    for item in batches:
        parts = item.to_batches() if isinstance(item, pa.Table) else [item]
        for part in parts:
            yield add_derived_fields(part, source_system=source_system, wave_lookup=wave_lookup)
