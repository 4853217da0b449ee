"""Record layout: byte offsets and sizes of every copybook item, and the ``data-mash layout`` view.

Sizes follow IBM Enterprise COBOL (and cobrix): DISPLAY = one byte per position, COMP-3 =
digits//2+1, binary = 2/4/8 bytes for up to 4/9/18 digits (more digits: enough bytes for the
digits plus a sign bit), COMP-1 = 4, COMP-2 = 8. A REDEFINES chain occupies its largest member;
every 01 record starts at offset 0 (several 01s redefine each other).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import InputError
from tools.content.cobol.copybook import Copybook, Node, read_copybook

MAX_RECORD_BYTES = 64 * 1024 * 1024  # a record (one 01 level, OCCURS expanded) at most


@dataclass
class Layout:
    """A copybook with offsets computed."""

    copybook: Copybook
    roots: list[Node]
    record_length: int

    def leaves(self) -> list[Node]:
        """Every elementary item in copybook order."""
        return [n for r in self.roots for n in r.walk() if not n.children and not n.is_group]

    def find(self, name: str, *, near: Node | None = None) -> Node:
        """Find an item by COBOL or output name (``COMPANY-ID`` == ``COMPANY_ID``).

        Args:
            name: the name to look for.
            near: prefer a match sharing the most ancestors with this node.

        Returns:
            The matching node.

        Raises:
            InputError: no item has that name.
        """
        key = norm_name(name)
        hits = [n for r in self.roots for n in r.walk() if norm_name(n.name) == key]
        if not hits:
            raise InputError(
                f"the copybook has no field named {name}",
                where=self.copybook.source,
                fix="check the field name",
            )
        if near is not None and len(hits) > 1:
            anc = set(map(id, _ancestors(near)))
            hits.sort(key=lambda h: -sum(id(a) in anc for a in _ancestors(h)))
        return hits[0]


def norm_name(name: str) -> str:
    """Canonical form of a COBOL name for lookups."""
    return name.strip().upper().replace("-", "_")


def _ancestors(node: Node) -> list[Node]:
    out = []
    cur = node.parent
    while cur is not None:
        out.append(cur)
        cur = cur.parent
    return out


def binary_size(digits: int) -> int:
    """Bytes of a COMP/BINARY item with ``digits`` digit positions."""
    if digits <= 4:
        return 2
    if digits <= 9:
        return 4
    if digits <= 18:
        return 8
    return math.ceil((digits * math.log2(10) + 1) / 8)


def _elementary(node: Node) -> None:
    usage = node.usage or "DISPLAY"
    pic = node.pic
    if usage == "COMP-1":
        node.kind, node.size = "float", 4
    elif usage == "COMP-2":
        node.kind, node.size = "double", 8
    elif pic is None:
        raise InputError(f"{node.name} has no PIC", where=f"line {node.line}")
    elif pic.alphanumeric:
        node.kind, node.size = "string", pic.display_size
    elif usage == "COMP-3":
        node.kind, node.size = "packed", pic.digits // 2 + 1
    elif usage == "COMP-3U":
        node.kind, node.size = "packed", (pic.digits + 1) // 2
    elif usage in ("COMP", "COMP-5", "COMP-9"):
        node.kind, node.size = "binary", binary_size(pic.digits)
    else:
        node.kind = "zoned"
        node.size = pic.display_size + (1 if node.sign_separate else 0)


def _chains(children: list[Node], source: str) -> list[list[Node]]:
    chains: list[list[Node]] = []
    for child in children:
        if child.redefines:
            target = None
            for chain in chains:
                if any(norm_name(m.name) == norm_name(child.redefines) for m in chain):
                    target = chain
            if target is None or target is not chains[-1]:
                raise InputError(
                    f"{child.name} REDEFINES {child.redefines}, which is not the item just before",
                    where=f"{source}: line {child.line}",
                    fix="a REDEFINES must follow the item (or chain) it redefines",
                )
            target.append(child)
        else:
            chains.append([child])
    return chains


def _size(node: Node, source: str) -> int:
    """Compute sizes bottom-up; returns the bytes one element of ``node`` occupies."""
    if not node.children:
        _elementary(node)
        return node.size
    total = 0
    for chain in _chains(node.children, source):
        area = max(_size(m, source) * (m.occurs or 1) for m in chain)
        for m in chain:
            m.chain_size = area
            m.redefined = m is not chain[-1] and len(chain) > 1
        total += area
        if total * (node.occurs or 1) > MAX_RECORD_BYTES:
            big = max(chain, key=lambda m: m.size * (m.occurs or 1))
            raise InputError(
                f"{node.name} would be {total * (node.occurs or 1):,} bytes long, more than "
                f"the {MAX_RECORD_BYTES:,} a record may have (largest part: {big.name}, "
                f"line {big.line})",
                where=f"{source}: line {node.line}",
                fix="check the PIC sizes and OCCURS bounds",
            )
    node.kind = "group"
    node.size = total
    return total


def _offsets(node: Node, offset: int, source: str) -> None:
    node.offset = offset
    pos = offset
    for chain in _chains(node.children, source):
        for m in chain:
            _offsets(m, pos, source)
        pos += chain[0].chain_size


def _name_fillers(roots: list[Node], policy: str) -> None:
    value_no = group_no = 0
    prev = ""
    for root in roots:
        for n in root.walk():
            base = n.name.upper().replace("-", "_")
            if n.is_filler:
                if policy == "previous_field_name":
                    n.out_name = f"FILLER_AFTER_{prev}"
                elif n.children:
                    group_no += 1
                    n.out_name = f"FILLER_{group_no}"
                else:
                    value_no += 1
                    n.out_name = f"FILLER_P{value_no}"
            else:
                n.out_name = base
            prev = n.out_name


def compute_layout(copybook: Copybook, *, filler_naming_policy: str = "sequence_numbers") -> Layout:
    """Compute offsets, sizes, kinds and output names for a parsed copybook.

    Args:
        copybook: the parsed copybook.
        filler_naming_policy: ``sequence_numbers`` (FILLER_1 / FILLER_P1) or
            ``previous_field_name`` (FILLER_AFTER_<previous>), as cobrix.

    Returns:
        The :class:`Layout`.
    """
    if filler_naming_policy not in ("sequence_numbers", "previous_field_name"):
        raise InputError(
            f"unknown filler_naming_policy {filler_naming_policy!r}",
            fix="use sequence_numbers or previous_field_name",
        )
    for root in copybook.roots:
        _size(root, copybook.source)
        root.chain_size = root.size * (root.occurs or 1)
        _offsets(root, 0, copybook.source)
    _name_fillers(copybook.roots, filler_naming_policy)
    length = max(r.size for r in copybook.roots)
    return Layout(copybook=copybook, roots=copybook.roots, record_length=length)


def load_layout(
    copybook: str | Path | list[str | Path],
    *,
    free_format: bool = False,
    filler_naming_policy: str = "sequence_numbers",
) -> Layout:
    """Parse one or several copybooks (merged: every 01 record starts at offset 0).

    Args:
        copybook: a path, copybook text, or a list of them.
        free_format: free-format copybook source.
        filler_naming_policy: see :func:`compute_layout`.

    Returns:
        The :class:`Layout`.
    """
    items = copybook if isinstance(copybook, list) else [copybook]
    books = [read_copybook(c, free_format=free_format) for c in items]
    merged = books[0]
    for extra in books[1:]:
        merged = Copybook(
            roots=merged.roots + extra.roots, source=merged.source, notes=merged.notes + extra.notes
        )
    return compute_layout(merged, filler_naming_policy=filler_naming_policy)


def _type_of(node: Node) -> dict[str, Any]:
    info: dict[str, Any] = {"type": node.kind}
    if node.pic is not None:
        info["pic"] = node.pic.text
        if not node.pic.alphanumeric:
            info.update(
                digits=node.pic.digits,
                scale=node.pic.scale - node.pic.scale_factor,
                signed=node.pic.signed,
            )
    if node.usage and node.usage != "DISPLAY":
        info["usage"] = node.usage
    return info


def describe_layout(
    copybook_text_or_path: str | Path | list[str | Path],
    *,
    free_format: bool = False,
    filler_naming_policy: str = "sequence_numbers",
    keep_fillers: bool = False,
) -> dict[str, Any]:
    """The ``data-mash layout`` output: record length and every item's position.

    Args:
        copybook_text_or_path: copybook path or text (or a list to merge).
        free_format: free-format copybook source.
        filler_naming_policy: how kept fillers are named.
        keep_fillers: name FILLERs with the policy (otherwise they are listed as ``FILLER``).

    Returns:
        ``{"record_length": int, "fields": [...], "notes": [...]}``; each field has ``name``
        (output name), ``cobol_name``, ``path`` (dotted, root included), ``level``, ``start``
        (1-based like cobrix), ``end``, ``length`` (bytes of the whole item: element size x
        OCCURS, or the REDEFINES area when it is part of a chain), ``type`` (group, string,
        zoned, packed, binary, float, double), ``occurs`` (max count or None), ``occurs_min``,
        ``depending_on``, ``redefines`` (the redefined item or None) and ``redefined`` (bool).
    """
    layout = load_layout(
        copybook_text_or_path, free_format=free_format, filler_naming_policy=filler_naming_policy
    )
    fields: list[dict[str, Any]] = []
    for root in layout.roots:
        for n in root.walk():
            name = n.out_name if (keep_fillers or not n.is_filler) else "FILLER"
            length = n.chain_size or n.size * (n.occurs or 1)
            path = (
                ".".join(a.out_name for a in reversed(_ancestors(n)))
                + ("." if n.parent else "")
                + n.out_name
            )
            fields.append(
                {
                    "name": name,
                    "cobol_name": n.name,
                    "path": path,
                    "level": n.level,
                    "start": n.offset + 1,
                    "end": n.offset + length,
                    "length": length,
                    "occurs": n.occurs,
                    "occurs_min": n.occurs_min if n.occurs else None,
                    "depending_on": n.depending_on,
                    "redefines": n.redefines,
                    "redefined": n.redefined,
                    **_type_of(n),
                }
            )
    return {
        "record_length": layout.record_length,
        "fields": fields,
        "notes": list(layout.copybook.notes),
    }


def render_layout(desc: dict[str, Any]) -> str:
    """Render :func:`describe_layout` output as cobrix's layout table.

    Args:
        desc: the dict returned by :func:`describe_layout`.

    Returns:
        The text table (one row per item, 1-based START/END, ``r``/``R`` REDEFINES attributes).
    """
    lines = ["-------- FIELD LEVEL/NAME --------- --ATTRIBS--    FLD  START     END  LENGTH", ""]
    for i, f in enumerate(desc["fields"], start=1):
        depth = f["path"].count(".")
        attrs = ("r" if f["redefined"] else "") + ("R" if f["redefines"] else "")
        label = f"{'  ' * depth}{f['level']} {f['name']}"
        lines.append(f"{label:<37}{attrs:<11}{i:>6}{f['start']:>7}{f['end']:>8}{f['length']:>8}")
    return "\n".join(lines)
