"""Per-component reconciliation: what the whole-policy checks of :mod:`tools.waves.reconcile` add.

For every list component of a policy (coverages, payments, endorsements, documents,
communications, notices, claim links, rating factors, calculations), each side keeps:

* the number of items per policy (the target's child rows) and in all;
* a 64-bit hash per policy of the component's normalised items (order-free, as the row hash);
* control totals: the exact sum of every decimal item leaf (coverage limits, payment amounts...);
* a 16-bit checksum per policy and item leaf, spilled to disk, which narrows a differing
  component to the fields that differ (``coverage_sections[].limits.per_occurrence``).

Memory per policy and component: 4 bytes of count and 8 of hash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, Field

NULL = "\x00"
ZERO = Decimal("0")
HASH_BYTES = 8


class ComponentTotal(BaseModel):
    """One decimal item leaf summed over every item of the component, on both sides."""

    source: Decimal
    target: Decimal
    matches: bool


class ComponentComparison(BaseModel):
    """One list component compared across all policies of both sides."""

    component: str
    source_children: int = Field(description="Items (the target's child rows) in the source.")
    target_children: int
    count_mismatches: int = Field(description="Policies on both sides whose item counts differ.")
    different: int = Field(description="Policies on both sides whose items differ.")
    totals: dict[str, ComponentTotal] = Field(
        description="Item leaf (coverage_sections[].limits.per_occurrence) -> sums."
    )
    matches: bool


class ComponentDifference(BaseModel):
    """One policy's component that differs, narrowed to its item fields."""

    policy_id: str
    component: str
    source_items: int
    target_items: int
    fields: list[str] = Field(
        description="Item leaves that differ (coverage_sections[].limits.per_occurrence)."
    )


def _string_norm(values: pa.Array) -> pa.Array:
    text = pc.utf8_trim_whitespace(pc.utf8_normalize(values, form="NFC"))
    return pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)


def scalar_norm(values: pa.Array) -> pa.Array:
    """Normalised text of a scalar column; null stays null."""
    if pa.types.is_string(values.type):
        return _string_norm(values)
    return values.cast(pa.string())


def list_norm(values: pa.Array) -> tuple[pa.Array, list[pa.Array], np.ndarray]:
    """Normalise a list column once for the row hash and for the per-field narrowing.

    Returns:
        One string per cell (its items normalised, sorted and joined; null and [] give ''),
        one string per cell and item leaf (that leaf of the sorted items, joined), and the
        item count of each cell.
    """
    lengths = pc.fill_null(pc.list_value_length(values), 0).to_numpy(zero_copy_only=False)
    items = pc.list_flatten(values)
    parts = [
        pc.fill_null(scalar_norm(pc.struct_field(items, [i])), NULL)
        for i in range(items.type.num_fields)
    ]
    joined = (
        pc.binary_join_element_wise(*parts, "\x1e")
        if parts
        else pa.array([""] * len(items), pa.string())
    )
    parents = np.repeat(np.arange(len(values)), lengths)
    order = pc.sort_indices(
        pa.table({"p": parents, "s": joined}), sort_keys=[("p", "ascending"), ("s", "ascending")]
    )
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype("int32"))

    def cells(strings: pa.Array) -> pa.Array:
        lists = pa.ListArray.from_arrays(offsets, strings.take(order))
        return pc.binary_join(lists, "\x1d")

    return cells(joined), [cells(p) for p in parts], lengths.astype(np.int32)


class ComponentSide:
    """One side's per-component counts, hashes, totals and spilled leaf checksums."""

    def __init__(self, schema: pa.Schema, spill: Path) -> None:
        self.paths = [f.name for f in schema if pa.types.is_list(f.type)]
        self.members = {
            path: [f.name for f in schema.field(path).type.value_type] for path in self.paths
        }
        self.decimal_members = {
            path: [
                f.name for f in schema.field(path).type.value_type if pa.types.is_decimal(f.type)
            ]
            for path in self.paths
        }
        self.counts: dict[str, list[np.ndarray]] = {p: [] for p in self.paths}
        self.hashes: dict[str, bytearray] = {p: bytearray() for p in self.paths}
        self.totals: dict[str, dict[str, Decimal]] = {
            p: dict.fromkeys(self.decimal_members[p], ZERO) for p in self.paths
        }
        self.spill = spill
        self.leaf_files: list[tuple[int, Path]] = []

    def add(
        self,
        table: pa.Table,
        normalised: dict[str, tuple[pa.Array, list[pa.Array], np.ndarray]],
        checksums: Callable[[pa.Array], np.ndarray],
        first: int,
    ) -> None:
        """Account the slice ``table`` (rows ``first``...) given its normalised list columns."""
        matrices: list[np.ndarray] = []
        for path in self.paths:
            cell, leaves, lengths = normalised[path]
            self.counts[path].append(lengths)
            digests = self.hashes[path]
            for value, length in zip(cell.to_pylist(), lengths.tolist(), strict=True):
                digests += (
                    hashlib.sha256(value.encode()).digest()[:HASH_BYTES]
                    if length
                    else bytes(HASH_BYTES)
                )
            matrices.extend(checksums(leaf) for leaf in leaves)
            column = table.column(path).combine_chunks()
            items = pc.list_flatten(column)
            for member in self.decimal_members[path]:
                index = column.type.value_type.get_field_index(member)
                total = pc.sum(pc.struct_field(items, [index])).as_py()
                self.totals[path][member] += total or ZERO
        if matrices:
            path = self.spill / f"leaves-{len(self.leaf_files):06d}.npy"
            np.save(path, np.column_stack(matrices))
            self.leaf_files.append((first, path))

    def count_array(self, path: str) -> np.ndarray:
        parts = self.counts[path]
        return np.concatenate(parts) if parts else np.zeros(0, np.int32)

    def hash_array(self, path: str) -> np.ndarray:
        return np.frombuffer(bytes(self.hashes[path]), dtype="<u8")

    def leaf_row(self, index: int) -> np.ndarray:
        starts = [start for start, _ in self.leaf_files]
        slot = int(np.searchsorted(starts, index, side="right")) - 1
        start, path = self.leaf_files[slot]
        return np.array(np.load(path, mmap_mode="r")[index - start])

    def leaf_names(self) -> list[tuple[str, str]]:
        """(component, item leaf) per column of the spilled checksum matrix."""
        return [(path, member) for path in self.paths for member in self.members[path]]


def compare_components(
    source: ComponentSide,
    target: ComponentSide,
    ids: Sequence[str],
    src_rows: np.ndarray,
    tgt_rows: np.ndarray,
    *,
    sample_size: int,
) -> tuple[list[ComponentComparison], list[ComponentDifference]]:
    """Compare the components of the policies found on both sides (rows aligned by position).

    Args:
        source, target: the two sides.
        ids: policy id of each aligned pair.
        src_rows, tgt_rows: row index of each pair on each side.
        sample_size: how many differing (policy, component) pairs to narrow to their fields.
    """
    comparisons: list[ComponentComparison] = []
    differing: list[tuple[str, str, int, int]] = []
    for path in source.paths:
        s_counts, t_counts = source.count_array(path), target.count_array(path)
        s_hash, t_hash = source.hash_array(path), target.hash_array(path)
        pair_counts = (s_counts[src_rows], t_counts[tgt_rows])
        count_diff = pair_counts[0] != pair_counts[1]
        hash_diff = s_hash[src_rows] != t_hash[tgt_rows]
        totals = {
            f"{path}[].{member}": ComponentTotal(
                source=source.totals[path][member],
                target=target.totals[path][member],
                matches=source.totals[path][member] == target.totals[path][member],
            )
            for member in source.decimal_members[path]
        }
        s_children, t_children = int(s_counts.sum()), int(t_counts.sum())
        comparisons.append(
            ComponentComparison(
                component=path,
                source_children=s_children,
                target_children=t_children,
                count_mismatches=int(count_diff.sum()),
                different=int(hash_diff.sum()),
                totals=totals,
                matches=s_children == t_children
                and not hash_diff.any()
                and all(t.matches for t in totals.values()),
            )
        )
        for pair in np.flatnonzero(hash_diff).tolist():
            differing.append((ids[pair], path, int(src_rows[pair]), int(tgt_rows[pair])))
    differing.sort()
    return comparisons, [
        narrow(source, target, policy_id, path, s_row, t_row)
        for policy_id, path, s_row, t_row in differing[:sample_size]
    ]


def narrow(
    source: ComponentSide, target: ComponentSide, policy_id: str, path: str, s_row: int, t_row: int
) -> ComponentDifference:
    """Name the item leaves of ``path`` that differ for one policy.

    When the item counts differ, whole items are missing or extra: the difference is the list
    itself (``coverage_sections[]``), not each of its leaves.
    """
    s_items = int(source.count_array(path)[s_row])
    t_items = int(target.count_array(path)[t_row])
    if s_items != t_items:
        fields = [f"{path}[]"]
    else:
        names = source.leaf_names()
        changed = np.flatnonzero(source.leaf_row(s_row) != target.leaf_row(t_row))
        fields = [f"{c}[].{m}" for c, m in (names[i] for i in changed) if c == path]
    return ComponentDifference(
        policy_id=policy_id,
        component=path,
        source_items=s_items,
        target_items=t_items,
        fields=fields or [f"{path}[] (items not isolated)"],
    )
