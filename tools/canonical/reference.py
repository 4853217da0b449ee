"""The careful path: candidate rows as nested dicts, validated one by one with the pydantic model.

Used to prove the bulk checks (`fastcheck`) exactly as strict as the model, and by the benchmark to
measure per-record validation. Records are nested the way the bulk path reads presence: an
optional object appears when anything below it has a value; a value that a transform could not
convert appears as `{"unconverted": <message>}`, which the model rejects for any field type.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from knowledge.canonical import FieldError, validation_errors
from tools.canonical.build import FAIL, ROW
from tools.canonical.model_tree import ObjectNode, model_tree


def _leaf_value(flat: dict[str, Any], name: str) -> Any:
    failure = flat.get(FAIL + name)
    if failure is not None:
        return {"unconverted": failure}
    return flat.get(name)


def _nest(node: ObjectNode, flat: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The dict of one object and whether anything below it has a value."""
    out: dict[str, Any] = {}
    content = False
    for leaf in node.leaves:
        value = _leaf_value(flat, leaf.name)
        out[leaf.name.rsplit(".", 1)[-1]] = value
        content |= value is not None
    for child in node.children:
        key = child.path.removesuffix("[]").rsplit(".", 1)[-1]
        if child.is_list_item:
            items = [_nest(child, item)[0] for item in flat.get(child.list_path or "") or []]
            out[key] = items
            content |= bool(items)
            continue
        value, has = _nest(child, flat)
        content |= has
        out[key] = value if (has or child.required) else None
    return out, content


def candidate_records(table: pa.Table, version: str = "policy_v1") -> Iterator[dict[str, Any]]:
    """Nested record dicts of a candidate table, in row order."""
    tree = model_tree(version)
    for batch in table.to_batches():
        for flat in batch.to_pylist():
            flat.pop(ROW, None)
            yield _nest(tree, flat)[0]


def reference_errors(table: pa.Table, version: str = "policy_v1") -> list[list[FieldError]]:
    """Per-record pydantic validation of a candidate table: one error list per row."""
    return [validation_errors(record, version) for record in candidate_records(table, version)]
