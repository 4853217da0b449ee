"""PICTURE clause analysis: what a PIC string means in bytes, digits, scale and sign.

Only the facts the decoder needs are extracted. Edited pictures (``Z``, ``+``, ``-``, ``,``, ``B``)
are accepted for DISPLAY fields and decoded leniently, as cobrix does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_REPEAT = re.compile(r"(.)\(([0-9]+)\)")
# Bounds that keep a hostile or mistyped copybook from expanding into gigabytes: the largest
# elementary item Enterprise COBOL allows is far below this, and no numeric item has more digits.
MAX_FIELD_BYTES = 16_777_215
MAX_DIGITS = 38
_VALID = set("XA9SVPZ.,+-B0/*$")


class PictureError(ValueError):
    """A PIC string that cannot be understood (the parser adds line and column)."""


@dataclass(frozen=True, slots=True)
class Picture:
    """The meaning of one PIC string."""

    text: str
    alphanumeric: bool
    display_size: int  # bytes when USAGE DISPLAY (sign-separate byte not included)
    digits: int  # 9 / Z / * positions
    scale: int  # digits right of the implied or explicit decimal point (P on the left included)
    scale_factor: int  # trailing P count: the value is multiplied by 10**scale_factor
    signed: bool
    explicit_point: bool
    sign_char: str | None  # "leading" / "trailing" when the picture holds a + or - itself


def expand(text: str) -> str:
    """Expand ``X(3)`` style repeats into ``XXX``.

    Args:
        text: a PIC string.

    Returns:
        The expanded upper-case picture.

    Raises:
        PictureError: the picture would be longer than ``MAX_FIELD_BYTES``.
    """
    total = len(text)
    for m in _REPEAT.finditer(text):
        total += int(m.group(2)) if len(m.group(2)) <= 12 else MAX_FIELD_BYTES + 1
        if total > MAX_FIELD_BYTES:
            raise PictureError(
                f"PIC {text!r} describes more than {MAX_FIELD_BYTES:,} positions "
                f"(repeat count {m.group(2)})"
            )
    return _REPEAT.sub(lambda m: m.group(1) * int(m.group(2)), text.upper())


def parse_picture(text: str) -> Picture:
    """Analyse a PIC string.

    Args:
        text: the PIC string as written (``S9(7)V99``, ``X(10)``, ``Z(6)VZZ-``).

    Returns:
        A :class:`Picture`.

    Raises:
        PictureError: unknown symbols or an empty picture.
    """
    pic = expand(text)
    bad = sorted(set(pic) - _VALID)
    if not pic or bad:
        raise PictureError(f"PIC {text!r} has unsupported symbol(s) {''.join(bad) or '(empty)'}")
    if "X" in pic or "A" in pic:
        return Picture(text, True, len(pic), 0, 0, 0, False, False, None)
    digits = scale = lead_p = trail_p = 0
    seen_point = seen_digit = explicit = False
    sign_char: str | None = None
    size = 0
    for i, ch in enumerate(pic):
        if ch in "9Z*":
            digits += 1
            size += 1
            seen_digit = True
            if seen_point:
                scale += 1
        elif ch == "V":
            seen_point = True
        elif ch == ".":
            seen_point = explicit = True
            size += 1
        elif ch == "P":
            if seen_digit:
                trail_p += 1
            else:
                lead_p += 1
        elif ch in "+-":
            sign_char = "leading" if i == 0 else "trailing"
            size += 1
        elif ch == "S":
            if i != 0:
                raise PictureError(f"PIC {text!r}: S must come first")
        else:  # insertion characters take a byte each
            size += 1
    if digits == 0:
        raise PictureError(f"PIC {text!r} has no digit positions")
    if digits + trail_p > MAX_DIGITS:
        raise PictureError(f"PIC {text!r} has {digits + trail_p} digits; at most {MAX_DIGITS}")
    if lead_p:
        scale = lead_p + digits
    signed = pic.startswith("S") or sign_char is not None
    return Picture(text, False, size, digits, scale, trail_p, signed, explicit, sign_char)
