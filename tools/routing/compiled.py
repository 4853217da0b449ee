"""Route whole Arrow batches at once: every condition is a boolean mask over the batch.

First match by priority is a single ``case_when`` over the rule masks, so no Python code runs
per record. Semantics equal :func:`tools.routing.interpret.evaluate_policy` exactly (the tests
check it on random data): a comparison with a missing value is false, NaN counts as missing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.errors import InputError
from tools.routing.fields import FieldKind
from tools.routing.model import (
    AllOf,
    Always,
    AnyOf,
    Condition,
    NotOf,
    Operator,
    Predicate,
    RuleSet,
    predicates,
)
from tools.routing.values import has_wildcard, patterns_regex

ID_FIELD = "policy_core.policy_id"
RESULT_SCHEMA = pa.schema(
    [("policy_id", pa.string()), ("target", pa.string()), ("rule", pa.string())]
)
_COMPARE: dict[Operator, Callable[..., pa.Array]] = {
    Operator.EQUALS: pc.equal,
    Operator.NOT_EQUALS: pc.not_equal,
    Operator.LESS_THAN: pc.less,
    Operator.LESS_OR_EQUAL: pc.less_equal,
    Operator.GREATER_THAN: pc.greater,
    Operator.GREATER_OR_EQUAL: pc.greater_equal,
}
_ARROW_TYPE = {FieldKind.NUMBER: pa.float64(), FieldKind.DATE: pa.date32()}


def _compatible(kind: FieldKind, arrow_type: pa.DataType) -> bool:
    t = pa.types
    if t.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    stringy = t.is_string(arrow_type) or t.is_large_string(arrow_type)
    if kind is FieldKind.TEXT:
        return stringy or t.is_integer(arrow_type) or t.is_null(arrow_type)
    if kind is FieldKind.NUMBER:
        return (
            t.is_integer(arrow_type)
            or t.is_floating(arrow_type)
            or t.is_decimal(arrow_type)
            or stringy
            or t.is_null(arrow_type)
        )
    if kind is FieldKind.DATE:
        return (
            t.is_date(arrow_type) or t.is_timestamp(arrow_type) or stringy or t.is_null(arrow_type)
        )
    if kind is FieldKind.BOOLEAN:
        return t.is_boolean(arrow_type) or t.is_null(arrow_type)
    return t.is_list(arrow_type) or t.is_large_list(arrow_type) or t.is_null(arrow_type)


class _BatchContext:
    """Per-batch caches: normalised columns and predicate masks shared between rules."""

    def __init__(self, batch: pa.RecordBatch) -> None:
        self.batch = batch
        self.length = batch.num_rows
        self.columns: dict[tuple[str, FieldKind, bool], pa.Array | None] = {}
        self.masks: dict[Predicate, pa.Array] = {}

    def column(self, path: str, kind: FieldKind, lower: bool = False) -> pa.Array | None:
        key = (path, kind, lower)
        if key not in self.columns:
            self.columns[key] = self._load(path, kind, lower)
        return self.columns[key]

    def _load(self, path: str, kind: FieldKind, lower: bool) -> pa.Array | None:
        if lower:
            base = self.column(path, kind)
            return None if base is None else pc.utf8_lower(base)
        index = self.batch.schema.get_field_index(path)
        if index < 0:
            return None
        array = self.batch.column(index)
        try:
            if kind is FieldKind.TEXT and not pa.types.is_string(array.type):
                array = array.cast(pa.string())
            elif kind in _ARROW_TYPE and array.type != _ARROW_TYPE[kind]:
                array = array.cast(_ARROW_TYPE[kind])
            elif kind is FieldKind.BOOLEAN and not pa.types.is_boolean(array.type):
                array = array.cast(pa.bool_())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise InputError(
                f"column cannot be read as {kind.value}: {exc}",
                where=f"field {path}",
                fix=f"map {path} to a {kind.value} column",
            ) from None
        if kind is FieldKind.NUMBER and pc.any(pc.is_nan(array)).as_py():
            array = pc.if_else(pc.is_nan(array), pa.scalar(None, pa.float64()), array)
        return array


@dataclass
class CompiledRuleSet:
    """A rule set bound to an Arrow schema, ready to route batches (see ``route_batch``)."""

    rule_set: RuleSet
    schema: pa.Schema
    id_field: str = ID_FIELD
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._targets = pa.array([r.target for r in self.rule_set.rules], pa.string())
        self._names = pa.array([r.name for r in self.rule_set.rules], pa.string())

    def rule_indices(self, batch: pa.RecordBatch) -> pa.Int16Array:
        """Index into ``rule_set.rules`` of the rule that fires per row (null: none fired)."""
        context = _BatchContext(batch)
        masks: list[pa.Array] = []
        fallback = pa.scalar(None, pa.int16())
        for index, rule in enumerate(self.rule_set.rules):
            if isinstance(rule.condition, Always):
                # Rules after a catch-all are rejected as shadowed, so it ends the scan.
                fallback = pa.scalar(index, pa.int16())
                break
            masks.append(self._mask(rule.condition, context))
        if not masks:
            return pa.array(np.full(batch.num_rows, fallback.as_py(), np.int16), pa.int16())
        choices = [pa.scalar(i, pa.int16()) for i in range(len(masks))]
        struct = pa.StructArray.from_arrays(masks, [str(i) for i in range(len(masks))])
        return pc.case_when(struct, *choices, fallback)

    def route_batch(self, batch: pa.RecordBatch | pa.Table) -> pa.Table:
        """Route every policy of a batch or table.

        Returns:
            A table (policy_id, target, rule); target and rule are null where no rule matched.
        """
        batches = batch.to_batches() if isinstance(batch, pa.Table) else [batch]
        tables = []
        for part in batches:
            indices = self.rule_indices(part)
            tables.append(
                pa.table(
                    [
                        part.column(self.id_field).cast(pa.string()),
                        pc.take(self._targets, indices),
                        pc.take(self._names, indices),
                    ],
                    schema=RESULT_SCHEMA,
                )
            )
        return pa.concat_tables(tables) if tables else RESULT_SCHEMA.empty_table()

    def _mask(self, condition: Condition, context: _BatchContext) -> pa.Array:
        if isinstance(condition, Always):
            return pa.array(np.ones(context.length, np.bool_))
        if isinstance(condition, Predicate):
            if condition not in context.masks:
                mask = _predicate_mask(condition, context)
                context.masks[condition] = pc.fill_null(mask, False)
            return context.masks[condition]
        if isinstance(condition, NotOf):
            return pc.invert(self._mask(condition.child, context))
        combine = pc.and_ if isinstance(condition, AllOf) else pc.or_
        assert isinstance(condition, AllOf | AnyOf)
        masks = [self._mask(child, context) for child in condition.children]
        result = masks[0]
        for mask in masks[1:]:
            result = combine(result, mask)
        return result


def _value_set(predicate: Predicate, lower: bool) -> pa.Array:
    values = list(predicate.options)
    if predicate.kind is FieldKind.TEXT:
        return pa.array([str(v).lower() if lower else v for v in values], pa.string())
    return pa.array(values, _ARROW_TYPE.get(predicate.kind, pa.bool_()))


def _in_mask(predicate: Predicate, context: _BatchContext) -> pa.Array:
    ic = predicate.ignore_case
    options = tuple(str(o) for o in predicate.options)
    if predicate.kind is FieldKind.TEXT and any(has_wildcard(o) for o in options):
        column = context.column(predicate.field, predicate.kind)
        return pc.match_substring_regex(column, patterns_regex(options), ignore_case=ic)
    column = context.column(predicate.field, predicate.kind, lower=ic)
    return pc.is_in(column, value_set=_value_set(predicate, ic))


def _scalar(predicate: Predicate, value: object, lower: bool) -> pa.Scalar:
    if lower and isinstance(value, str):
        value = value.lower()
    return pa.scalar(value, _ARROW_TYPE.get(predicate.kind))


def _predicate_mask(predicate: Predicate, context: _BatchContext) -> pa.Array:
    op = predicate.operator
    ic = predicate.ignore_case
    column = context.column(
        predicate.field, predicate.kind, lower=ic and op is not Operator.MATCHES
    )
    if column is None:
        # An unmapped field is missing in every row.
        return pa.array(np.full(context.length, op is Operator.IS_NULL, np.bool_))
    if op in (Operator.IS_NULL, Operator.NOT_NULL):
        missing = pc.is_null(column)
        if predicate.kind is FieldKind.LIST:
            missing = pc.or_(missing, pc.fill_null(pc.equal(pc.list_value_length(column), 0), True))
        return missing if op is Operator.IS_NULL else pc.invert(missing)
    if op is Operator.IN:
        return _in_mask(predicate, context)
    if op is Operator.NOT_IN:
        inside = pc.fill_null(_in_mask(predicate, context), False)
        return pc.and_(pc.invert(inside), pc.is_valid(column))
    if op is Operator.MATCHES:
        return pc.match_substring_regex(column, str(predicate.value), ignore_case=ic)
    if op is Operator.BETWEEN:
        low, high = predicate.bounds
        return pc.and_(
            pc.greater_equal(column, _scalar(predicate, low, False)),
            pc.less_equal(column, _scalar(predicate, high, False)),
        )
    return _COMPARE[op](column, _scalar(predicate, predicate.value, ic))


def compile_rule_set(
    rule_set: RuleSet, schema: pa.Schema, *, id_field: str = ID_FIELD
) -> CompiledRuleSet:
    """Bind a rule set to the schema of the canonical batches it will route.

    Args:
        rule_set: A validated rule set.
        schema: Schema of the batches (canonical dotted-path columns plus derived fields).
        id_field: Column holding the policy id copied to the result.

    Returns:
        The compiled rule set; ``warnings`` names rule fields missing from the schema (they
        are treated as null in every row).

    Raises:
        InputError: when the id column is missing or a column's type cannot hold its field kind.
    """
    if schema.get_field_index(id_field) < 0:
        raise InputError(
            f"no policy id column {id_field!r} in the batch schema",
            where="routing input",
            fix="map policy_core.policy_id or pass id_field=",
        )
    warnings: list[str] = []
    seen: set[str] = set()
    for rule in rule_set.rules:
        for predicate in predicates(rule.condition):
            if predicate.field in seen:
                continue
            seen.add(predicate.field)
            index = schema.get_field_index(predicate.field)
            if index < 0:
                warnings.append(
                    f"rule {rule.name!r}: field {predicate.field} is not in the batch schema; "
                    "treated as null in every row"
                )
            elif not _compatible(predicate.kind, schema.field(index).type):
                raise InputError(
                    f"column type {schema.field(index).type} cannot hold a "
                    f"{predicate.kind.value} field",
                    where=f"rule {rule.name!r}, field {predicate.field}",
                    fix=f"map {predicate.field} to a {predicate.kind.value} column",
                )
    return CompiledRuleSet(rule_set, schema, id_field, warnings)
