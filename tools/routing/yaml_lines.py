"""YAML loading that remembers the line of every mapping, for located validation messages."""

from __future__ import annotations

from typing import Any

import yaml

from core.bounded_yaml import BoundedSafeLoader
from tools.routing.model import Issue

#: Key added to every loaded mapping: the 1-based line where the mapping starts.
LINE_KEY = "__line__"


class _LineLoader(BoundedSafeLoader):
    """Bounded SafeLoader that stamps mappings with their line and records duplicate keys.

    Bounded (see :mod:`core.bounded_yaml`): an alias bomb, a 1,000-deep list, a huge integer or
    a control character is one located "malformed YAML" issue, found in linear time.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicate_keys: list[tuple[str, int]] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
            if not isinstance(key, str | int | float | bool):
                continue
            if key in seen:
                # PyYAML silently keeps the last duplicate; a rule file must not.
                self.duplicate_keys.append((str(key), key_node.start_mark.line + 1))
            seen.add(key)
        mapping = super().construct_mapping(node, deep=deep)
        mapping[LINE_KEY] = node.start_mark.line + 1
        return mapping


def load_yaml_with_lines(text: str) -> tuple[Any, list[Issue]]:
    """Parse YAML text; every mapping carries ``__line__``.

    Args:
        text: The YAML document.

    Returns:
        ``(data, issues)``: data is None when the YAML is malformed, and issues then holds one
        error with the line and column of the problem. Duplicate keys are reported as issues too.
    """
    loader: _LineLoader | None = None
    try:
        loader = _LineLoader(text)  # refuses oversized text and control characters already
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        return None, [
            Issue(
                rule=None,
                line=mark.line + 1 if mark else None,
                column=mark.column + 1 if mark else None,
                message=f"malformed YAML: {problem}; fix the syntax at this position",
            )
        ]
    except yaml.YAMLError as exc:
        return None, [Issue(rule=None, line=None, message=f"malformed YAML: {exc}")]
    finally:
        if loader is not None:
            loader.dispose()
    issues = [
        Issue(rule=None, line=line, message=f"duplicate key {key!r}: keep only one")
        for key, line in loader.duplicate_keys  # type: ignore[union-attr]
    ]
    return data, issues
