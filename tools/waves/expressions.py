"""A small, safe expression language over canonical columns, evaluated with pyarrow.compute.

Business-rule gates are configured with expressions such as ``expiration_date > effective_date``
or ``premium_amount > 0 and status in ('active', 'pending')``. They are parsed by a recursive
descent parser into a tiny tree and evaluated column-wise; nothing is ever handed to ``eval``.

Grammar (lowest precedence first)::

    expr    := and ('or' and)*
    and     := not ('and' not)*
    not     := 'not' not | compare
    compare := sum (('=='|'!='|'<'|'<='|'>'|'>=') sum | 'in' '(' literal (',' literal)* ')'
               | 'is' ['not'] 'null')?
    sum     := term (('+'|'-') term)*
    term    := atom (('*'|'/') atom)*
    atom    := NUMBER | STRING | 'true' | 'false' | NAME | FUNC '(' [expr (',' expr)*] ')'
               | '(' expr ')' | '-' atom

Names are canonical dotted paths (``policy_core.effective_date``) or an unambiguous suffix of
one (``effective_date``, ``premium_amount``). Functions: ``date('2020-01-01')``, ``length(x)``
(list or text length), ``is_null(x)``, ``lower(x)``. A row whose rule evaluates to null (a value
is missing) fails the rule: the gates fail closed.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from core.errors import InputError

_TOKEN = re.compile(
    r"""\s*(?:(?P<num>\d+(?:\.\d+)?)|(?P<str>'[^']*'|"[^"]*")
    |(?P<op>==|!=|<=|>=|<|>|\(|\)|,|\+|-|\*|/)|(?P<name>[A-Za-z_][A-Za-z0-9_.]*))""",
    re.X,
)
_COMPARE = {
    "==": pc.equal,
    "!=": pc.not_equal,
    "<": pc.less,
    "<=": pc.less_equal,
    ">": pc.greater,
    ">=": pc.greater_equal,
}
_ARITH = {"+": pc.add, "-": pc.subtract, "*": pc.multiply, "/": pc.divide}
_KEYWORDS = {"and", "or", "not", "in", "is", "null", "true", "false"}
# Bounds on hostile rules: each one a clear error, in time linear in the rule's length.
MAX_RULE_LENGTH = 2000
MAX_NESTING = 50  # parentheses, 'not', unary '-' and function calls inside each other
MAX_NUMBER_DIGITS = 30
_FUNCTIONS = {"date", "length", "is_null", "lower"}


@dataclass(frozen=True)
class Node:
    kind: str  # name | lit | call | bin | not | in | isnull
    value: Any = None
    args: tuple[Node, ...] = ()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str, int]] = []
        self.depth = 0
        if len(text) > MAX_RULE_LENGTH:
            raise InputError(
                f"business rule {text[:60]!r}... is {len(text):,} characters long",
                where=f"column {MAX_RULE_LENGTH + 1}",
                fix=f"keep a rule under {MAX_RULE_LENGTH:,} characters; split it into several",
            )
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            match = _TOKEN.match(text, pos)
            if not match or match.end() == pos:
                raise self.error(f"unexpected character {text[pos:].lstrip()[:1]!r}", pos)
            kind = match.lastgroup or ""
            self.tokens.append((kind, match.group(kind), match.start(kind)))
            pos = match.end()
        self.i = 0

    def error(self, what: str, pos: int | None = None) -> InputError:
        at = (
            pos
            if pos is not None
            else (self.tokens[self.i][2] if self.i < len(self.tokens) else len(self.text))
        )
        return InputError(
            f"{what} in business rule {self.text!r}",
            where=f"column {at + 1}",
            fix="use names, numbers, 'text', comparisons, and/or/not, in (...)",
        )

    def nested(self, node: Any) -> Any:
        """Leave one nesting level (see :meth:`enter`)."""
        self.depth -= 1
        return node

    def enter(self) -> None:
        """Enter one nesting level; refuse before Python's own recursion limit is near."""
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.error(f"nested more than {MAX_NESTING} levels deep")

    def number(self, text: str) -> int | float:
        if len(text) > MAX_NUMBER_DIGITS:
            self.i -= 1
            raise self.error(f"number with {len(text):,} digits (at most {MAX_NUMBER_DIGITS})")
        if "." in text:
            return float(text)
        value = int(text)
        return value if value < 2**63 else float(value)  # beyond int64: compare as a float

    def peek(self) -> str | None:
        return self.tokens[self.i][1] if self.i < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str, int]:
        if self.i >= len(self.tokens):
            raise self.error(
                f"expected {expected!r} but the rule ended"
                if expected
                else "the rule ended too early"
            )
        token = self.tokens[self.i]
        if expected is not None and token[1].lower() != expected:
            raise self.error(f"expected {expected!r}, found {token[1]!r}")
        self.i += 1
        return token

    def parse(self) -> Node:
        if not self.tokens:
            raise self.error("empty rule")
        node = self.expr()
        if self.i != len(self.tokens):
            raise self.error(f"unexpected {self.peek()!r}")
        return node

    def expr(self) -> Node:
        node = self.conj()
        while (self.peek() or "").lower() == "or":
            self.take()
            node = Node("bin", "or", (node, self.conj()))
        return node

    def conj(self) -> Node:
        node = self.neg()
        while (self.peek() or "").lower() == "and":
            self.take()
            node = Node("bin", "and", (node, self.neg()))
        return node

    def neg(self) -> Node:
        if (self.peek() or "").lower() == "not":
            self.take()
            self.enter()
            return self.nested(Node("not", None, (self.neg(),)))
        return self.compare()

    def compare(self) -> Node:
        left = self.sum()
        op = (self.peek() or "").lower()
        if op in _COMPARE:
            self.take()
            return Node("bin", op, (left, self.sum()))
        if op == "in":
            self.take()
            self.take("(")
            items = [self.literal()]
            while self.peek() == ",":
                self.take()
                items.append(self.literal())
            self.take(")")
            return Node("in", tuple(items), (left,))
        if op == "is":
            self.take()
            negate = (self.peek() or "").lower() == "not"
            if negate:
                self.take()
            self.take("null")
            node = Node("isnull", None, (left,))
            return Node("not", None, (node,)) if negate else node
        return left

    def literal(self) -> Any:
        kind, text, _ = self.take()
        if kind == "num":
            return self.number(text)
        if kind == "str":
            return text[1:-1]
        raise self.error(f"{text!r} is not a literal value")

    def sum(self) -> Node:
        node = self.term()
        while self.peek() in ("+", "-"):
            op = self.take()[1]
            node = Node("bin", op, (node, self.term()))
        return node

    def term(self) -> Node:
        node = self.atom()
        while self.peek() in ("*", "/"):
            op = self.take()[1]
            node = Node("bin", op, (node, self.atom()))
        return node

    def atom(self) -> Node:
        kind, text, _ = self.take()
        low = text.lower()
        if kind == "num":
            return Node("lit", self.number(text))
        if kind == "str":
            return Node("lit", text[1:-1])
        if text == "(":
            self.enter()
            node = self.expr()
            self.take(")")
            return self.nested(node)
        if text == "-":
            self.enter()
            return self.nested(Node("bin", "-", (Node("lit", 0), self.atom())))
        if kind == "name" and low in ("true", "false"):
            return Node("lit", low == "true")
        if kind == "name" and low in _KEYWORDS:
            self.i -= 1
            raise self.error(f"unexpected keyword {text!r}")
        if kind == "name" and self.peek() == "(":
            if low not in _FUNCTIONS:
                self.i -= 1
                known = ", ".join(sorted(_FUNCTIONS))
                raise self.error(f"unknown function {text!r} (known: {known})")
            self.take("(")
            self.enter()
            args: list[Node] = []
            if self.peek() != ")":
                args.append(self.expr())
                while self.peek() == ",":
                    self.take()
                    args.append(self.expr())
            self.take(")")
            return self.nested(Node("call", low, tuple(args)))
        if kind == "name":
            return Node("name", text)
        self.i -= 1
        raise self.error(f"unexpected {text!r}")


def parse_rule(text: str) -> Node:
    """Parse one rule; InputError (with the column) when it is not valid."""
    return _Parser(text).parse()


def names_in(node: Node) -> set[str]:
    found = {node.value} if node.kind == "name" else set()
    for arg in node.args:
        found |= names_in(arg)
    return found


def resolve_name(name: str, columns: list[str], rule: str) -> str:
    """The column a rule name denotes: exact path or the one path ending in ``.name``."""
    if name in columns:
        return name
    matches = [c for c in columns if c.endswith("." + name)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise InputError(
            f"business rule {rule!r} names '{name}', which is not a canonical "
            "column of these records",
            where=name,
            fix="use a dotted canonical path such as policy_core.effective_date",
        )
    raise InputError(
        f"business rule {rule!r}: '{name}' is ambiguous ({', '.join(matches)})",
        where=name,
        fix="write the full dotted path",
    )


def check_rule(text: str, columns: list[str]) -> Node:
    """Parse a rule and check every name against ``columns``."""
    node = parse_rule(text)
    for name in names_in(node):
        resolve_name(name, columns, text)
    return node


def _numeric(value: Any) -> Any:
    if isinstance(value, pa.Array | pa.ChunkedArray) and pa.types.is_decimal(value.type):
        return pc.cast(value, pa.float64())
    return value


def _coerce_pair(left: Any, right: Any) -> tuple[Any, Any]:
    def is_temporal(v: Any) -> bool:
        return isinstance(v, pa.Array | pa.ChunkedArray) and (
            pa.types.is_date(v.type) or pa.types.is_timestamp(v.type)
        )

    if is_temporal(left) and isinstance(right, str):
        right = pa.scalar(dt.date.fromisoformat(right), left.type)
    elif is_temporal(right) and isinstance(left, str):
        left = pa.scalar(dt.date.fromisoformat(left), right.type)
    elif is_temporal(left) and is_temporal(right) and left.type != right.type:
        left, right = pc.cast(left, pa.date32()), pc.cast(right, pa.date32())
    return _numeric(left), _numeric(right)


def _evaluate(node: Node, batch: pa.RecordBatch, rule: str) -> Any:
    kind = node.kind
    if kind == "lit":
        return node.value
    if kind == "name":
        return batch.column(resolve_name(node.value, batch.schema.names, rule))
    args = [_evaluate(arg, batch, rule) for arg in node.args]
    if kind == "not":
        return pc.invert(args[0])
    if kind == "isnull":
        if isinstance(args[0], pa.Array | pa.ChunkedArray):
            return pc.is_null(args[0])
        return args[0] is None
    if kind == "in":
        value = args[0]
        if pa.types.is_decimal(value.type):
            value = pc.cast(value, pa.float64())
        return pc.is_in(value, value_set=pa.array(list(node.value)))
    if kind == "call":
        return _call(node.value, args)
    op = node.value
    if op == "and":
        return pc.and_kleene(args[0], args[1])
    if op == "or":
        return pc.or_kleene(args[0], args[1])
    left, right = _coerce_pair(args[0], args[1])
    if op in _COMPARE:
        return _COMPARE[op](left, right)
    if op == "/":
        left = pc.cast(left, pa.float64()) if hasattr(left, "type") else float(left)
    return _ARITH[op](left, right)


def _call(name: str, args: list[Any]) -> Any:
    if len(args) != 1:
        raise InputError(f"{name}() takes one argument, got {len(args)}", where=name)
    (value,) = args
    if name == "date":
        return dt.date.fromisoformat(str(value))
    if name == "is_null":
        return pc.is_null(value)
    if name == "lower":
        return pc.utf8_lower(value)
    if pa.types.is_list(value.type) or pa.types.is_large_list(value.type):
        return pc.list_value_length(value)
    return pc.utf8_length(value)


def evaluate_rule(text: str, batch: pa.RecordBatch, node: Node | None = None) -> pa.Array:
    """True where a record satisfies the rule; a null result counts as not satisfied."""
    node = node or parse_rule(text)
    try:
        result = _evaluate(node, batch, text)
    except (pa.ArrowException, ValueError, TypeError, AttributeError, ArithmeticError) as exc:
        # Values of kinds that do not combine: text against a number, a non-date against a
        # date column, a function or `in` over a constant. One message that names the rule.
        raise InputError(
            f"business rule {text!r} cannot be evaluated on these records: {_reason(exc)}",
            where="business_rules",
            fix="compare like with like: numbers with numbers, dates with 'YYYY-MM-DD', "
            "text with 'text'; functions and `in` apply to columns",
        ) from None
    if not isinstance(result, pa.Array | pa.ChunkedArray):
        result = pa.array([bool(result)] * batch.num_rows, pa.bool_())
    if not pa.types.is_boolean(result.type):
        raise InputError(
            f"business rule {text!r} does not give true or false",
            fix="compare values, e.g. premium_amount > 0",
        )
    return pc.fill_null(result, False)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, AttributeError):
        return "a function or `in (...)` is applied to a constant, not a column"
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return first[:200]
