"""Turn a batch of raw records, a (rows, record_length) uint8 array, into an Arrow record batch.

Each elementary field is decoded once per batch over all rows (or over all rows x occurrences for
fields inside OCCURS, gathered into one block). Columns are flat dotted names; OCCURS become list
columns (list<struct> for groups, whose struct fields are relative dotted names).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.errors import InputError
from tools.content.cobol.copybook import Node
from tools.content.cobol.decode_numeric import (
    NumType,
    ZonedTables,
    decode_binary,
    decode_float,
    decode_packed,
    decode_zoned,
    num_type,
)
from tools.content.cobol.decode_text import CharTable, decode_strings
from tools.content.cobol.layout import Layout, norm_name


@dataclass
class DecodeSettings:
    """Decoding choices shared by every field (built from the reader options)."""

    table: CharTable
    zoned: ZonedTables
    space_byte: int
    trim: str = "both"
    improved_null_detection: bool = True
    floating_point_format: str = "IBM"
    strict_sign_overpunching: bool = True
    strict_binary: bool = False
    blank_scaled_as_zero: bool = True
    drop_value_fillers: bool = True
    drop_group_fillers: bool = False
    keep_root: bool = False
    non_terminals: set[str] = field(default_factory=set)
    occurs_mappings: dict[str, dict[str, int]] = field(default_factory=dict)
    segment_field: str | None = None
    redefine_segment_ids: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Issue:
    """An invalid value found while decoding (becomes a BadRecord)."""

    row: int
    field: str
    offset: int  # byte offset inside the record
    reason: str


@dataclass
class _Ctx:
    rec: np.ndarray  # record row of each element
    shifts: list[np.ndarray]  # cumulative byte shift per OCCURS depth
    chain: list[Node]  # enclosing OCCURS nodes


class Assembler:
    """Decodes batches for one layout and one set of settings."""

    def __init__(self, layout: Layout, settings: DecodeSettings) -> None:
        self.layout = layout
        self.s = settings
        self.seg_node = layout.find(settings.segment_field) if settings.segment_field else None
        self.seg_groups: dict[int, list[str]] = {}
        for gname, ids in settings.redefine_segment_ids.items():
            g = layout.find(gname)
            self.seg_groups[id(g)] = [str(i).strip() for i in ids]
        self._redef: set[int] = set()
        self._seg_active: dict[int, np.ndarray] = {}
        self._full = False
        self._data = np.zeros((0, 0), dtype=np.uint8)
        self._rec_len = np.zeros(0, dtype=np.int64)
        for root in layout.roots:
            self._mark_redefined(root, False)
        self._check_odo()

    def _mark_redefined(self, node: Node, inside: bool) -> None:
        here = inside or bool(node.redefines) or node.redefined
        if here:
            self._redef.add(id(node))
        for c in node.children:
            self._mark_redefined(c, here)

    def _check_odo(self) -> None:
        for root in self.layout.roots:
            for n in root.walk():
                if not n.depending_on:
                    continue
                dep = self.layout.find(n.depending_on, near=n)
                if dep.kind == "string" and norm_name(n.name) not in self._mappings():
                    raise InputError(
                        f"DEPENDING ON field {dep.name} of OCCURS {n.name} should be integral "
                        f"(it is PIC {dep.pic.text if dep.pic else '?'})",
                        where=f"{self.layout.copybook.source}: line {n.line}",
                        fix=f'give occurs_mappings for {n.name}, e.g. {{"{n.name}": {{"A": 1}}}}',
                    )
                if dep.kind in ("group", "float", "double"):
                    raise InputError(
                        f"DEPENDING ON field {dep.name} of {n.name} is not a number",
                        where=f"{self.layout.copybook.source}: line {n.line}",
                    )

    def _mappings(self) -> dict[str, dict[str, int]]:
        return {norm_name(k): v for k, v in self.s.occurs_mappings.items()}

    # ------------------------------------------------------------------ public

    def segment_values(self, data: np.ndarray, rec_len: np.ndarray) -> np.ndarray | None:
        """Trimmed segment-id strings per row (None without a segment field)."""
        if self.seg_node is None:
            return None
        self._data, self._rec_len = data, rec_len
        self._seg_active = {}
        self._full = False
        n = self.seg_node
        arr = decode_strings(data[:, n.offset : n.offset + n.size], self.s.table, "both")
        if n.kind != "string":
            arr = self._leaf(
                n,
                data,
                np.ones(data.shape[0], bool),
                _Ctx(np.arange(data.shape[0]), [], []),
                None,
                [],
            )[0].cast(pa.string())
        return np.array(arr.to_pylist(), dtype=object)

    def build(
        self, data: np.ndarray, rec_len: np.ndarray, extra: list[tuple[str, pa.Array]] | None = None
    ) -> tuple[pa.RecordBatch, list[Issue]]:
        """Decode a batch.

        Args:
            data: (rows, record_length) bytes, short records padded with 0x00.
            rec_len: real length of each record (fields past it are null).
            extra: generated columns to put first.

        Returns:
            The record batch and the invalid values found.
        """
        m = data.shape[0]
        self._data = data
        self._rec_len = rec_len
        self._seg_active = {}
        self._full = bool(m == 0 or rec_len.min() >= self.layout.record_length)
        seg = self.segment_values(data, rec_len) if self.seg_groups else None
        self._seg_active = {}
        for gid, ids in self.seg_groups.items():
            self._seg_active[gid] = np.isin(seg, ids) if seg is not None else np.ones(m, bool)
        issues: list[Issue] = []
        ctx = _Ctx(np.arange(m), [], [])
        cols: list[tuple[str, pa.Array]] = list(extra or [])
        collapse = len(self.layout.roots) == 1 and not self.s.keep_root
        for root in self.layout.roots:
            if collapse:
                for c in root.children:
                    cols.extend(self._emit(c, "", ctx, issues))
            else:
                cols.extend(self._emit(root, "", ctx, issues))
        names = [n for n, _ in cols]
        arrays = [a for _, a in cols]
        if not arrays:
            return pa.RecordBatch.from_arrays([], names=[]), issues
        return pa.RecordBatch.from_arrays(arrays, names=names), issues

    # ------------------------------------------------------------------ tree walk

    def _skip(self, node: Node) -> bool:
        if not node.is_filler:
            return False
        if node.children:
            return self.s.drop_group_fillers
        return self.s.drop_value_fillers

    def _emit(
        self, node: Node, prefix: str, ctx: _Ctx, issues: list[Issue]
    ) -> list[tuple[str, pa.Array]]:
        if self._skip(node):
            return []
        name = prefix + node.out_name
        if node.occurs:
            return [(name, self._occurs(node, ctx, issues))]
        if node.children:
            cols: list[tuple[str, pa.Array]] = []
            for c in node.children:
                cols.extend(self._emit(c, name + ".", ctx, issues))
            if norm_name(node.name) in self.s.non_terminals:
                cols.append(
                    (
                        name + "_NT",
                        self._leaf(node, self._data, None, ctx, None, issues, as_text=True)[0],
                    )
                )
            return cols
        return [(name, self._leaf(node, self._data, None, ctx, None, issues)[0])]

    def _occurs(self, node: Node, ctx: _Ctx, issues: list[Issue]) -> pa.Array:
        k = node.occurs or 1
        e = ctx.rec.shape[0]
        base = ctx.shifts[-1] if ctx.shifts else np.zeros(e, dtype=np.int64)
        child = _Ctx(
            np.repeat(ctx.rec, k),
            [np.repeat(s, k) for s in ctx.shifts]
            + [np.repeat(base, k) + np.tile(np.arange(k, dtype=np.int64) * node.size, e)],
            ctx.chain + [node],
        )
        if node.children:
            sub: list[tuple[str, pa.Array]] = []
            for c in node.children:
                sub.extend(self._emit(c, "", child, issues))
            if sub:
                values: pa.Array = pa.StructArray.from_arrays(
                    [a for _, a in sub], names=[n for n, _ in sub]
                )
            else:
                values = pa.nulls(e * k, pa.struct([]))
        else:
            values = self._leaf(node, self._data, None, child, None, issues)[0]
        counts = self._counts(node, ctx)
        keep = np.arange(k)[None, :] < counts[:, None]
        idx = np.nonzero(keep.reshape(-1))[0]
        offsets = np.zeros(e + 1, dtype=np.int32)
        np.cumsum(counts, out=offsets[1:])
        taken = values if idx.shape[0] == len(values) else values.take(pa.array(idx))
        return pa.ListArray.from_arrays(pa.array(offsets, type=pa.int32()), taken)

    def _counts(self, node: Node, ctx: _Ctx) -> np.ndarray:
        k = node.occurs or 1
        e = ctx.rec.shape[0]
        if not node.depending_on:
            return np.full(e, k, dtype=np.int64)
        dep = self.layout.find(node.depending_on, near=node)
        depth = sum(1 for a in ctx.chain if _is_ancestor(a, dep))
        dctx = _Ctx(ctx.rec, ctx.shifts[:depth], ctx.chain[:depth])
        arr, _ = self._leaf(dep, self._data, None, dctx, None, [], quiet=True)
        mapping = self._mappings().get(norm_name(node.name))
        if mapping is not None:
            vals = [
                mapping.get(str(v).strip(), mapping.get(str(v), 0)) if v is not None else 0
                for v in arr.to_pylist()
            ]
            counts = np.array(vals, dtype=np.int64)
        else:
            # clip in float first: a count beyond int64 (38-digit decimal) must not wrap around
            numbers = arr.cast(pa.float64(), safe=False).to_numpy(zero_copy_only=False)
            counts = np.clip(np.nan_to_num(numbers, nan=0.0), 0, k).astype(np.int64)
        return np.clip(counts, 0, k)

    # ------------------------------------------------------------------ leaves

    def _leaf(
        self,
        node: Node,
        data: np.ndarray,
        mask: np.ndarray | None,
        ctx: _Ctx,
        _unused: None,
        issues: list[Issue],
        *,
        as_text: bool = False,
        quiet: bool = False,
    ) -> tuple[pa.Array, np.ndarray]:
        e = ctx.rec.shape[0]
        size = node.size
        if ctx.shifts:
            starts = node.offset + ctx.shifts[-1]
            block = self._gather(node, data, ctx)
        else:
            starts = np.full(e, node.offset, dtype=np.int64)
            block = data[:, node.offset : node.offset + size]
        cut = None  # rows whose record ends inside this field, and the bytes they hold
        if self._full:
            present = np.ones(e, dtype=bool)
        else:
            avail = self._rec_len[ctx.rec] - starts
            present = avail > 0
            short = present & (avail < size)
            if short.any():
                cut = (np.nonzero(short)[0], avail[short])
        for gid, active in self._seg_active.items():
            if self._under(node, gid):
                present &= active[ctx.rec]
        s = self.s
        reasons: dict[int, str] = {}
        if as_text or node.kind == "string":
            valid = present
            if s.improved_null_detection:
                first = block[:, 0]
                cand = first == 0
                if cand.any():  # only rows starting with 0x00 can be all 0x00
                    valid = valid & ~(cand & (block == 0).all(axis=1))
            arr = decode_strings(block, s.table, s.trim, valid)
            if cut is not None:  # cobrix: a string cut by the record end keeps the bytes it has
                arr = _cut_strings(arr, block, cut, s, valid)
            return arr, np.zeros(e, bool)
        if cut is not None:  # cobrix: a number cut by the record end is null, not invalid
            present[cut[0]] = False
        t: NumType = num_type(node)
        if node.kind == "zoned":
            arr, invalid, reasons = decode_zoned(
                block,
                node,
                t,
                s.zoned,
                strict_overpunch=s.strict_sign_overpunching,
                null_zero_bytes=s.improved_null_detection,
                blank_scaled_as_zero=s.blank_scaled_as_zero,
            )
        elif node.kind == "packed":
            arr, invalid = decode_packed(block, node, t)
        elif node.kind == "binary":
            arr, invalid = decode_binary(
                block, node, t, strict_spaces=s.strict_binary, space_byte=s.space_byte
            )
        else:
            arr, invalid = decode_float(block, node, s.floating_point_format)
        if not present.all():
            arr = pc.if_else(pa.array(present), arr, pa.scalar(None, arr.type))
        invalid = invalid & present
        if not quiet and invalid.any() and (id(node) not in self._redef or self._selected(node)):
            for r in np.nonzero(invalid)[0].tolist():
                reason = reasons.get(r) or _default_reason(node)
                issues.append(Issue(int(ctx.rec[r]), node.out_name, int(starts[r]), reason))
        return arr, invalid

    def _gather(self, node: Node, data: np.ndarray, ctx: _Ctx) -> np.ndarray:
        """Bytes of ``node`` for every element of ``ctx``: OCCURS areas reshaped (no fancy index).

        Elements are ordered row-major (record, occurrence 1, occurrence 2, ...), so each OCCURS
        level is a reshape of its contiguous area.
        """
        if ctx.rec.shape[0] != data.shape[0] * int(np.prod([a.occurs or 1 for a in ctx.chain])):
            starts = node.offset + ctx.shifts[-1]  # counts-dependent context: generic gather
            return data[ctx.rec[:, None], starts[:, None] + np.arange(node.size)[None, :]]
        cur = data
        base = 0
        for occ in ctx.chain:
            k = occ.occurs or 1
            rel = occ.offset - base
            cur = cur[:, rel : rel + k * occ.size].reshape(-1, occ.size)
            base = occ.offset
        rel = node.offset - base
        return cur[:, rel : rel + node.size]

    def _under(self, node: Node, gid: int) -> bool:
        cur: Node | None = node
        while cur is not None:
            if id(cur) == gid:
                return True
            cur = cur.parent
        return False

    def _selected(self, node: Node) -> bool:
        return any(self._under(node, gid) for gid in self.seg_groups)


def _cut_strings(
    arr: pa.Array,
    block: np.ndarray,
    cut: tuple[np.ndarray, np.ndarray],
    s: DecodeSettings,
    valid: np.ndarray,
) -> pa.Array:
    """Re-decode the rows of ``arr`` whose field the record end cut, from their real bytes only.

    Rows are grouped by how many bytes they hold, so the work is one vectorised decode per
    distinct length, not per row.
    """
    rows, lengths = cut
    pieces = [arr]
    index = np.arange(len(arr), dtype=np.int64)
    total = len(arr)
    for length in np.unique(lengths).tolist():
        group = rows[lengths == length]
        sub = np.ascontiguousarray(block[group, :length])
        pieces.append(decode_strings(sub, s.table, s.trim, valid[group]))
        index[group] = total + np.arange(group.shape[0])
        total += group.shape[0]
    return pa.concat_arrays(pieces).take(pa.array(index))


def _is_ancestor(a: Node, n: Node) -> bool:
    cur = n.parent
    while cur is not None:
        if cur is a:
            return True
        cur = cur.parent
    return False


def _default_reason(node: Node) -> str:
    pic = node.pic.text if node.pic else node.usage
    return {
        "packed": f"invalid packed decimal (COMP-3) nibble or sign for PIC {pic}",
        "binary": f"binary field PIC {pic} holds spaces or is out of range",
        "zoned": f"invalid zoned decimal for PIC {pic}",
    }.get(node.kind, "invalid value")
