"""Canonical documents flattened to dotted paths, list items keyed by their ids.

``coverage_sections[COV-1].limits.aggregate`` names one field of one coverage whatever its
position in the list, so a coverage added on one side and an endorsement edited on the other
are independent changes. Lists whose items carry no id (or repeat one) are compared whole.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

#: The keys that identify a list item, tried in order (canonical v1's item ids; rating
#: factors and calculations are identified by their name).
ITEM_KEYS = (
    "coverage_id",
    "endorsement_id",
    "payment_id",
    "document_id",
    "communication_id",
    "notice_id",
    "claim_id",
    "name",
)

_ITEM = re.compile(r"\[[^\]]*\]")


class _Missing:
    """A field absent from a document (deleted on one side, or never there)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def _item_key(items: list[Any]) -> str | None:
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    for key in ITEM_KEYS:
        ids = [i.get(key) for i in items]
        if all(isinstance(v, str | int) and str(v) for v in ids) and len(set(ids)) == len(ids):
            if not any("[" in str(v) or "]" in str(v) or "." in str(v) for v in ids):
                return key
    return None


def flatten(document: dict[str, Any] | BaseModel) -> dict[str, Any]:
    """Dotted path -> leaf value; keyed list items become ``list[id].field`` paths.

    Args:
        document: A canonical policy as a nested dict or a pydantic model.

    Returns:
        The leaves. An item's id field is kept as a leaf too, so an item whose other fields
        are all empty still exists.
    """
    data = document.model_dump(mode="json") if isinstance(document, BaseModel) else document
    flat: dict[str, Any] = {}
    _walk(data, "", flat)
    return flat


def flatten_into(value: Any, prefix: str, flat: dict[str, Any]) -> None:
    """Add the leaves of ``value`` under ``prefix`` to ``flat`` (as :func:`flatten` does)."""
    _walk(value, prefix, flat)


def _walk(value: Any, prefix: str, flat: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for key in sorted(value):
            _walk(value[key], f"{prefix}.{key}" if prefix else str(key), flat)
        return
    if isinstance(value, list | tuple):
        items = list(value)
        key = _item_key(items)
        if key is not None:
            for item in items:
                _walk(item, f"{prefix}[{item[key]}]", flat)
            return
        flat[prefix] = items
        return
    flat[prefix] = value


def pattern_of(path: str) -> str:
    """The catalogue spelling of a path: item ids replaced by ``[]``."""
    return _ITEM.sub("[]", path)


def unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Rebuild a nested document from :func:`flatten`'s paths.

    Keyed list items come out in the order their first path comes in ``flat`` (the order
    :func:`flatten` met them in, which a stored document and a patch of it keep), not in id
    order: a list whose order means something (payments, notices) keeps it.
    """
    tree: dict[str, Any] = {}
    for path, value in flat.items():
        if value is MISSING:
            continue
        node = tree
        parts = _split(path)
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _lists(tree)


def _split(path: str) -> list[str]:
    parts: list[str] = []
    for segment in path.split("."):
        while "[" in segment:
            head, _, rest = segment.partition("[")
            item, _, segment = rest.partition("]")
            parts.extend([head, f"[{item}]"] if head else [f"[{item}]"])
        if segment:
            parts.append(segment)
    return parts


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if node and all(k.startswith("[") for k in node):
        return [_lists(item) for item in node.values()]
    return {k: _lists(v) for k, v in node.items()}


def delta_of(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """The flat paths whose value differs between two flat documents (None: the path is gone)."""
    changed = [p for p, v in after.items() if before.get(p) != v]
    changed.extend(p for p, v in before.items() if v is not None and p not in after)
    changed.sort()
    return {p: after.get(p) for p in changed}
