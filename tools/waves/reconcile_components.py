"""Per-component reconciliation: what the whole-policy checks of :mod:`tools.waves.reconcile` add.

For every list component of a policy (coverages, payments, endorsements, documents,
communications, notices, claim links, rating factors, calculations), each side keeps:

* the number of items per policy (the target's child rows) and in all;
* a 64-bit hash per policy of the component's normalised items (order-free, as the row hash);
* control totals: the exact sum of every decimal item leaf (coverage limits, payment amounts...);
* a 16-bit checksum per policy and item leaf, spilled to disk, which narrows a differing
  component to the fields that differ (``coverage_sections[].limits.per_occurrence``).

The counts and hashes (4 + 8 bytes per policy and component) are spilled with the policy's id
and compared bucket by bucket (:class:`ComponentTally`), so memory does not grow with the wave.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
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
    """One side's per-component totals and spilled leaf checksums.

    The per-policy item counts and hashes are not kept here: :meth:`digest` returns them as key
    columns, which the caller spills with the policy's id and compares bucket by bucket.
    """

    def __init__(self, schema: pa.Schema, spill: Path | None) -> None:
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
        self.totals: dict[str, dict[str, Decimal]] = {
            p: dict.fromkeys(self.decimal_members[p], ZERO) for p in self.paths
        }
        self.spill = spill or Path()
        self.leaf_files: list[tuple[int, Path]] = []

    def digest(
        self,
        table: pa.Table,
        normalised: dict[str, tuple[pa.Array, list[pa.Array], np.ndarray]],
        checksums: Callable[[pa.Array], np.ndarray],
    ) -> tuple[dict[str, pa.Array], np.ndarray | None, dict[str, dict[str, Decimal]]]:
        """The components of the slice ``table`` given its normalised list columns (pure).

        Returns:
            Per component, the item count (``n:<path>``) and item hash (``h:<path>``) of each
            row; the slice's leaf checksum matrix (None without components); the slice's totals
            of every decimal item leaf.
        """
        matrices: list[np.ndarray] = []
        keys: dict[str, pa.Array] = {}
        totals: dict[str, dict[str, Decimal]] = {}
        for path in self.paths:
            cell, leaves, lengths = normalised[path]
            digests = bytearray()
            for value, length in zip(cell.to_pylist(), lengths.tolist(), strict=True):
                digests += (
                    hashlib.sha256(value.encode()).digest()[:HASH_BYTES]
                    if length
                    else bytes(HASH_BYTES)
                )
            keys[count_key(path)] = pa.array(lengths, pa.int32())
            keys[hash_key(path)] = pa.array(np.frombuffer(bytes(digests), dtype="<u8"))
            matrices.extend(checksums(leaf) for leaf in leaves)
            column = table.column(path).combine_chunks()
            items = pc.list_flatten(column)
            totals[path] = {}
            for member in self.decimal_members[path]:
                index = column.type.value_type.get_field_index(member)
                total = pc.sum(pc.struct_field(items, [index])).as_py()
                totals[path][member] = total or ZERO
        return keys, np.column_stack(matrices) if matrices else None, totals

    def absorb(
        self, leaves: np.ndarray | None, totals: dict[str, dict[str, Decimal]], first: int
    ) -> None:
        """Add a slice's digest (rows ``first``...): spill its leaf checksums, sum its totals."""
        for component, members in totals.items():
            for member, total in members.items():
                self.totals[component][member] += total
        if leaves is not None:
            path = self.spill / f"leaves-{len(self.leaf_files):06d}.npy"
            np.save(path, leaves)
            self.leaf_files.append((first, path))

    def leaf_row(self, index: int) -> np.ndarray:
        starts = [start for start, _ in self.leaf_files]
        slot = int(np.searchsorted(starts, index, side="right")) - 1
        start, path = self.leaf_files[slot]
        return np.array(np.load(path, mmap_mode="r")[index - start])

    def leaf_names(self) -> list[tuple[str, str]]:
        """(component, item leaf) per column of the spilled checksum matrix."""
        return [(path, member) for path in self.paths for member in self.members[path]]


def count_key(path: str) -> str:
    """Key column of a component's per-policy item count."""
    return f"n:{path}"


def hash_key(path: str) -> str:
    """Key column of a component's per-policy item hash."""
    return f"h:{path}"


@dataclass
class _PathTally:
    source_children: int = 0
    target_children: int = 0
    count_mismatches: int = 0
    different: int = 0


class ComponentTally:
    """The component comparison, accumulated over buckets of policies.

    Only the ``sample_size`` smallest differing (policy, component) pairs are kept, so memory
    does not grow with the number of differences.
    """

    def __init__(self, source: ComponentSide, target: ComponentSide, sample_size: int) -> None:
        self.source, self.target = source, target
        self.sample_size = sample_size
        self.paths = {path: _PathTally() for path in source.paths}
        # (policy id, component, source row, target row, source items, target items)
        self.differing: list[tuple[str, str, int, int, int, int]] = []

    def add(
        self,
        src: pa.Table,
        tgt: pa.Table,
        src_rows: np.ndarray,
        tgt_rows: np.ndarray,
        ids: pa.Array,
    ) -> None:
        """Compare one bucket: ``src``/``tgt`` key tables, pairs aligned by position.

        Args:
            src, tgt: the bucket's key tables (``row`` and the component key columns).
            src_rows, tgt_rows: row (in the bucket) of each pair on each side.
            ids: policy id of each pair.
        """
        found: list[tuple[str, str, int, int, int, int]] = []
        s_global = src.column("row").to_numpy()
        t_global = tgt.column("row").to_numpy()
        for path, tally in self.paths.items():
            s_counts = src.column(count_key(path)).to_numpy()
            t_counts = tgt.column(count_key(path)).to_numpy()
            s_hash = src.column(hash_key(path)).to_numpy()
            t_hash = tgt.column(hash_key(path)).to_numpy()
            pair_counts = (s_counts[src_rows], t_counts[tgt_rows])
            hash_diff = s_hash[src_rows] != t_hash[tgt_rows]
            tally.source_children += int(s_counts.sum())
            tally.target_children += int(t_counts.sum())
            tally.count_mismatches += int((pair_counts[0] != pair_counts[1]).sum())
            tally.different += int(hash_diff.sum())
            pairs = np.flatnonzero(hash_diff)
            if len(pairs):
                names = ids.take(pa.array(pairs)).to_pylist()
                found.extend(
                    (
                        name,
                        path,
                        int(s_global[src_rows[pair]]),
                        int(t_global[tgt_rows[pair]]),
                        int(pair_counts[0][pair]),
                        int(pair_counts[1][pair]),
                    )
                    for name, pair in zip(names, pairs.tolist(), strict=True)
                )
        self.differing = sorted([*self.differing, *found])[: self.sample_size]

    def result(self) -> tuple[list[ComponentComparison], list[ComponentDifference]]:
        """Per component comparisons, and the first differing pairs narrowed to their fields."""
        comparisons: list[ComponentComparison] = []
        for path, tally in self.paths.items():
            totals = {
                f"{path}[].{member}": ComponentTotal(
                    source=self.source.totals[path][member],
                    target=self.target.totals[path][member],
                    matches=self.source.totals[path][member] == self.target.totals[path][member],
                )
                for member in self.source.decimal_members[path]
            }
            comparisons.append(
                ComponentComparison(
                    component=path,
                    source_children=tally.source_children,
                    target_children=tally.target_children,
                    count_mismatches=tally.count_mismatches,
                    different=tally.different,
                    totals=totals,
                    matches=tally.source_children == tally.target_children
                    and not tally.different
                    and all(t.matches for t in totals.values()),
                )
            )
        return comparisons, [narrow(self.source, self.target, *d) for d in self.differing]


def narrow(
    source: ComponentSide,
    target: ComponentSide,
    policy_id: str,
    path: str,
    s_row: int,
    t_row: int,
    s_items: int,
    t_items: int,
) -> ComponentDifference:
    """Name the item leaves of ``path`` that differ for one policy.

    When the item counts differ, whole items are missing or extra: the difference is the list
    itself (``coverage_sections[]``), not each of its leaves.
    """
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
