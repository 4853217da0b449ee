"""Whole-file numeric typing of text columns (CSV, fixed width), vectorised with pyarrow.compute.

Text readers decode every column as string in a first pass and observe, per column, whether every
non-null value is a plain integer or a decimal number. A column becomes int64 only if every value
is an integer without leading zeros (``00123`` is an identifier, not the number 123), decimal128
only if every value is numeric (scale = the most fraction digits seen). Everything else, dates
included, stays a string: the profiler, not the reader, decides what a text column means.
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

_INT_RE = r"^[+-]?(0|[1-9][0-9]{0,17})$"
_MAX_SCALE = 12


class NumericColumnTyper:
    """Observes string batches, then casts later batches of the same file to the chosen types."""

    def __init__(self, decimal: str = ".", thousands: str | None = None) -> None:
        self.decimal = decimal
        self.thousands = thousands
        d, t = re.escape(decimal), re.escape(thousands) if thousands else None
        # no leading zeros: "007" is a code, "0.5" a number
        int_part = rf"0|[1-9][0-9]{{0,2}}({t}[0-9]{{3}})*|[1-9][0-9]*" if t else r"0|[1-9][0-9]*"
        self._dec_re = rf"^[+-]?({int_part})?({d}[0-9]+)?$"
        self._frac_re = rf"{d}[0-9]+$"
        self._seen: dict[str, dict[str, int | bool]] = {}

    def observe(self, batch: pa.RecordBatch) -> None:
        """Record, per string column, whether every value so far is integer / decimal shaped."""
        for name, col in zip(batch.schema.names, batch.columns, strict=True):
            if not pa.types.is_string(col.type) and not pa.types.is_large_string(col.type):
                continue
            st = self._seen.setdefault(name, {"int": True, "dec": True, "scale": 0, "values": 0})
            valid = pc.drop_null(col)
            if len(valid) == 0:
                continue
            st["values"] = int(st["values"]) + len(valid)
            if st["int"]:
                st["int"] = bool(pc.all(pc.match_substring_regex(valid, _INT_RE)).as_py())
            if st["dec"]:
                ok = pc.all(pc.match_substring_regex(valid, self._dec_re))
                # a lone sign or empty number part would pass the optional groups
                st["dec"] = bool(ok.as_py()) and not bool(
                    pc.any(pc.match_substring_regex(valid, r"^[+-]?$")).as_py()
                )
            if st["dec"] and not st["int"]:
                frac = pc.extract_regex(valid, rf"(?P<f>{self._frac_re})")
                lengths = pc.utf8_length(pc.struct_field(frac, "f"))
                longest = pc.max(lengths).as_py() or 0
                st["scale"] = max(int(st["scale"]), longest - 1)

    @property
    def seen(self) -> dict[str, dict[str, int | bool]]:
        """What was observed per column (plain data: a range's survey sent to the driver)."""
        return {name: dict(st) for name, st in self._seen.items()}

    def merge(self, seen: dict[str, dict[str, int | bool]]) -> None:
        """Add another stretch's observations (:attr:`seen`): the types are then those of
        both stretches read in order, as if one typer had observed them all."""
        for name, other in seen.items():
            st = self._seen.setdefault(name, {"int": True, "dec": True, "scale": 0, "values": 0})
            st["values"] = int(st["values"]) + int(other["values"])
            st["int"] = bool(st["int"]) and bool(other["int"])
            st["dec"] = bool(st["dec"]) and bool(other["dec"])
            st["scale"] = max(int(st["scale"]), int(other["scale"]))

    def types(self) -> dict[str, pa.DataType]:
        """The final type per observed column."""
        out: dict[str, pa.DataType] = {}
        for name, st in self._seen.items():
            if not st["values"]:
                out[name] = pa.string()
            elif st["int"]:
                out[name] = pa.int64()
            elif st["dec"] and int(st["scale"]) <= _MAX_SCALE:
                out[name] = pa.decimal128(38, int(st["scale"]))
            elif st["dec"]:
                out[name] = pa.float64()
            else:
                out[name] = pa.string()
        return out

    def apply(self, batch: pa.RecordBatch, types: dict[str, pa.DataType]) -> pa.RecordBatch:
        """Cast the numeric columns of a string batch to ``types``."""
        arrays = []
        for name, col in zip(batch.schema.names, batch.columns, strict=True):
            target = types.get(name, col.type)
            if target != col.type and pa.types.is_string(col.type):
                text = col
                if self.thousands:
                    text = pc.replace_substring(text, self.thousands, "")
                if self.decimal != ".":
                    text = pc.replace_substring(text, self.decimal, ".")
                text = pc.replace_substring_regex(text, r"^\+", "")
                col = pc.cast(text, target)
            arrays.append(col)
        return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)
