"""Transform steps applied to whole Arrow columns (pyarrow.compute + numpy, no per-row Python).

Every step returns the converted column and a mask of values it could not convert; a failed value
becomes null and stays failed through the later steps, and the builder records the source text so
the quarantine can say exactly which value in which column did not convert.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from knowledge.glossary import lookup_code, normalize_code
from tools.canonical.dates import parse_dates
from tools.canonical.spec import (
    CodeStep,
    ConstantStep,
    DateStep,
    DefaultStep,
    JoinStep,
    MoneyStep,
    NameSplitStep,
    Step,
    TextStep,
)

CANDIDATE_DECIMAL = pa.decimal128(38, 10)
"""Decimals before validation keep up to 10 places, so too many places is seen, not rounded."""
_MAX_WHOLE = 27  # digits before the point that fit CANDIDATE_DECIMAL with room to shift
# Unicode White_Space, the set pydantic's str_strip_whitespace strips (Rust str::trim).
WHITESPACE_CLASS = r"\t-\r\x{85}\p{Z}"
_NULL_STR = pa.scalar(None, pa.string())


@dataclass
class Converted:
    """A converted column and which values failed (with the step that failed them)."""

    values: pa.Array
    failed: np.ndarray
    reason: list[str | None]  # per failing step: what it expected; indexed by `failed_step`
    failed_step: np.ndarray  # step index + 1 for failed values, 0 otherwise


def _np_bool(array: pa.Array) -> np.ndarray:
    return np.asarray(array.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def is_text(array: pa.Array) -> bool:
    return pa.types.is_string(array.type) or pa.types.is_large_string(array.type)


def strip_text(array: pa.Array) -> pa.Array:
    """Strip white space at both ends; blank becomes null (legacy blanks mean absent).

    Arrow strips Unicode White_Space plus the ASCII separators 0x1C-0x1F: a superset of what
    pydantic's str_strip_whitespace strips, so the model never sees a value it would shorten.
    """
    text = pc.utf8_trim_whitespace(pc.cast(array, pa.string()))
    return pc.if_else(pc.equal(text, ""), _NULL_STR, text)


def _null_where(array: pa.Array, mask: np.ndarray) -> pa.Array:
    if not mask.any():
        return array
    return pc.if_else(pa.array(mask), pa.scalar(None, array.type), array)


# -- money -------------------------------------------------------------------------------------


def _shift(decimals: pa.Array, places: int) -> tuple[pa.Array, np.ndarray]:
    """Divide by 10**places exactly (implied decimals), flagging values that would lose digits."""
    if places == 0:
        return decimals, np.zeros(len(decimals), dtype=bool)
    # Reinterpreting the unscaled integer at a larger scale divides by a power of ten exactly.
    wider = decimals.view(pa.decimal128(38, 10 + places))
    exact = _np_bool(pc.equal(pc.round(wider, 10), wider))
    present = _np_bool(pc.is_valid(wider))
    lossy = present & ~exact
    return pc.cast(_null_where(wider, lossy), CANDIDATE_DECIMAL, safe=False), lossy


def _clean_money_text(text: pa.Array, step: MoneyStep) -> pa.Array:
    text = pc.replace_substring_regex(text, r"[$€£¥\s]", "")
    text = pc.replace_substring_regex(text, r"^\((.*)\)$", r"-\1")
    text = pc.replace_substring_regex(text, r"^([^-+]*\d)([-+])$", r"\2\1")  # COBOL trailing sign
    if step.decimal_comma:
        text = pc.replace_substring_regex(text, r"[.']", "")
        text = pc.replace_substring(text, ",", ".")
    elif step.thousands_separator:
        text = pc.replace_substring(text, step.thousands_separator, "")
    return pc.if_else(pc.equal(text, ""), _NULL_STR, text)


def parse_money(values: pa.Array, step: MoneyStep) -> tuple[pa.Array, np.ndarray]:
    """Convert strings or numbers to exact decimals; returns (decimal array, failed mask)."""
    n = len(values)
    scale = step.scale
    present = _np_bool(pc.is_valid(values))
    if is_text(values):
        text = _clean_money_text(strip_text(values), step)
        present = _np_bool(pc.is_valid(text))
        whole = "\\d{1,%s}" % _MAX_WHOLE  # noqa: UP031 (braces are regex syntax here)
        number = rf"^[+-]?{whole}$" if scale else rf"^[+-]?({whole}(\.\d{{0,10}})?|\.\d{{1,10}})$"
        ok = _np_bool(pc.match_substring_regex(text, number))
        decimals = pc.cast(_null_where(text, ~ok), CANDIDATE_DECIMAL)
        failed = present & ~ok
    elif pa.types.is_integer(values.type):
        decimals = pc.cast(pc.cast(values, pa.decimal128(38, 0)), CANDIDATE_DECIMAL)
        failed = np.zeros(n, dtype=bool)
    elif pa.types.is_floating(values.type):
        finite = _np_bool(pc.less(pc.abs(values), 10.0**_MAX_WHOLE))
        failed = present & ~finite
        decimals = pc.cast(
            pc.round(_null_where(values, ~finite), 10), CANDIDATE_DECIMAL, safe=False
        )
    elif pa.types.is_decimal(values.type):
        rounded = pc.round(values, 10) if values.type.scale > 10 else values
        lossy = present & ~_np_bool(pc.equal(rounded, values))
        decimals = pc.cast(_null_where(rounded, lossy), CANDIDATE_DECIMAL)
        failed = lossy
    else:
        return pa.nulls(n, CANDIDATE_DECIMAL), present
    shifted, lossy = _shift(decimals, scale)
    return shifted, failed | lossy


# -- codes, names, text ------------------------------------------------------------------------


def translate_codes(values: pa.Array, step: CodeStep) -> tuple[pa.Array, np.ndarray]:
    """Look codes up once per distinct value, then spread the answers with one `take`."""
    text = strip_text(values)
    encoded = pc.dictionary_encode(text)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    distinct = encoded.dictionary.to_pylist()
    explicit = (
        {normalize_code(k): v for k, v in step.values.items()}
        if step.case_insensitive
        else dict(step.values)
    )
    answers: list[str | None] = []
    unknown: list[bool] = []
    for code in distinct:
        key = normalize_code(code) if step.case_insensitive else code
        found = explicit.get(key)
        if found is None and step.table:
            found = lookup_code(step.table, code)
        unknown.append(found is None)
        if found is None:
            found = code if step.on_unknown == "keep" else None
        answers.append(found)
    indices = encoded.indices
    result = pc.take(pa.array(answers, pa.string()), indices)
    if step.on_unknown != "error" or not any(unknown):
        return result, np.zeros(len(values), dtype=bool)
    failed = _np_bool(pc.take(pa.array(unknown, pa.bool_()), indices))
    return result, failed


def split_name(values: pa.Array, part: str) -> pa.Array:
    """First or last name of `First [Middle] Last` or `Last, First` full names."""
    text = strip_text(values)
    comma = pc.extract_regex(text, r"^(?P<last>[^,]+?)\s*,\s*(?P<first>.+)$")
    spaced = pc.extract_regex(text, r"^(?P<first>.+?)\s+(?P<last>\S+)$")
    has_comma = pc.is_valid(comma)
    index = 1 if part == "first" else 0  # field order of each struct: last, first / first, last
    from_comma = pc.struct_field(comma, [index])
    from_spaced = pc.struct_field(spaced, [0 if part == "first" else 1])
    single = text if part == "last" else pa.nulls(len(text), pa.string())
    chosen = pc.if_else(has_comma, from_comma, pc.if_else(pc.is_valid(spaced), from_spaced, single))
    return strip_text(chosen)


def join_text(parts: list[pa.Array], separator: str) -> pa.Array:
    # Pairwise with coalesce: null_handling="skip" drops all-null rows in pyarrow 26.
    joined = strip_text(parts[0])
    for part in parts[1:]:
        text = strip_text(part)
        both = pc.binary_join_element_wise(joined, text, separator)
        joined = pc.coalesce(both, joined, text)
    return joined


def shape_text(values: pa.Array, step: TextStep) -> pa.Array:
    text = strip_text(values) if step.trim else pc.cast(values, pa.string())
    if step.upper:
        text = pc.utf8_upper(text)
    if step.lower:
        text = pc.utf8_lower(text)
    if step.pad_left:
        text = pc.utf8_lpad(text, width=step.pad_left, padding=step.pad_char)
    if step.prefix or step.suffix:
        text = pc.binary_join_element_wise(step.prefix, text, step.suffix, "")
    return text


# -- pipeline ----------------------------------------------------------------------------------


def describe(step: Step) -> str:
    """A short human description of a step, used in error messages."""
    if isinstance(step, DateStep):
        return f"a date in format {step.format}"
    if isinstance(step, MoneyStep):
        extra = [f"{step.scale} implied decimals"] if step.scale else []
        extra += ["decimal comma"] if step.decimal_comma else []
        return "an amount" + (f" ({', '.join(extra)})" if extra else "")
    if isinstance(step, CodeStep):
        return f"a known code{f' in table {step.table}' if step.table else ''}"
    return step.kind


def apply_steps(
    values: pa.Array, steps: tuple[Step, ...], extra: Mapping[str, pa.Array] | None = None
) -> Converted:
    """Run the value steps of a rule (not default/constant) over a column.

    Args:
        values: the source column (or the constant column).
        steps: the rule's transform steps, in order.
        extra: further source columns by name, for join steps.

    Returns:
        The converted column (type depends on the last step) and the failures.
    """
    n = len(values)
    failed_step = np.zeros(n, dtype=np.int8)
    reasons: list[str | None] = []
    current = values
    for number, step in enumerate(steps, start=1):
        reasons.append(describe(step))
        failed = np.zeros(n, dtype=bool)
        if isinstance(step, DateStep):
            current, failed = parse_dates(current, step.format, step.null_values)
        elif isinstance(step, MoneyStep):
            current, failed = parse_money(current, step)
        elif isinstance(step, CodeStep):
            current, failed = translate_codes(current, step)
        elif isinstance(step, NameSplitStep):
            current = split_name(current, step.part)
        elif isinstance(step, JoinStep):
            current = join_text(
                [current, *[(extra or {})[c] for c in step.columns]], step.separator
            )
        elif isinstance(step, TextStep):
            current = shape_text(current, step)
        elif isinstance(step, DefaultStep | ConstantStep):
            continue
        new = failed & (failed_step == 0)
        failed_step[new] = number
        if failed.any():
            current = _null_where(current, failed)
    return Converted(current, failed_step > 0, reasons, failed_step)


def constant_array(value: str | int | float | Decimal, n: int) -> pa.Array:
    """A column holding `value` n times, as text (the target conversion types it)."""
    return pa.array([str(value)] * n, pa.string()) if n else pa.array([], pa.string())
