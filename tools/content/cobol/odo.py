"""Variable-size OCCURS DEPENDING ON (``variable_size_occurs``): records sized by their counts.

With this option an ODO array occupies only ``count x element size`` bytes in the file, so record
boundaries follow from the data. Each record is expanded to the maximum-size layout (absent
elements zero-filled) so the vectorised decoder can treat it like a fixed-length record.
"""

from __future__ import annotations

from collections.abc import Callable

from tools.content.cobol.copybook import Node
from tools.content.cobol.layout import Layout, _chains, norm_name
from tools.content.cobol.zoned_slow import parse_display_row
from tools.content.cobol.zoned_tables import ZonedTables


class _Short(Exception):
    """The buffer ends inside the record (``reached``: layout position its data got to)."""

    def __init__(self, reached: int) -> None:
        super().__init__(reached)
        self.reached = reached


def scalar_count(
    node: Node, raw: bytes, chars: tuple[str, ...], zt: ZonedTables, mapping: dict[str, int] | None
) -> int:
    """Decode one DEPENDING ON value from its bytes (0 when it is not a valid number)."""
    if mapping is not None:
        text = "".join(chars[b] for b in raw).strip()
        return int(mapping.get(text, 0))
    if node.kind == "binary":
        signed = bool(node.pic and node.pic.signed)
        little = node.usage == "COMP-9"
        return int.from_bytes(raw, "little" if little else "big", signed=signed)
    if node.kind == "packed":
        digits = "".join(f"{b:02X}" for b in raw)
        body, sign = (digits, "F") if node.usage == "COMP-3U" else (digits[:-1], digits[-1])
        if not body.isdigit():
            return 0
        return -int(body) if sign in "BD" else int(body)
    value, _ = parse_display_row(raw, node, zt, False)
    scale = node.pic.scale if node.pic else 0
    return int(value // 10**scale) if value is not None else 0


def make_normalizer(
    layout: Layout,
    chars: tuple[str, ...],
    zt: ZonedTables,
    mappings: dict[str, dict[str, int]],
    *,
    partial: bool = False,
) -> Callable[[bytes, int], tuple[bytes, int] | None]:
    """Build ``normalize(buffer, pos) -> (max-layout record, bytes used) | None``.

    Args:
        layout: the copybook layout (its record_length is the maximum size).
        chars: the code page characters (for occurs_mappings keys).
        zt: zoned-decimal tables of the encoding.
        mappings: ``occurs_mappings`` (ODO counts given by a string field).
        partial: the buffer holds exactly one framed record (RDW, text line, fixed record): a
            record shorter than its counts say is expanded as far as its bytes go and the second
            value is then the layout position its data reached (fields past it are null);
            otherwise a short buffer returns None (the stream needs more bytes).
    """
    width = layout.record_length
    maps = {norm_name(k): v for k, v in mappings.items()}
    roots = layout.roots

    def normalize(buf: bytes, pos: int) -> tuple[bytes, int] | None:
        out = bytearray(width)
        cursor = [pos]

        def put(at: int, n: int) -> None:
            piece = buf[cursor[0] : cursor[0] + n]
            out[at : at + len(piece)] = piece
            cursor[0] += len(piece)
            if len(piece) < n:
                raise _Short(at + len(piece))

        def walk(node: Node, shifts: list[int], chain: list[Node]) -> None:
            if node.occurs:
                count = node.occurs
                if node.depending_on:
                    dep = layout.find(node.depending_on, near=node)
                    depth = sum(1 for a in chain if _is_ancestor(a, dep))
                    at = dep.offset + (shifts[depth - 1] if depth else 0)
                    count = scalar_count(
                        dep,
                        bytes(out[at : at + dep.size]),
                        chars,
                        zt,
                        maps.get(norm_name(node.name)),
                    )
                    count = max(0, min(count, node.occurs))
                base = shifts[-1] if shifts else 0
                for j in range(count):
                    element(node, shifts + [base + j * node.size], chain + [node])
                return
            element(node, shifts, chain)

        def element(node: Node, shifts: list[int], chain: list[Node]) -> None:
            shift = shifts[-1] if shifts else 0
            if not node.children:
                put(node.offset + shift, node.size)
                return
            for members in _chains(node.children, layout.copybook.source):
                if len(members) == 1:
                    walk(members[0], shifts, chain)
                else:
                    put(members[0].offset + shift, members[0].chain_size)

        reached = width
        try:
            if len(roots) == 1:
                walk(roots[0], [], [])
            else:
                put(0, width)
        except _Short as short:
            if not partial:
                return None
            reached = short.reached
        return bytes(out), (reached if partial else cursor[0] - pos)

    return normalize


def _is_ancestor(a: Node, n: Node) -> bool:
    cur = n.parent
    while cur is not None:
        if cur is a:
            return True
        cur = cur.parent
    return False
