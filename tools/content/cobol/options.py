"""Options of the ``cobol`` reader: names, defaults, validation (cobrix spellings accepted).

Defaults follow cobrix's documented ones: EBCDIC ``common`` code page (ASCII for the text
record formats D, D2, T), fixed-length records, strings trimmed on both sides, improved null
detection on, strict sign overpunching (an overpunched sign on an unsigned field is invalid),
IBM hexadecimal floats, fillers dropped (group fillers kept as FILLER_n), the 01 level collapsed,
OCCURS DEPENDING ON arrays at their maximum size. Invalid numeric values become null and are
reported as BadRecords (``invalid_value: null``); ``drop`` quarantines the whole record,
``error`` stops.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from core.errors import InputError
from tools.content.cobol.codepages import code_page_table
from tools.content.cobol.layout import MAX_RECORD_BYTES

ALIASES = {
    "is_rdw_big_endian": "rdw_big_endian",
    "ebcdic_code_page": "encoding",
    "debug_ignore_file_size": "allow_partial_last_record",
    "copybooks": "copybook",
    "redefine-segment-id-map": "redefine_segment_id_map",
}
RECORD_FORMATS = ("F", "FB", "V", "VB", "D", "D2", "T")
TEXT_FORMATS = ("D", "D2", "T")


@dataclass
class CobolOptions:
    """Validated reader options (see the module docstring for defaults)."""

    copybook: list[str] = field(default_factory=list)
    copybook_contents: str | None = None
    copybook_format: str = "fixed"
    # cobrix's documented default: EBCDIC (``common``) for binary record formats and ASCII for
    # the text formats (D, D2, T); encoding_given records whether the user chose one
    encoding: str = "common"
    encoding_given: bool = False
    ascii_charset: str | None = None
    code_page_file: str | None = None
    record_format: str = "F"
    record_length: int | None = None
    rdw_big_endian: bool = False
    rdw_adjustment: int = 0
    is_rdw_part_of_record_length: bool = False
    bdw_big_endian: bool = True
    record_start_offset: int = 0
    record_end_offset: int = 0
    file_start_offset: int = 0
    file_end_offset: int = 0
    record_header: dict[str, int] | None = None
    record_length_field: str | None = None
    minimum_record_length: int = 0
    maximum_record_length: int | None = None
    # max_size (false): arrays always take their maximum size; shift_record (true): fields after
    # an OCCURS DEPENDING ON follow its last element; pad_record: shifted, record padded to max
    variable_size_occurs: str = "max_size"
    occurs_mappings: dict[str, dict[str, int]] = field(default_factory=dict)
    segment_field: str | None = None
    segment_filter: list[str] = field(default_factory=list)
    redefine_segment_id_map: dict[str, list[str]] = field(default_factory=dict)
    string_trimming_policy: str = "both"
    improved_null_detection: bool = True
    floating_point_format: str = "IBM"
    # cobrix's documented default: an overpunched sign on an unsigned field is invalid (null);
    # false allows a positive one (a negative sign on an unsigned field is null either way)
    strict_sign_overpunching: bool = True
    strict_binary: bool = False
    # cobrix turns a blank 9(n)V99 into 0; in a migration a blank amount is missing, not zero.
    blank_implied_decimal_as_zero: bool = False
    invalid_value: str = "null"
    drop_value_fillers: bool = True
    drop_group_fillers: bool = False
    filler_naming_policy: str = "sequence_numbers"
    schema_retention_policy: str = "collapse_root"
    non_terminals: list[str] = field(default_factory=list)
    allow_partial_last_record: bool = False
    generate_record_id: bool = False


def _bool(name: str, v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.strip().lower() in ("true", "false", "yes", "no", "1", "0"):
        return v.strip().lower() in ("true", "yes", "1")
    if isinstance(v, int) and v in (0, 1):
        return bool(v)
    raise InputError(f"option {name} must be true or false, got {v!r}", where=f"option {name}")


VARIABLE_OCCURS_MODES = ("max_size", "shift_record", "pad_record")


def _occurs_mode(name: str, v: Any) -> str:
    """cobrix spellings: true = shift_record, false = max_size, or a mode name."""
    if isinstance(v, str) and v.strip().lower() in VARIABLE_OCCURS_MODES:
        return v.strip().lower()
    try:
        return "shift_record" if _bool(name, v) else "max_size"
    except InputError:
        raise InputError(
            f"option {name} is {v!r}",
            where=f"option {name}",
            fix="use true/false or one of " + ", ".join(VARIABLE_OCCURS_MODES),
        ) from None


def _int(name: str, v: Any) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        raise InputError(
            f"option {name} must be a whole number, got {v!r}", where=f"option {name}"
        ) from None


def _list(v: Any) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str):
        return [p.strip() for p in v.split(",") if p.strip()]
    return [str(x) for x in v]


def _segment_map(v: Any) -> dict[str, list[str]]:
    """Accept {GROUP: [ids]} or cobrix strings 'GROUP => C,D' (single or a list)."""
    if isinstance(v, Mapping):
        return {str(k): _list(ids) for k, ids in v.items()}
    out: dict[str, list[str]] = {}
    for item in _list(v) if not isinstance(v, str) else [v]:
        if "=>" not in item:
            raise InputError(
                f"redefine_segment_id_map entry {item!r} is not 'GROUP => ids'",
                where="option redefine_segment_id_map",
            )
        group, ids = item.split("=>", 1)
        out[group.strip()] = _list(ids)
    return out


def parse_options(raw: Mapping[str, Any], data_path: Path | None = None) -> CobolOptions:
    """Validate reader options.

    Args:
        raw: the ``options`` mapping from the source config.
        data_path: the data file (relative copybook paths are also tried next to it).

    Returns:
        The :class:`CobolOptions`.

    Raises:
        InputError: an unknown option or a bad value, naming the option.
    """
    known = {f.name: f for f in fields(CobolOptions)}
    o = CobolOptions()
    for key, value in raw.items():
        name = ALIASES.get(key, key)
        if name.startswith("redefine_segment_id_map:") or name.startswith(
            "redefine-segment-id-map:"
        ):
            o.redefine_segment_id_map.update(_segment_map(str(value)))
            continue
        if name not in known:
            raise InputError(
                f"unknown cobol reader option {key!r}",
                where=f"option {key}",
                fix="valid options: " + ", ".join(sorted(known)),
            )
        default = getattr(CobolOptions(), name)
        if name == "copybook":
            value = _list(value)
        elif name in ("segment_filter", "non_terminals"):
            value = _list(value)
        elif name == "redefine_segment_id_map":
            value = _segment_map(value)
        elif name == "occurs_mappings":
            value = json.loads(value) if isinstance(value, str) else dict(value)
        elif name == "record_header":
            value = {str(k): _int(f"record_header.{k}", x) for k, x in dict(value).items()}
        elif name == "variable_size_occurs":
            value = _occurs_mode(key, value)
        elif name == "encoding_given":
            raise InputError(f"unknown cobol reader option {key!r}", where=f"option {key}")
        elif isinstance(default, bool):
            value = _bool(key, value)
        elif isinstance(default, int) or name in ("record_length", "maximum_record_length"):
            value = None if value is None else _int(key, value)
        elif value is not None:
            value = str(value)
        setattr(o, name, value)
        if name in ("encoding", "ascii_charset", "code_page_file") and value:
            o.encoding_given = True
    _validate(o, data_path)
    return o


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise InputError(
            f"option {name} is {value!r}",
            where=f"option {name}",
            fix=f"use one of {', '.join(allowed)}",
        )


def _validate(o: CobolOptions, data_path: Path | None) -> None:
    o.record_format = o.record_format.upper()
    _choice("record_format", o.record_format, RECORD_FORMATS)
    _choice(
        "string_trimming_policy",
        o.string_trimming_policy,
        ("both", "left", "right", "none", "keep_all"),
    )
    _choice(
        "floating_point_format",
        o.floating_point_format.upper(),
        ("IBM", "IBM_LITTLE_ENDIAN", "IEEE754", "IEEE754_LITTLE_ENDIAN"),
    )
    _choice("invalid_value", o.invalid_value, ("null", "drop", "error"))
    _choice(
        "schema_retention_policy", o.schema_retention_policy, ("collapse_root", "keep_original")
    )
    _choice(
        "filler_naming_policy", o.filler_naming_policy, ("sequence_numbers", "previous_field_name")
    )
    _choice("copybook_format", o.copybook_format, ("fixed", "free"))
    if o.ascii_charset:
        o.encoding = o.ascii_charset
    if not o.encoding_given and o.record_format in TEXT_FORMATS:
        o.encoding = "ascii"  # cobrix: text record formats default to ASCII
    code_page_table(o.encoding, o.code_page_file)  # raises InputError for unknown pages
    for name in (
        "record_start_offset",
        "record_end_offset",
        "file_start_offset",
        "file_end_offset",
        "minimum_record_length",
    ):
        if getattr(o, name) < 0:
            raise InputError(f"option {name} cannot be negative", where=f"option {name}")
    if o.record_length is not None and not 0 < o.record_length <= MAX_RECORD_BYTES:
        raise InputError(
            f"option record_length must be between 1 and {MAX_RECORD_BYTES:,}",
            where="option record_length",
        )
    if not o.copybook and not o.copybook_contents:
        raise InputError(
            "the cobol reader needs a copybook",
            where="option copybook",
            fix="set copybook: path/to/layout.cpy",
        )
    resolved = []
    for cb in o.copybook:
        p = Path(cb)
        if not p.is_file() and data_path is not None and (data_path.parent / cb).is_file():
            p = data_path.parent / cb
        resolved.append(str(p))
    o.copybook = resolved
    if o.is_rdw_part_of_record_length:
        o.rdw_adjustment -= 4
    if o.record_header is not None:
        allowed = {
            "length",
            "length_offset",
            "length_size",
            "big_endian",
            "adjustment",
            "valid_byte_offset",
            "valid_byte_value",
        }
        extra = set(o.record_header) - allowed
        if extra or "length" not in o.record_header:
            raise InputError(
                "record_header needs 'length' and accepts only " + ", ".join(sorted(allowed)),
                where="option record_header",
            )
