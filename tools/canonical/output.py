"""Where mapped records live: canonical Parquet parts and the quarantine, written atomically.

`<home>/canonical/<tenant>/<mapping_id>/v<version>/part-NNNNN.parquet` hold valid records in the
canonical Arrow schema (`knowledge.canonical.arrow_schema`); `quarantine/part-NNNNN.parquet`
hold invalid ones with every field error. Part numbers are batch numbers, so a re-run of a batch
replaces its part instead of adding a second one.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from core.errors import InputError
from core.ids import tenant_path
from core.settings import Settings
from knowledge.canonical import arrow_schema, arrow_to_records
from tools.canonical.fastcheck import Verdict

QUARANTINE_SCHEMA = pa.schema(
    [
        ("row", pa.int64()),
        ("policy_id", pa.string()),
        (
            "errors",
            pa.list_(
                pa.struct(
                    [
                        ("path", pa.string()),
                        ("field", pa.string()),
                        ("message", pa.string()),
                        ("kind", pa.string()),
                    ]
                )
            ),
        ),
        ("source_record", pa.string()),
    ]
)


def output_dir(settings: Settings, tenant: str, mapping_id: str, version: int) -> Path:
    """Folder of one mapping version's canonical records."""
    return tenant_path(settings.path("canonical"), tenant, mapping_id, f"v{version}")


#: A mapping run's state beside its parts: batch size, and whether every batch is written.
RUN_STATE = "_run.json"


def run_state(folder: Path) -> dict[str, Any]:
    """The state a mapping run left in ``folder`` ({} when no run wrote there)."""
    try:
        return dict(json.loads((folder / RUN_STATE).read_text()))
    except FileNotFoundError:
        return {}
    except (ValueError, TypeError):
        return {"complete": False}  # torn or edited: trust nothing in the folder


def write_run_state(folder: Path, *, batch_rows: int, complete: bool) -> None:
    """Record a run's batch size and whether it finished (atomically: a kill never tears it)."""
    temp = folder / f".{RUN_STATE}.{uuid.uuid4().hex[:8]}.tmp"
    temp.write_text(json.dumps({"batch_rows": batch_rows, "complete": complete}))
    os.replace(temp, folder / RUN_STATE)


def require_complete_run(folder: Path, mapping_id: str, version: int) -> None:
    """Refuse the output of a mapping run that did not finish (killed, failed or still running).

    Its parts hold only the batches written so far: routing, exporting or planning from them
    would silently leave the other policies out.
    """
    state = run_state(folder)
    if state and state.get("complete") is not True:
        raise InputError(
            f"the mapping run of '{mapping_id}' v{version} is incomplete (it stopped part-way, "
            "or is still running); its canonical records cannot be used yet",
            where=str(folder),
            fix=f"resume it with: data-mash mapping run {mapping_id} (or map_to_canonical)",
        )


def part_name(batch_no: int) -> str:
    return f"part-{batch_no:05d}.parquet"


def write_atomically(table: pa.Table, path: Path) -> None:
    """Write a Parquet file under a temporary name and rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        pq.write_table(table, temp, compression="zstd")
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def _offsets(lists: pa.Array) -> pa.Array:
    lengths = pc.list_value_length(lists).fill_null(0).to_numpy(zero_copy_only=False)
    return pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))


def to_canonical(candidates: pa.Table, version: str) -> pa.Table:
    """Valid candidates in the canonical Arrow schema (helper columns dropped, types narrowed)."""
    schema = arrow_schema(version)
    n = candidates.num_rows
    columns = []
    for target in schema:
        if not pa.types.is_list(target.type):
            if target.name in candidates.column_names:
                columns.append(candidates.column(target.name).combine_chunks().cast(target.type))
            else:
                columns.append(pa.nulls(n, target.type))
            continue
        item_type = target.type.value_type
        if target.name not in candidates.column_names:
            columns.append(
                pa.ListArray.from_arrays(
                    pa.array(np.zeros(n + 1, np.int32)), pa.array([], item_type)
                )
            )
            continue
        lists = candidates.column(target.name).combine_chunks()
        items = pc.list_flatten(lists)
        fields = []
        for member in item_type:
            index = items.type.get_field_index(member.name)
            fields.append(
                pc.struct_field(items, [index]).cast(member.type)
                if index >= 0
                else pa.nulls(len(items), member.type)
            )
        struct = pa.StructArray.from_arrays(fields, fields=list(item_type))
        columns.append(pa.ListArray.from_arrays(_offsets(lists), struct, type=target.type))
    return pa.Table.from_arrays(columns, schema=schema)


def quarantine_table(batch: pa.RecordBatch, candidates: pa.Table, verdict: Verdict) -> pa.Table:
    """Invalid records of a batch: source row index, policy id, all errors, the source record."""
    invalid = np.flatnonzero(~verdict.valid)
    errors = verdict.errors
    row_positions = errors.column("row").to_numpy()
    starts = np.searchsorted(row_positions, invalid, side="left")
    ends = np.searchsorted(row_positions, invalid, side="right")
    offsets = pa.array(np.concatenate([[0], np.cumsum(ends - starts)]).astype(np.int32))
    order = (
        np.concatenate([np.arange(s, e) for s, e in zip(starts, ends, strict=True)])
        if len(invalid)
        else np.zeros(0, dtype=np.int64)
    )
    picked = errors.take(pa.array(order, pa.int64()))
    struct = pa.StructArray.from_arrays(
        [picked.column(c).combine_chunks() for c in ("path", "field", "message", "kind")],
        fields=list(QUARANTINE_SCHEMA.field("errors").type.value_type),
    )
    take = pa.array(invalid, pa.int64())
    ids = (
        candidates.column("policy_core.policy_id").take(take).combine_chunks()
        if "policy_core.policy_id" in candidates.column_names
        else pa.nulls(len(invalid), pa.string())
    )
    records = [json.dumps(r, default=str) for r in batch.take(take).to_pylist()]
    return pa.Table.from_arrays(
        [
            candidates.column("!row").take(take).combine_chunks(),
            ids,
            pa.ListArray.from_arrays(offsets, struct),
            pa.array(records, pa.string()),
        ],
        schema=QUARANTINE_SCHEMA,
    )


def canonical_parts(folder: Path) -> list[Path]:
    return sorted(folder.glob("part-*.parquet"))


def read_canonical(
    settings: Settings, mapping_id: str, version: int, *, tenant: str, batch_rows: int = 10_000
) -> Iterator[pa.RecordBatch]:
    """Stream a mapping version's canonical records back as Arrow batches, in source order.

    Raises:
        InputError: the version has not been mapped yet.
    """
    folder = output_dir(settings, tenant, mapping_id, version)
    parts = canonical_parts(folder)
    if not folder.exists():
        raise InputError(
            f"mapping '{mapping_id}' v{version} has no canonical records yet",
            where=str(folder),
            fix=f"run map_to_canonical for {mapping_id} first",
        )
    require_complete_run(folder, mapping_id, version)
    for part in parts:
        yield from pq.ParquetFile(part).iter_batches(batch_size=batch_rows)


def canonical_records(
    settings: Settings, mapping_id: str, version: int, *, tenant: str
) -> Iterator[dict[str, Any]]:
    """Stream canonical records back as nested dicts shaped like the canonical model."""
    for batch in read_canonical(settings, mapping_id, version, tenant=tenant):
        yield from arrow_to_records(pa.Table.from_batches([batch]))


def read_quarantine(
    settings: Settings, mapping_id: str, version: int, *, tenant: str, limit: int = 100
) -> list[dict[str, Any]]:
    """The first `limit` quarantined records with their errors."""
    folder = output_dir(settings, tenant, mapping_id, version) / "quarantine"
    out: list[dict[str, Any]] = []
    for part in sorted(folder.glob("part-*.parquet")):
        for batch in pq.ParquetFile(part).iter_batches(batch_size=max(limit, 1)):
            out.extend(batch.to_pylist()[: limit - len(out)])
            if len(out) >= limit:
                return out
    return out
