"""COBOL copybook parser: fixed-format source text -> a tree of :class:`Node`.

Handles the sequence area (columns 1-6), indicator column 7 (``*``/``/`` comments, ``-``
continuation, ``D`` debug lines), the program-identification area (73-80, ignored), free format
(``copybook_format="free"``), several 01 records, REDEFINES, OCCURS [n TO] m [DEPENDING ON],
USAGE inheritance from groups, SIGN clauses, and skips VALUE/SYNC/JUSTIFIED/BLANK WHEN ZERO.
Levels 66 and 88 are ignored and recorded in :attr:`Copybook.notes`.
Offsets and sizes are computed afterwards by :mod:`tools.content.cobol.layout`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import InputError
from tools.content.cobol.picture import Picture, PictureError, parse_picture

MAX_OCCURS = 1_000_000  # elements of one OCCURS (the record length has its own bound)

_USAGES = {
    "DISPLAY": "DISPLAY",
    "COMP": "COMP",
    "COMPUTATIONAL": "COMP",
    "BINARY": "COMP",
    "COMP-0": "COMP",
    "COMPUTATIONAL-0": "COMP",
    "COMP-4": "COMP",
    "COMPUTATIONAL-4": "COMP",
    "COMP-5": "COMP-5",
    "COMPUTATIONAL-5": "COMP-5",
    "COMP-9": "COMP-9",
    "COMP-3": "COMP-3",
    "COMPUTATIONAL-3": "COMP-3",
    "PACKED-DECIMAL": "COMP-3",
    "COMP-3U": "COMP-3U",
    "COMP-1": "COMP-1",
    "COMPUTATIONAL-1": "COMP-1",
    "COMP-2": "COMP-2",
    "COMPUTATIONAL-2": "COMP-2",
}
_SKIP_WORDS = {
    "IS",
    "ARE",
    "TIMES",
    "ON",
    "CHARACTER",
    "KEY",
    "BY",
    "WHEN",
    "ZERO",
    "ZEROS",
    "ZEROES",
    "RIGHT",
    "LEFT",
}
_TOKEN = re.compile(r"'[^']*'?|\"[^\"]*\"?|[^\s,;]+")


@dataclass(eq=False)
class Node:
    """One copybook entry (group or elementary item)."""

    level: int
    name: str  # as written, e.g. COMPANY-ID or FILLER
    line: int
    column: int
    pic: Picture | None = None
    usage: str | None = None  # normalised: DISPLAY, COMP, COMP-5, COMP-9, COMP-3, COMP-3U...
    occurs: int | None = None  # maximum count
    occurs_min: int = 0
    depending_on: str | None = None
    redefines: str | None = None
    sign_position: str | None = None  # "leading" / "trailing" from a SIGN clause
    sign_separate: bool = False
    children: list[Node] = field(default_factory=list)
    parent: Node | None = None
    # filled by layout.compute_layout
    offset: int = 0  # 0-based, first occurrence of every enclosing OCCURS
    size: int = 0  # bytes of one element
    chain_size: int = 0  # bytes the REDEFINES chain occupies (layout length)
    redefined: bool = False  # another item REDEFINES this one
    kind: str = "group"  # group|string|zoned|packed|binary|float|double
    out_name: str = ""  # output name (dash -> underscore, fillers renamed)

    @property
    def is_group(self) -> bool:
        return self.pic is None and self.usage not in ("COMP-1", "COMP-2")

    @property
    def is_filler(self) -> bool:
        return self.name.upper() == "FILLER"

    def walk(self) -> list[Node]:
        """This node and all its descendants in copybook order."""
        out = [self]
        for c in self.children:
            out.extend(c.walk())
        return out


@dataclass
class Copybook:
    """Parsed copybook: one root per 01 record, plus notes about ignored entries."""

    roots: list[Node]
    source: str
    notes: list[str] = field(default_factory=list)


def _logical_lines(text: str, free: bool) -> list[tuple[int, int, str]]:
    """(line number, column of first char, area text) for every non-comment line."""
    out: list[tuple[int, int, str]] = []
    for no, raw in enumerate(text.splitlines(), start=1):
        line = raw.expandtabs(8).rstrip("\r\n")
        if free:
            stripped = line.lstrip()
            if not stripped or stripped.startswith(("*", "/")) or stripped.startswith("*>"):
                continue
            out.append((no, len(line) - len(stripped) + 1, line[len(line) - len(stripped) :]))
            continue
        if len(line) < 7:
            continue
        indicator = line[6]
        if indicator in "*/":
            continue
        # an entry starting in column 7 (no indicator): be lenient and keep that column
        area = line[7:72] if indicator in " -Dd$" else line[6:72]
        if "*>" in area:  # inline comment
            area = area[: area.index("*>")]
        if indicator == "-":
            out.append((no, -8, area.strip()))  # negative column marks a continuation
        else:
            out.append((no, 8 if indicator in " Dd$" else 7, area))
    return out


def _tokens(text: str, free: bool) -> list[tuple[str, int, int]]:
    toks: list[tuple[str, int, int]] = []
    for no, col, area in _logical_lines(text, free):
        if col < 0 and toks:  # continuation: glue onto the previous token
            prev, pl, pc = toks.pop()
            piece = area[1:] if area[:1] in "'\"" else area
            merged = prev + piece
            toks.append((merged, pl, pc))
            continue
        for m in _TOKEN.finditer(area):
            toks.append((m.group(0), no, abs(col) + m.start()))
    return toks


def _statements(toks: list[tuple[str, int, int]]) -> list[list[tuple[str, int, int]]]:
    stmts: list[list[tuple[str, int, int]]] = []
    cur: list[tuple[str, int, int]] = []
    for tok, line, col in toks:
        is_literal = tok[:1] in "'\""
        if tok == ".":
            end = True
            tok = ""
        elif tok.endswith(".") and not (is_literal and not tok.endswith(("'.", '".'))):
            end = True
            tok = tok[:-1]
        else:
            end = False
        if tok:
            cur.append((tok, line, col))
        if end and cur:
            stmts.append(cur)
            cur = []
    if cur:
        tok, line, col = cur[-1]
        raise InputError(
            "copybook entry is not terminated by a period",
            where=f"line {line}, column {col}",
            fix="end every entry with '.'",
        )
    return stmts


def _err(msg: str, line: int, col: int, fix: str | None = None) -> InputError:
    return InputError(msg, where=f"line {line}, column {col}", fix=fix)


def _parse_entry(stmt: list[tuple[str, int, int]], notes: list[str]) -> Node | None:
    tok, line, col = stmt[0]
    if not (tok.isascii() and tok.isdigit()):  # "²".isdigit() is True, int("²") fails
        raise _err(
            f"expected a level number, found {tok!r}",
            line,
            col,
            "each entry starts with a level number such as 01, 05 or 10",
        )
    level = int(tok)
    if level in (66, 88):
        notes.append(f"line {line}: level {level} entry ignored")
        return None
    if not (1 <= level <= 49 or level == 77):
        raise _err(f"invalid level number {tok}", line, col, "use levels 01-49, 66, 77 or 88")
    i = 1
    name = "FILLER"
    if i < len(stmt) and stmt[i][0].upper() not in _KEYWORDS:
        name = stmt[i][0]
        i += 1
    node = Node(level=1 if level == 77 else level, name=name, line=line, column=col)
    while i < len(stmt):
        word, wl, wc = stmt[i]
        up = word.upper()
        i += 1
        if up in ("PIC", "PICTURE"):
            if i < len(stmt) and stmt[i][0].upper() == "IS":
                i += 1
            if i >= len(stmt):
                raise _err("PIC without a picture string", wl, wc)
            ptxt, pl, pc = stmt[i]
            i += 1
            try:
                node.pic = parse_picture(ptxt)
            except PictureError as exc:
                raise _err(str(exc), pl, pc, "use X, A, 9, S, V, P, Z or editing symbols") from exc
        elif up == "USAGE":
            continue
        elif up in _USAGES:
            node.usage = _USAGES[up]
        elif up == "REDEFINES":
            if i >= len(stmt):
                raise _err("REDEFINES without a name", wl, wc)
            node.redefines = stmt[i][0]
            i += 1
        elif up == "OCCURS":
            i = _parse_occurs(stmt, i, node, wl, wc)
        elif up == "SIGN":
            continue
        elif up in ("LEADING", "TRAILING"):
            node.sign_position = up.lower()
        elif up == "SEPARATE":
            node.sign_separate = True
        elif up in ("VALUE", "VALUES"):
            i = _skip_value(stmt, i)
        elif up in ("SYNC", "SYNCHRONIZED", "JUST", "JUSTIFIED", "BLANK", "GLOBAL", "EXTERNAL"):
            continue
        elif up in _SKIP_WORDS:
            continue
        elif up in ("INDEXED", "ASCENDING", "DESCENDING"):
            while i < len(stmt) and stmt[i][0].upper() not in _KEYWORDS - _SKIP_WORDS:
                i += 1
        else:
            raise _err(
                f"unexpected word {word!r} in the entry for {name}",
                wl,
                wc,
                "check the clause spelling (PIC, USAGE, OCCURS, REDEFINES, SIGN, VALUE)",
            )
    return node


def _parse_occurs(stmt: list[tuple[str, int, int]], i: int, node: Node, wl: int, wc: int) -> int:
    def num(j: int) -> int:
        if j >= len(stmt) or not (stmt[j][0].isascii() and stmt[j][0].isdigit()):
            where = stmt[j] if j < len(stmt) else ("", wl, wc)
            raise _err("OCCURS needs a whole number", where[1], where[2])
        if len(stmt[j][0]) > 9 or int(stmt[j][0]) > MAX_OCCURS:
            raise _err(
                f"OCCURS {stmt[j][0]} in the entry for {node.name} is more than {MAX_OCCURS:,}",
                stmt[j][1],
                stmt[j][2],
                "check the OCCURS bound",
            )
        return int(stmt[j][0])

    first = num(i)
    i += 1
    if i < len(stmt) and stmt[i][0].upper() == "TO":
        node.occurs_min, node.occurs = first, num(i + 1)
        i += 2
    else:
        node.occurs_min, node.occurs = first, first
    while i < len(stmt) and stmt[i][0].upper() in ("TIMES",):
        i += 1
    if i < len(stmt) and stmt[i][0].upper() == "DEPENDING":
        i += 1
        if i < len(stmt) and stmt[i][0].upper() == "ON":
            i += 1
        if i >= len(stmt):
            raise _err("DEPENDING ON without a field name", wl, wc)
        node.depending_on = stmt[i][0]
        i += 1
    return i


def _skip_value(stmt: list[tuple[str, int, int]], i: int) -> int:
    while i < len(stmt) and stmt[i][0].upper() in ("IS", "ARE"):
        i += 1
    i += 1  # the literal
    while i + 1 < len(stmt) and stmt[i][0].upper() in ("THRU", "THROUGH"):
        i += 2
    return i


_KEYWORDS = (
    set(_USAGES)
    | _SKIP_WORDS
    | {
        "PIC",
        "PICTURE",
        "USAGE",
        "REDEFINES",
        "OCCURS",
        "SIGN",
        "LEADING",
        "TRAILING",
        "SEPARATE",
        "VALUE",
        "VALUES",
        "SYNC",
        "SYNCHRONIZED",
        "JUST",
        "JUSTIFIED",
        "BLANK",
        "INDEXED",
        "ASCENDING",
        "DESCENDING",
        "DEPENDING",
        "TO",
        "GLOBAL",
        "EXTERNAL",
    }
)


def parse_copybook(text: str, *, source: str = "<copybook>", free_format: bool = False) -> Copybook:
    """Parse copybook text into a tree.

    Args:
        text: the copybook source.
        source: a name for error messages (usually the file path).
        free_format: treat lines as free-format (no sequence area / columns 73-80).

    Returns:
        The :class:`Copybook` with one root per 01-level record.

    Raises:
        InputError: a syntax error, naming the line and column.
    """
    notes: list[str] = []
    try:
        stmts = _statements(_tokens(text, free_format))
        roots: list[Node] = []
        stack: list[Node] = []
        for stmt in stmts:
            node = _parse_entry(stmt, notes)
            if node is None:
                continue
            if node.level == 1:
                roots.append(node)
                stack = [node]
                continue
            if not roots:  # entries without an 01 level: synthesise a root
                root = Node(level=1, name="RECORD", line=node.line, column=node.column)
                roots.append(root)
                stack = [root]
            while stack and stack[-1].level >= node.level:
                stack.pop()
            if not stack:
                raise _err(
                    f"level {node.level:02d} {node.name} has no parent group",
                    node.line,
                    node.column,
                )
            parent = stack[-1]
            if parent.pic is not None:
                raise _err(
                    f"{parent.name} has a PIC but {node.name} is nested under it",
                    node.line,
                    node.column,
                    "only groups (no PIC) can contain items",
                )
            node.parent = parent
            parent.children.append(node)
            stack.append(node)
    except InputError as exc:
        raise InputError(
            exc.what, where=f"{source}: {exc.where}" if exc.where else source, fix=exc.fix
        ) from None
    if not roots:
        raise InputError(
            "copybook has no record definitions",
            where=source,
            fix="define at least one 01-level record",
        )
    for root in roots:
        _inherit_usage(root, None)
        _check(root, source)
    return Copybook(roots=roots, source=source, notes=notes)


def _inherit_usage(node: Node, usage: str | None) -> None:
    if node.usage is None:
        node.usage = usage
    for c in node.children:
        _inherit_usage(c, node.usage)


def _check(root: Node, source: str) -> None:
    for node in root.walk():
        if node.children:
            continue
        if node.pic is None and node.usage not in ("COMP-1", "COMP-2"):
            raise InputError(
                f"elementary item {node.name} has no PIC clause",
                where=f"{source}: line {node.line}, column {node.column}",
                fix="add a PIC clause or child items",
            )


def read_copybook(path_or_text: str | Path, *, free_format: bool = False) -> Copybook:
    """Parse a copybook given as a path or as its text.

    Args:
        path_or_text: a file path, or copybook text (anything containing a newline or a period
            followed by whitespace is treated as text).
        free_format: see :func:`parse_copybook`.

    Returns:
        The parsed :class:`Copybook`.
    """
    if isinstance(path_or_text, Path) or (
        "\n" not in path_or_text
        and len(path_or_text) < 4096
        and not re.search(r"\.\s", path_or_text)
    ):
        path = Path(path_or_text)
        if not path.is_file():
            raise InputError(
                f"copybook file {path} not found",
                where=str(path),
                fix="check the copybook path (relative to the source config)",
            )
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise InputError(f"cannot read copybook: {exc}", where=str(path)) from exc
        return parse_copybook(text, source=str(path), free_format=free_format)
    return parse_copybook(str(path_or_text), free_format=free_format)
