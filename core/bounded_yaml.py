"""YAML loading with bounds, for every YAML document data-mash reads from a user.

PyYAML's ``SafeLoader`` builds no arbitrary objects, but it still trusts a document's shape: a
few hundred bytes of nested aliases (a "billion laughs" document) expand to billions of nodes
for whoever walks the result, a 1,000-deep list overflows the parser's recursion, a 5,000-digit
integer fails Python's int conversion, and a NUL or ``\\x0b`` character is a ``ReaderError``
without a line. :class:`BoundedSafeLoader` refuses each of these up front, in time linear in
the document, with a ``MarkedYAMLError`` that carries the line and column, so every caller's
existing handling of malformed YAML reports it like any other syntax error.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.error import Mark

MAX_DOCUMENT_CHARS = 2_000_000
MAX_ALIASES = 100
MAX_EXPANDED_NODES = 100_000  # nodes of the document with every alias expanded
MAX_DEPTH = 64
MAX_INT_DIGITS = 100


class YamlLimitError(yaml.MarkedYAMLError):
    """A YAML document over one of the bounds above (with where it went over)."""


def _mark_at(text: str, index: int) -> Mark:
    line = text.count("\n", 0, index)
    column = index - (text.rfind("\n", 0, index) + 1)
    return Mark("<yaml>", index, line, column, None, None)


class BoundedSafeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses oversized, over-aliased, too deep or unreadable input.

    Oversized text and control characters are refused by the constructor itself (PyYAML reads
    a string stream when it is made), so create the loader inside the ``try`` that handles
    ``yaml.YAMLError``.
    """

    def __init__(self, stream: str | bytes) -> None:
        if isinstance(stream, bytes):
            try:
                stream = stream.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise YamlLimitError(
                    problem="is not UTF-8 text", problem_mark=_mark_at("", 0)
                ) from exc
        if not isinstance(stream, str):
            stream = stream.read()  # a file object: bounded below like any text
        if len(stream) > MAX_DOCUMENT_CHARS:
            raise YamlLimitError(
                problem=f"document of {len(stream):,} characters is over the "
                f"{MAX_DOCUMENT_CHARS:,} limit",
                problem_mark=_mark_at(stream, MAX_DOCUMENT_CHARS),
            )
        self._text = stream
        super().__init__(stream)
        self._aliases = 0
        self._depth = 0
        self._sizes: dict[int, int] = {}
        self._over: Mark | None = None

    def check_printable(self, data: str) -> None:
        # PyYAML raises ReaderError (no line, not a MarkedYAMLError) for control characters.
        match = self.NON_PRINTABLE.search(data)
        if match:
            raise YamlLimitError(
                problem=f"control character {match.group()!r} is not allowed in YAML "
                "(remove it, or write it escaped inside a double-quoted string)",
                problem_mark=_mark_at(self._text, self._text.find(match.group())),
            )

    def fetch_flow_collection_start(self, TokenClass: Any) -> None:  # noqa: N803 (PyYAML's name)
        # Refuse deep flow nesting ([[[[...) while scanning: PyYAML's scanner does work per open
        # level for every token, so thousands of levels would take quadratic time to reach the
        # composer's depth check below.
        if self.flow_level >= MAX_DEPTH:  # type: ignore[attr-defined]
            raise YamlLimitError(
                problem=f"nested more than {MAX_DEPTH} levels deep",
                problem_mark=self.get_mark(),  # type: ignore[no-untyped-call]
            )
        super().fetch_flow_collection_start(TokenClass)  # type: ignore[misc]

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):  # type: ignore[no-untyped-call]
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise YamlLimitError(
                    problem=f"more than {MAX_ALIASES} aliases (*name); write the values out",
                    problem_mark=self.peek_event().start_mark,  # type: ignore[no-untyped-call]
                )
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise YamlLimitError(
                problem=f"nested more than {MAX_DEPTH} levels deep",
                problem_mark=self.peek_event().start_mark,  # type: ignore[no-untyped-call]
            )
        try:
            return super().compose_node(parent, index)  # type: ignore[no-untyped-call]
        finally:
            self._depth -= 1

    def compose_document(self) -> Any:
        node = super().compose_document()  # type: ignore[no-untyped-call]
        # Without aliases the tree is no bigger than the text, which is bounded already.
        if node is not None and self._aliases and self._expanded_size(node) > MAX_EXPANDED_NODES:
            raise YamlLimitError(
                problem=f"expands to more than {MAX_EXPANDED_NODES:,} values through its "
                "aliases (an alias bomb?); write the values out",
                problem_mark=self._over or node.start_mark,
            )
        return node

    def _expanded_size(self, node: yaml.Node) -> int:
        """Nodes in the tree with every alias expanded; each shared node is sized once."""
        known = self._sizes.get(id(node))
        if known is not None:
            return known
        size = 1
        if isinstance(node, yaml.SequenceNode):
            for child in node.value:
                size += self._expanded_size(child)
                if size > MAX_EXPANDED_NODES:
                    break
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                size += self._expanded_size(key) + self._expanded_size(value)
                if size > MAX_EXPANDED_NODES:
                    break
        if size > MAX_EXPANDED_NODES and self._over is None:
            self._over = node.start_mark  # the innermost node over the bound: the culprit
        self._sizes[id(node)] = size
        return size

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        digits = sum(c.isdigit() for c in str(node.value))
        if digits > MAX_INT_DIGITS:
            raise YamlLimitError(
                problem=f"integer of {digits:,} digits (at most {MAX_INT_DIGITS})",
                problem_mark=node.start_mark,
            )
        return super().construct_yaml_int(node)  # type: ignore[no-untyped-call]


BoundedSafeLoader.add_constructor(
    "tag:yaml.org,2002:int",
    BoundedSafeLoader.construct_yaml_int,  # type: ignore[arg-type]
)


def load_bounded(text: str | bytes) -> Any:
    """``yaml.safe_load`` under the bounds of :class:`BoundedSafeLoader`.

    Raises:
        yaml.YAMLError: malformed or over a bound (a ``MarkedYAMLError`` with line and column).
    """
    loader = BoundedSafeLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def compose_bounded(text: str) -> yaml.Node | None:
    """``yaml.compose`` under the same bounds (for callers that want node line numbers)."""
    loader = BoundedSafeLoader(text)
    try:
        return loader.get_single_node()  # type: ignore[no-untyped-call]
    finally:
        loader.dispose()
