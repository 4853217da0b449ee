"""Per-row parser for the DISPLAY numerics the vectorised fast path rejects.

Only rows that fail the fast path reach this code (leading/trailing spaces, zero-suppressed or
edited pictures, separate signs typed in odd places, invalid bytes), so its cost is bounded by the
number of unusual rows, not by the file size.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tools.content.cobol.copybook import Node
    from tools.content.cobol.zoned_tables import ZonedTables


def parse_display_row(
    raw: bytes, node: Node, zt: ZonedTables, strict_overpunch: bool
) -> tuple[int | None, str | None]:
    """Parse one DISPLAY numeric field.

    Args:
        raw: the field's bytes.
        node: the field (its PIC gives scale and signedness).
        zt: encoding lookup tables.
        strict_overpunch: reject overpunched signs on unsigned fields.

    Returns:
        ``(unscaled value, None)`` -- the value times 10**scale -- or ``(None, reason)``;
        ``(None, None)`` for a blank field.
    """
    pic = node.pic
    assert pic is not None
    chars: list[str] = []
    over_neg: bool | None = None
    over_idx = -1
    for i, b in enumerate(raw):
        if zt.digit[b] != 255:
            chars.append(chr(48 + int(zt.digit[b])))
        elif zt.op_digit[b] != 255:
            if over_neg is not None:
                return None, f"more than one overpunched sign (byte {i + 1})"
            over_neg = bool(zt.op_neg[b])
            over_idx = len(chars)
            chars.append(chr(48 + int(zt.op_digit[b])))
        elif b in (zt.space, 0):
            chars.append(" ")
        elif b == zt.plus:
            chars.append("+")
        elif b == zt.minus:
            chars.append("-")
        elif b == zt.point:
            chars.append(".")
        elif b == zt.comma:
            chars.append(",")
        else:
            return None, f"byte 0x{b:02X} at position {i + 1} is not a digit"
    text = "".join(chars)
    body = text.strip()
    if not body:
        return None, None
    lead = len(text) - len(text.lstrip())
    if over_neg is not None and over_idx not in (lead, lead + len(body) - 1):
        return None, "overpunched sign inside the number"
    negative = bool(over_neg)
    if over_neg is not None and not pic.signed and strict_overpunch:
        return None, "overpunched sign on an unsigned field"
    if body[0] in "+-":
        negative = body[0] == "-"
        body = body[1:].strip()
    elif body[-1] in "+-":
        negative = body[-1] == "-"
        body = body[:-1].strip()
    body = body.replace(",", "")
    if not body or " " in body or "+" in body or "-" in body or body.count(".") > 1:
        return None, f"{text.strip()!r} is not a number"
    if negative and not pic.signed:  # cobrix: a negative unsigned number is null in every mode
        return None, "negative sign on an unsigned field"
    if "." in body:
        whole, frac = body.split(".")
        if len(frac) > pic.scale:
            return None, f"{len(frac)} decimals, PIC {pic.text} allows {pic.scale}"
        unscaled = int((whole or "0") + frac) * 10 ** (pic.scale - len(frac))
    else:
        unscaled = int(body)
        if pic.explicit_point:
            unscaled *= 10**pic.scale
    return (-unscaled if negative else unscaled), None
