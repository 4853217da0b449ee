"""Bulk validation of canonical candidates on whole columns, exactly as strict as the model.

Every check is derived from `model_tree` (types, required fields, allowed values, lengths, patterns,
decimal digits and places, bounds) and follows pydantic's rules of evaluation:

- an optional object is present when anything below it has a value (how records are built), and
  its required fields are then checked; a required object is always present;
- one error per field (pydantic stops at a field's first failed constraint);
- a model's cross-field validator runs only when every field of that model, nested objects
  included, validated (so a bad date hides the period-order error, as in pydantic);
- patterns keep pydantic's (Rust regex) meaning of `\\s` and `\\d` (Unicode) when run by RE2.

`tests/tools/canonical/test_strictness.py` proves equality with `validation_errors` per record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tools.canonical.build import FAIL
from tools.canonical.model_tree import Leaf, ObjectNode, model_tree
from tools.canonical.transforms import CANDIDATE_DECIMAL, WHITESPACE_CLASS

ERROR_SCHEMA = pa.schema(
    [
        ("row", pa.int64()),
        ("path", pa.string()),
        ("field", pa.string()),
        ("message", pa.string()),
        ("kind", pa.string()),
    ]
)


@lru_cache(maxsize=32)
def re2_pattern(pattern: str) -> str:
    """Translate a pydantic (Rust regex) pattern to RE2 with the same meaning.

    Raises:
        NotImplementedError: the pattern uses a class whose Unicode meaning is not translated.
    """
    out, in_class, i = [], False, 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            code = pattern[i + 1]
            if code == "s":
                out.append(WHITESPACE_CLASS if in_class else f"[{WHITESPACE_CLASS}]")
            elif code == "d":
                out.append(r"\p{Nd}")
            elif code in "SDwWbB":
                raise NotImplementedError(f"pattern {pattern!r}: \\{code} is not translated")
            else:
                out.append(pattern[i : i + 2])
            i += 2
            continue
        if char == "[" and not in_class:
            in_class = True
        elif char == "]" and in_class:
            in_class = False
        out.append(char)
        i += 1
    return "".join(out)


@dataclass
class _Domain:
    """Rows of the batch, or the flattened items of one list component."""

    size: int
    parents: np.ndarray | None = None  # item -> row
    positions: np.ndarray | None = None  # item -> index inside its list
    items: pa.StructArray | None = None


@dataclass
class _Found:
    """Errors of one kind on one leaf: where, and the values for the messages."""

    leaf_path: str
    list_path: str | None
    rel: str
    index: np.ndarray  # positions in the domain
    kind: str
    messages: list[str]


@dataclass
class Verdict:
    """Validation result of one candidate batch."""

    valid: np.ndarray  # per row
    errors: pa.Table  # ERROR_SCHEMA, `row` = position in the candidate batch, sorted by row
    field_counts: dict[str, int] = field(default_factory=dict)  # catalogue path -> records


def _mask(array: pa.Array) -> np.ndarray:
    return np.asarray(array.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def _show(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


class _Checker:
    def __init__(self, table: pa.Table, version: str) -> None:
        self.table = table
        self.tree = model_tree(version)
        self.n = table.num_rows
        self.domains: dict[str | None, _Domain] = {None: _Domain(self.n)}
        self.found: list[_Found] = []

    # -- columns -------------------------------------------------------------------------------

    def domain(self, list_path: str | None) -> _Domain:
        if list_path in self.domains:
            return self.domains[list_path]
        if list_path not in self.table.column_names:
            dom = _Domain(0, np.zeros(0, np.int64), np.zeros(0, np.int64), None)
        else:
            lists = self.table.column(list_path).combine_chunks()
            parents = np.asarray(
                pc.list_parent_indices(lists).to_numpy(zero_copy_only=False), dtype=np.int64
            )
            starts = np.concatenate(
                [
                    [0],
                    np.cumsum(
                        pc.list_value_length(lists).fill_null(0).to_numpy(zero_copy_only=False)
                    ),
                ]
            )
            positions = np.arange(len(parents)) - starts[parents]
            dom = _Domain(len(parents), parents, positions, pc.list_flatten(lists))
        self.domains[list_path] = dom
        return dom

    def column(self, leaf: Leaf, list_path: str | None, fail: bool) -> pa.Array | None:
        name = (FAIL if fail else "") + leaf.name
        if list_path is None:
            if name not in self.table.column_names:
                return None
            return self.table.column(name).combine_chunks()
        items = self.domain(list_path).items
        if items is None or items.type.get_field_index(name) < 0:
            return None
        return pc.struct_field(items, [items.type.get_field_index(name)])

    def to_rows(self, mask: np.ndarray, list_path: str | None) -> np.ndarray:
        if list_path is None:
            return mask
        dom = self.domain(list_path)
        rows = np.zeros(self.n, dtype=bool)
        assert dom.parents is not None
        rows[dom.parents[mask]] = True
        return rows

    # -- presence --------------------------------------------------------------------------------

    def content(self, node: ObjectNode) -> np.ndarray:
        dom = self.domain(node.list_path)
        out = np.zeros(dom.size, dtype=bool)
        for leaf in node.leaves:
            for fail in (False, True):
                col = self.column(leaf, node.list_path, fail)
                if col is not None:
                    out |= _mask(pc.is_valid(col))
        for child in node.children:
            if child.is_list_item:
                items = self.domain(child.list_path)
                assert items.parents is not None
                if items.size:
                    out |= self.to_rows(np.ones(items.size, dtype=bool), child.list_path)
            else:
                out |= self.content(child)
        return out

    # -- leaves ----------------------------------------------------------------------------------

    def check_leaf(self, leaf: Leaf, list_path: str | None, present: np.ndarray) -> np.ndarray:
        size = len(present)
        values = self.column(leaf, list_path, False)
        fails = self.column(leaf, list_path, True)
        has_value = _mask(pc.is_valid(values)) if values is not None else np.zeros(size, bool)
        failed = _mask(pc.is_valid(fails)) if fails is not None else np.zeros(size, bool)
        error = np.zeros(size, dtype=bool)
        rel = leaf.name

        def found(mask: np.ndarray, kind: str, render) -> None:  # type: ignore[no-untyped-def]
            nonlocal error
            mask = mask & ~error
            if not mask.any():
                return
            error |= mask
            index = np.flatnonzero(mask)
            shown = pc.take(values, pa.array(index)).to_pylist() if values is not None else []
            messages = [render(v) for v in shown] if shown else [render(None)] * len(index)
            self.found.append(_Found(leaf.path, list_path, rel, index, kind, messages))

        if failed.any():
            mask = present & failed
            index = np.flatnonzero(mask)
            if index.size:
                assert fails is not None
                error |= mask
                texts = pc.take(fails, pa.array(index)).to_pylist()
                self.found.append(
                    _Found(
                        leaf.path, list_path, rel, index, "transform_error", [str(t) for t in texts]
                    )
                )
        if leaf.required:
            found(
                present & ~has_value & ~failed, "missing", lambda _v: "required field has no value"
            )
        if values is None:
            return error
        check = present & has_value
        if leaf.kind == "string":
            self._check_string(leaf, values, check, found)
        elif leaf.kind == "decimal":
            self._check_decimal(leaf, values, check, found)
        return error

    def _check_string(self, leaf: Leaf, values: pa.Array, check: np.ndarray, found) -> None:  # type: ignore[no-untyped-def]
        if leaf.allowed is not None:
            allowed = pa.array(list(leaf.allowed), pa.string())
            options = ", ".join(leaf.allowed)
            found(
                check & ~_mask(pc.is_in(values, value_set=allowed)),
                "literal_error",
                lambda v: f"{v!r} is not one of: {options}",
            )
        if leaf.min_length is not None or leaf.max_length is not None:
            length = pc.utf8_length(values).fill_null(0).to_numpy(zero_copy_only=False)
            if leaf.min_length is not None:
                found(
                    check & (length < leaf.min_length),
                    "string_too_short",
                    lambda v: f"{v!r} is shorter than {leaf.min_length} character(s)",
                )
            if leaf.max_length is not None:
                found(
                    check & (length > leaf.max_length),
                    "string_too_long",
                    lambda v: f"has {len(v)} characters; at most {leaf.max_length} allowed",
                )
        if leaf.pattern is not None:
            matched = _mask(pc.match_substring_regex(values, re2_pattern(leaf.pattern)))
            found(
                check & ~matched,
                "string_pattern_mismatch",
                lambda v: f"{v!r} does not match the pattern {leaf.pattern}",
            )

    def _check_decimal(self, leaf: Leaf, values: pa.Array, check: np.ndarray, found) -> None:  # type: ignore[no-untyped-def]
        values = values.cast(CANDIDATE_DECIMAL)
        places = leaf.decimal_places
        if places is not None:
            exact = _mask(pc.equal(pc.round(values, places), values))
            found(
                check & ~exact,
                "decimal_max_places",
                lambda v: f"{_show(v)} has more than {places} decimal places",
            )
        if leaf.max_digits is not None:
            whole = leaf.max_digits - (places or 0)
            limit = pa.scalar(Decimal(10) ** whole, CANDIDATE_DECIMAL)
            found(
                check & _mask(pc.greater_equal(pc.abs(values), limit)),
                "decimal_whole_digits",
                lambda v: f"{_show(v)} has more than {whole} digits before the decimal point",
            )
        bounds = (
            ("ge", pc.greater_equal, "greater than or equal to"),
            ("gt", pc.greater, "greater than"),
            ("le", pc.less_equal, "at most"),
            ("lt", pc.less, "less than"),
        )
        for name, compare, words in bounds:
            bound = getattr(leaf, name)
            if bound is not None:
                ok = _mask(compare(values, pa.scalar(bound, CANDIDATE_DECIMAL)))
                kind = {
                    "ge": "greater_than_equal",
                    "gt": "greater_than",
                    "le": "less_than_equal",
                    "lt": "less_than",
                }[name]
                found(check & ~ok, kind, lambda v, b=bound, w=words: f"{_show(v)} must be {w} {b}")

    # -- objects ---------------------------------------------------------------------------------

    def check_node(self, node: ObjectNode, present: np.ndarray) -> np.ndarray:
        """Check a node in its domain; returns its subtree error mask in that domain."""
        errors = np.zeros(len(present), dtype=bool)
        for leaf in node.leaves:
            errors |= self.check_leaf(leaf, node.list_path, present)
        for child in node.children:
            if child.is_list_item:
                dom = self.domain(child.list_path)
                child_errors = self.check_node(child, np.ones(dom.size, dtype=bool))
                errors |= self.to_rows(child_errors, child.list_path)
                continue
            child_present = present & (
                np.ones(len(present), bool) if child.required else self.content(child)
            )
            errors |= self.check_node(child, child_present)
        for kind, first, second in node.checks:
            errors |= self.cross_check(node, kind, first, second, present & ~errors)
        return errors

    def cross_check(
        self, node: ObjectNode, kind: str, first: str, second: str, gate: np.ndarray
    ) -> np.ndarray:
        prefix = f"{node.path}." if node.path else ""
        by_path = {leaf.path: leaf for leaf in node.leaves}
        a = self.column(by_path[prefix + first], node.list_path, False)
        b = self.column(by_path[prefix + second], node.list_path, False)
        if a is None or b is None or not gate.any():
            return np.zeros(len(gate), dtype=bool)
        bad = gate & _mask(pc.less(b, a))
        index = np.flatnonzero(bad)
        if index.size:
            take = pa.array(index)
            pairs = zip(pc.take(a, take).to_pylist(), pc.take(b, take).to_pylist(), strict=True)
            if kind == "date_order":
                messages = [
                    f"{second} {y} is before {first} {x}; a period cannot end before it "
                    "starts (check for swapped columns or a wrong date format such as "
                    "DD/MM vs MM/DD)"
                    for x, y in pairs
                ]
            else:
                messages = [
                    f"aggregate limit {_show(y)} is below the per-occurrence limit "
                    f"{_show(x)}; an aggregate caps all occurrences together (check "
                    "whether the two limit columns are swapped)"
                    for x, y in pairs
                ]
            leaf = by_path[prefix + second]
            self.found.append(_Found(leaf.path, node.list_path, leaf.name, index, kind, messages))
        return bad

    # -- result ----------------------------------------------------------------------------------

    def run(self) -> Verdict:
        errors = self.check_node(self.tree, np.ones(self.n, dtype=bool))
        rows, paths, fields, messages, kinds = [], [], [], [], []
        counts: dict[str, int] = {}
        for item in self.found:
            if item.list_path is None:
                item_rows = item.index
                paths.extend([item.leaf_path] * len(item.index))
            else:
                dom = self.domain(item.list_path)
                assert dom.parents is not None and dom.positions is not None
                item_rows = dom.parents[item.index]
                paths.extend(
                    f"{item.list_path}[{p}].{item.rel}" for p in dom.positions[item.index].tolist()
                )
            rows.append(item_rows)
            fields.extend([item.leaf_path] * len(item.index))
            kinds.extend([item.kind] * len(item.index))
            messages.extend(item.messages)
            counts[item.leaf_path] = counts.get(item.leaf_path, 0) + len(np.unique(item_rows))
        row_array = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        order = np.argsort(row_array, kind="stable")
        table = pa.table(
            {
                "row": pa.array(row_array[order], pa.int64()),
                "path": pa.array(paths, pa.string()).take(pa.array(order)),
                "field": pa.array(fields, pa.string()).take(pa.array(order)),
                "message": pa.array(messages, pa.string()).take(pa.array(order)),
                "kind": pa.array(kinds, pa.string()).take(pa.array(order)),
            },
            schema=ERROR_SCHEMA,
        )
        return Verdict(valid=~errors, errors=table, field_counts=counts)


def check_candidates(table: pa.Table, version: str = "policy_v1") -> Verdict:
    """Validate a candidate table (from `build_candidates`) against the canonical model.

    Args:
        table: candidates of one batch.
        version: the canonical version the candidates target.

    Returns:
        Per-row validity and every field error (path with list positions, message, kind).
    """
    return _Checker(table, version).run()


__all__ = ["ERROR_SCHEMA", "Verdict", "check_candidates", "re2_pattern"]
