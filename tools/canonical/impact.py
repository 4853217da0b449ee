"""Change impact: which policies' canonical values differ between two versions of a mapping.

Both versions are run over the staged source batch by batch (nothing is written) and compared
leaf by leaf, list items included; a record changes when any leaf value, conversion failure or
its validity differs.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Engine

from core.errors import InputError
from core.settings import Settings
from tools.canonical.build import FAIL, build_candidates, compile_plan
from tools.canonical.contracts import ChangeImpact
from tools.canonical.fastcheck import check_candidates
from tools.canonical.model_tree import list_components, model_tree
from tools.canonical.repository import get_mapping
from tools.canonical.rule_checks import source_schema
from tools.canonical.spec import diff_mappings
from tools.content.sources import SourceRegistry
from tools.content.staging import staged_batches


def _differs(a: pa.Array | None, b: pa.Array | None, size: int) -> np.ndarray:
    if a is None and b is None:
        return np.zeros(size, dtype=bool)
    a = a if a is not None else pa.nulls(size, b.type)  # type: ignore[union-attr]
    b = b if b is not None else pa.nulls(size, a.type)
    if a.type != b.type:
        a, b = pc.cast(a, pa.string()), pc.cast(b, pa.string())
    equal = pc.equal(a, b).fill_null(False)
    both_null = pc.and_(pc.is_null(a), pc.is_null(b))
    return ~np.asarray(pc.or_(equal, both_null).to_numpy(zero_copy_only=False), dtype=bool)


def _column(table: pa.Table, name: str) -> pa.Array | None:
    return table.column(name).combine_chunks() if name in table.column_names else None


def _item_field(items: pa.Array | None, name: str) -> pa.Array | None:
    if items is None or items.type.get_field_index(name) < 0:
        return None
    return pc.struct_field(items, [items.type.get_field_index(name)])


def _compare(a: pa.Table, b: pa.Table, version: str, counts: dict[str, int]) -> np.ndarray:
    n = a.num_rows
    changed = np.zeros(n, dtype=bool)
    for leaf in model_tree(version).all_leaves():
        if "[]" in leaf.path:
            continue
        diff = np.zeros(n, dtype=bool)
        for prefix in ("", FAIL):
            diff |= _differs(_column(a, prefix + leaf.name), _column(b, prefix + leaf.name), n)
        if diff.any():
            counts[leaf.path] = counts.get(leaf.path, 0) + int(diff.sum())
        changed |= diff
    for item in list_components(version):
        list_a, list_b = _column(a, item.list_path or ""), _column(b, item.list_path or "")
        if list_a is None and list_b is None:
            continue
        len_a = (
            pc.list_value_length(list_a).fill_null(0).to_numpy(zero_copy_only=False)
            if list_a is not None
            else np.zeros(n, np.int64)
        )
        len_b = (
            pc.list_value_length(list_b).fill_null(0).to_numpy(zero_copy_only=False)
            if list_b is not None
            else np.zeros(n, np.int64)
        )
        same_len = len_a == len_b
        keep = pa.array(same_len)
        rows = np.flatnonzero(same_len)
        flat_a = pc.list_flatten(list_a.filter(keep)) if list_a is not None else None
        flat_b = pc.list_flatten(list_b.filter(keep)) if list_b is not None else None
        parents = np.repeat(rows, len_a[same_len].astype(np.int64))
        for leaf in item.all_leaves():
            diff = ~same_len & ((len_a > 0) | (len_b > 0))
            size = len(parents)
            for prefix in ("", FAIL):
                element = _differs(
                    _item_field(flat_a, prefix + leaf.name),
                    _item_field(flat_b, prefix + leaf.name),
                    size,
                )
                diff[parents[element]] = True
            if diff.any():
                counts[leaf.path] = counts.get(leaf.path, 0) + int(diff.sum())
            changed |= diff
    return changed


def assess_mapping_change(
    engine: Engine,
    settings: Settings,
    mapping_id: str,
    from_version: int,
    to_version: int,
    *,
    tenant: str | None = None,
    sample: int = 10,
) -> ChangeImpact:
    """Which policies' canonical values change between two versions, and how many.

    Args:
        engine: the store.
        settings: for the batch size.
        mapping_id: the mapping.
        from_version: the version in use.
        to_version: the candidate version.
        tenant: the tenant.
        sample: how many changed policy ids to list.

    Raises:
        NotFoundError: unknown mapping or version.
        InputError: the versions target different canonical models.
    """
    tenant = tenant or settings.tenant
    old = get_mapping(engine, mapping_id, tenant=tenant, version=from_version)
    new = get_mapping(engine, mapping_id, tenant=tenant, version=to_version)
    if old.canonical != new.canonical:
        raise InputError(
            "the versions target different canonical models",
            where=f"mapping {mapping_id}",
            fix="compare versions of one model",
        )
    source = SourceRegistry(engine, tenant=tenant).get(old.source_id)
    schema = source_schema(source)
    plan_a = compile_plan(old.rules, old.canonical, schema)
    plan_b = compile_plan(new.rules, new.canonical, schema)
    columns = sorted(set(plan_a.columns) | set(plan_b.columns)) or [schema.names[0]]
    counts: dict[str, int] = {}
    records = changed_total = became_invalid = became_valid = 0
    ids: list[str] = []
    for batch in staged_batches(
        source.records_path, columns=columns, batch_rows=settings.batch_size
    ):
        a = build_candidates(batch, plan_a, records)
        b = build_candidates(batch, plan_b, records)
        valid_a = check_candidates(a, old.canonical).valid
        valid_b = check_candidates(b, new.canonical).valid
        changed = _compare(a, b, old.canonical, counts) | (valid_a != valid_b)
        became_invalid += int((valid_a & ~valid_b).sum())
        became_valid += int((~valid_a & valid_b).sum())
        changed_total += int(changed.sum())
        if len(ids) < sample and changed.any():
            source_ids = _column(b, "policy_core.policy_id") or _column(a, "policy_core.policy_id")
            if source_ids is not None:
                picked = source_ids.take(pa.array(np.flatnonzero(changed)[: sample - len(ids)]))
                ids.extend(str(i) for i in picked.to_pylist() if i is not None)
        records += batch.num_rows
    return ChangeImpact(
        mapping_id=mapping_id,
        from_version=from_version,
        to_version=to_version,
        records=records,
        changed_records=changed_total,
        sample_policy_ids=ids,
        field_changes=counts,
        became_invalid=became_invalid,
        became_valid=became_valid,
        diff=diff_mappings(old, new),
    )
