"""Why records are invalid: errors grouped by field and message, counted, with example keys.

A count of invalid records says nothing a person can act on; "policy_core.status: 'ZZ' is not one
of ... (569 records, e.g. P0000006, P0000013)" does. Batches are tallied one at a time and the
number of distinct reasons held is capped, so memory does not grow with the source.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import pyarrow as pa

from tools.canonical.contracts import ErrorReason

_LIST_INDEX = re.compile(r"\[\d+\]")
EXAMPLES = 3
#: Distinct reasons held at once; further ones are counted under their field's "other" reason.
MAX_REASONS = 500
OTHER = "(other messages)"


def batch_reasons(candidates: pa.Table, errors: pa.Table) -> list[dict[str, Any]]:
    """Reasons of one checked batch (``errors``: row, path, message, kind), as plain dicts."""
    if errors.num_rows == 0:
        return []
    ids = (
        candidates.column("policy_core.policy_id").to_pylist()
        if "policy_core.policy_id" in candidates.column_names
        else None
    )
    rows = candidates.column("!row").to_pylist() if "!row" in candidates.column_names else None
    columns = errors.select(["row", "path", "kind", "message"]).to_pydict()
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    counted: set[tuple[tuple[str, str, str], int]] = set()  # a record counts once per reason
    for row, path, kind, message in zip(
        columns["row"], columns["path"], columns["kind"], columns["message"], strict=True
    ):
        # coverage_sections[0] and [2] failing the same way are one reason, not two.
        key = (_LIST_INDEX.sub("[]", str(path)), str(kind), str(message))
        if (key, row) in counted:
            continue
        counted.add((key, row))
        entry = found.get(key)
        if entry is None:
            if len(found) >= MAX_REASONS:
                key = (str(path), "other", OTHER)
                entry = found.get(key)
            if entry is None:
                entry = found[key] = {
                    "path": key[0],
                    "kind": key[1],
                    "message": key[2],
                    "records": 0,
                    "examples": [],
                }
        entry["records"] += 1
        if len(entry["examples"]) < EXAMPLES:
            name = ids[row] if ids and ids[row] else None
            entry["examples"].append(str(name) if name else f"row {rows[row] if rows else row}")
    return list(found.values())


class ReasonTally:
    """Reasons merged over batches (bounded), most frequent first."""

    def __init__(self) -> None:
        self._reasons: dict[tuple[str, str, str], dict[str, Any]] = {}

    def add(self, reasons: Iterable[dict[str, Any]]) -> None:
        for reason in reasons:
            key = (reason["path"], reason["kind"], reason["message"])
            if key not in self._reasons and len(self._reasons) >= MAX_REASONS:
                key = (reason["path"], "other", OTHER)
            held = self._reasons.setdefault(
                key,
                {"path": key[0], "kind": key[1], "message": key[2], "records": 0, "examples": []},
            )
            held["records"] += int(reason["records"])
            room = EXAMPLES - len(held["examples"])
            if room > 0:
                held["examples"].extend(reason["examples"][:room])

    def top(self, limit: int = 20) -> list[ErrorReason]:
        ranked = sorted(
            self._reasons.values(), key=lambda r: (-r["records"], r["path"], r["message"])
        )
        return [ErrorReason(**r) for r in ranked[:limit]]
