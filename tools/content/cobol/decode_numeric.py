"""Vectorised numeric decoding: zoned (DISPLAY), packed (COMP-3), binary and floating point.

Every decoder takes the (rows, width) byte block of one field for a whole batch and works with
numpy operations over all rows at once: packed decimals by nibble arithmetic, binary by dtype
views (``>i4`` ...), zoned decimals by lookup tables for digits and overpunched signs. Values of up
to 18 digits are accumulated in int64; longer ones in four 32-bit limbs that form the Arrow
decimal128 buffer directly. Only zoned rows that the fast path rejects (leading spaces, edited
pictures, odd signs) go through a per-row parser, and only those rows.

Each decoder returns ``(array, invalid)`` where ``invalid`` marks rows whose bytes are not a valid
value (the array holds null there); blank fields (all spaces / all 0x00) are null but not invalid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from tools.content.cobol.copybook import Node
from tools.content.cobol.decode_text import validity_buffer
from tools.content.cobol.picture import expand
from tools.content.cobol.zoned_slow import parse_display_row
from tools.content.cobol.zoned_tables import ZonedTables, zoned_tables

__all__ = [
    "NumType",
    "ZonedTables",
    "decode_binary",
    "decode_float",
    "decode_packed",
    "decode_zoned",
    "num_type",
    "zoned_tables",
]

_POW10 = np.array([10**i for i in range(19)], dtype=np.int64)
_MASK32 = np.uint64(0xFFFFFFFF)
_POW100 = np.array([100**i for i in range(10)], dtype=np.int64)
_PACK_OK = np.array([(b >> 4) <= 9 and (b & 15) <= 9 for b in range(256)], dtype=bool)
_PACK_VAL = np.array([(b >> 4) * 10 + (b & 15) for b in range(256)], dtype=np.uint8)


@dataclass(frozen=True)
class NumType:
    """The Arrow representation chosen for a numeric field."""

    kind: str  # int64 | decimal | float32 | float64
    precision: int = 0
    scale: int = 0
    factor: int = 0  # trailing P: multiply the digits by 10**factor

    def arrow(self) -> pa.DataType:
        if self.kind == "int64":
            return pa.int64()
        if self.kind == "decimal":
            return pa.decimal128(self.precision, self.scale)
        return pa.float32() if self.kind == "float32" else pa.float64()


def num_type(node: Node) -> NumType:
    """Pick int64 (scale 0, <= 18 digits), decimal128 or a float type for a numeric item."""
    if node.kind == "float":
        return NumType("float32")
    if node.kind == "double":
        return NumType("float64")
    pic = node.pic
    assert pic is not None
    total = pic.digits + pic.scale_factor
    if node.kind == "binary" and not pic.signed and node.size == 8 and pic.digits >= 18:
        # an unsigned 8-byte binary holds up to 2**64 - 1 (20 digits): int64 cannot hold the
        # top half, so it is a decimal (cobrix: decimal for 9(18) COMP)
        return NumType("decimal", max(20, total, pic.scale), pic.scale, pic.scale_factor)
    if pic.scale == 0 and total <= 18:
        return NumType("int64", total, 0, pic.scale_factor)
    return NumType("decimal", min(38, max(total, pic.scale, 1)), pic.scale, pic.scale_factor)


# ---------------------------------------------------------------- digits -> Arrow


def _accumulate_int64(digits: np.ndarray) -> np.ndarray:
    """Digits (rows, k <= 18) -> int64 values: one integer dot product with powers of ten."""
    k = digits.shape[1]
    if k == 0:
        return np.zeros(digits.shape[0], dtype=np.int64)
    return digits.astype(np.int64) @ _POW10[k - 1 :: -1] if k > 1 else digits[:, 0].astype(np.int64)


def _limbs_from_digits(digits: np.ndarray) -> list[np.ndarray]:
    """128-bit magnitudes as four uint64 arrays holding 32 bits each (little-endian limbs)."""
    m, k = digits.shape
    limbs = [np.zeros(m, dtype=np.uint64) for _ in range(4)]
    j = 0
    while j < k:
        step = min(9, k - j)
        chunk = _accumulate_int64(digits[:, j : j + step]).astype(np.uint64)
        carry = chunk
        mul = np.uint64(10**step)
        for i in range(4):
            t = limbs[i] * mul + carry
            limbs[i] = t & _MASK32
            carry = t >> np.uint64(32)
        j += step
    return limbs


def _decimal_from_limbs(
    limbs: list[np.ndarray], neg: np.ndarray, valid: np.ndarray, t: NumType
) -> pa.Array:
    m = limbs[0].shape[0]
    if neg.any():  # two's complement where negative: invert and add one
        carry = neg.astype(np.uint64)
        for i in range(4):
            x = np.where(neg, (~limbs[i]) & _MASK32, limbs[i]) + carry
            limbs[i] = x & _MASK32
            carry = x >> np.uint64(32)
    words = np.empty((m, 2), dtype=np.uint64)
    words[:, 0] = limbs[0] | (limbs[1] << np.uint64(32))
    words[:, 1] = limbs[2] | (limbs[3] << np.uint64(32))
    vbuf, nulls = validity_buffer(valid)
    return pa.Array.from_buffers(t.arrow(), m, [vbuf, pa.py_buffer(words)], null_count=nulls)


def decimal_from_int64(v: np.ndarray, valid: np.ndarray, t: NumType) -> pa.Array:
    """decimal128 array whose unscaled values are the int64 ``v``."""
    m = v.shape[0]
    words = np.empty((m, 2), dtype=np.int64)
    words[:, 0] = v
    words[:, 1] = np.where(v < 0, -1, 0)
    vbuf, nulls = validity_buffer(valid)
    return pa.Array.from_buffers(t.arrow(), m, [vbuf, pa.py_buffer(words)], null_count=nulls)


def int64_array(v: np.ndarray, valid: np.ndarray) -> pa.Array:
    """int64 Arrow array with a validity mask."""
    vbuf, nulls = validity_buffer(valid)
    return pa.Array.from_buffers(pa.int64(), v.shape[0], [vbuf, pa.py_buffer(v)], null_count=nulls)


def digits_to_array(
    digits: np.ndarray, neg: np.ndarray, valid: np.ndarray, t: NumType
) -> tuple[pa.Array, np.ndarray]:
    """Turn a (rows, k) matrix of decimal digits plus signs into the Arrow array of type ``t``.

    Returns:
        The array and the rows that overflowed the type's precision (now null).
    """
    if t.factor:
        digits = np.concatenate(
            [digits, np.zeros((digits.shape[0], t.factor), dtype=digits.dtype)], axis=1
        )
    k = digits.shape[1]
    limit = t.precision if t.kind == "decimal" else 18
    overflow = np.zeros(digits.shape[0], dtype=bool)
    if k > limit:
        overflow = digits[:, : k - limit].any(axis=1) & valid
        digits = digits[:, k - limit :]
        k = limit
    valid = valid & ~overflow
    if k <= 18:
        v = _accumulate_int64(digits)
        v = np.where(neg, -v, v)
        if t.kind == "int64":
            return int64_array(np.where(valid, v, 0), valid), overflow
        return decimal_from_int64(np.where(valid, v, 0), valid, t), overflow
    return _decimal_from_limbs(_limbs_from_digits(digits), neg & valid, valid, t), overflow


# ---------------------------------------------------------------- packed


def decode_packed(
    block: np.ndarray, node: Node, t: NumType, null_blank: bool = True
) -> tuple[pa.Array, np.ndarray]:
    """COMP-3 (and unsigned COMP-3U) via nibble arithmetic.

    Args:
        block: (rows, width) bytes.
        node: the field.
        t: its Arrow type.
        null_blank: all-0x00 / all-0x40 fields become null without being invalid.

    Returns:
        (array, invalid rows).
    """
    m, w = block.shape
    blank = np.zeros(m, dtype=bool)
    if null_blank:
        first = block[:, 0]
        cand = (first == 0) | (first == 0x40)
        if cand.any():
            blank = cand & ((block == 0).all(axis=1) | (block == 0x40).all(axis=1))
    if node.usage != "COMP-3U" and 2 * w - 1 <= 18 and t.factor == 0:
        # one byte = two digits: accumulate per byte with lookup tables (half the steps)
        body = block[:, :-1]
        last = block[:, -1]
        ok = np.take(_PACK_OK, body).all(axis=1) if w > 1 else np.ones(m, dtype=bool)
        sign = last & 0x0F
        ok &= ((last >> 4) <= 9) & (sign >= 0x0A)
        v = np.zeros(m, dtype=np.int64)
        for j in range(w - 1):  # in place, two digits per step
            v *= 100
            v += np.take(_PACK_VAL, body[:, j])
        v = v * 10 + (last >> 4)
        v = np.where((sign == 0x0D) | (sign == 0x0B), -v, v)
        valid = ok & ~blank
        v = np.where(valid, v, 0)
        overflow = np.zeros(m, dtype=bool)
        if t.kind == "decimal":
            overflow = valid & (np.abs(v) >= 10**t.precision)
            valid &= ~overflow
            return decimal_from_int64(np.where(valid, v, 0), valid, t), (~ok & ~blank) | overflow
        return int64_array(v, valid), ~ok & ~blank
    nib = np.empty((m, 2 * w), dtype=np.uint8)
    nib[:, 0::2] = block >> 4
    nib[:, 1::2] = block & 0x0F
    if node.usage == "COMP-3U":
        digits, neg = nib, np.zeros(m, dtype=bool)
        ok = (digits <= 9).all(axis=1)
    else:
        digits, sign = nib[:, :-1], nib[:, -1]
        neg = (sign == 0x0D) | (sign == 0x0B)
        ok = (digits <= 9).all(axis=1) & (sign >= 0x0A)
    valid = ok & ~blank
    arr, overflow = digits_to_array(np.where(valid[:, None], digits, 0), neg, valid, t)
    return arr, (~ok & ~blank) | overflow


# ---------------------------------------------------------------- binary


def decode_binary(
    block: np.ndarray,
    node: Node,
    t: NumType,
    *,
    strict_spaces: bool = False,
    space_byte: int = 0x40,
) -> tuple[pa.Array, np.ndarray]:
    """COMP / BINARY / COMP-4 / COMP-5 (big-endian) and COMP-9 (little-endian) integers.

    Args:
        block: (rows, width) bytes, width 2/4/8 or more (then decoded as a 128-bit integer).
        node: the field.
        t: its Arrow type.
        strict_spaces: treat a field made only of space bytes as invalid.
        space_byte: the space byte of the data's encoding.

    Returns:
        (array, invalid rows).
    """
    m, w = block.shape
    pic = node.pic
    signed = bool(pic and pic.signed)
    little = node.usage == "COMP-9"
    invalid = np.zeros(m, dtype=bool)
    if strict_spaces:
        invalid = (block == space_byte).all(axis=1)
    valid = ~invalid
    if w in (1, 2, 4, 8):
        code = {1: "1", 2: "2", 4: "4", 8: "8"}[w]
        dt = np.dtype(("<" if little else ">") + ("i" if signed else "u") + code)
        raw = np.ascontiguousarray(block).view(dt).reshape(m)
        if not signed and w == 8 and t.kind == "decimal" and t.precision >= 20:
            return _wide_binary(block, t, valid, little=little, signed=False), invalid
        if not signed and w in (4, 8) and not (pic and pic.digits in (9, 18)):
            # as cobrix: 9(9) and 9(18) COMP decode their full unsigned range (9(18) is a
            # decimal(20) above); shorter pictures are read as int32 / int64, so a value past
            # 2**31 - 1 / 2**63 - 1 (more digits than the picture allows) is null
            too_big = raw > (np.uint32(2**31 - 1) if w == 4 else np.uint64(2**63 - 1))
            invalid |= too_big
            valid &= ~too_big
        v = raw.astype(np.int64)
        if t.kind == "int64":
            if t.factor:
                v = v * _POW10[t.factor]
            return int64_array(np.where(valid, v, 0), valid), invalid
        if t.kind == "decimal":
            return decimal_from_int64(np.where(valid, v, 0), valid, t), invalid
    return _wide_binary(block, t, valid, little=little, signed=signed), invalid


def _wide_binary(
    block: np.ndarray, t: NumType, valid: np.ndarray, *, little: bool, signed: bool
) -> pa.Array:
    """Binary integers as decimal128: sign- (or zero-) extend to 16 little-endian bytes."""
    m, w = block.shape
    src = block if little else block[:, ::-1]
    wide = np.zeros((m, 16), dtype=np.uint8)
    wide[:, : min(w, 16)] = src[:, :16]
    if signed and w < 16:
        top = (src[:, w - 1] & 0x80) != 0
        wide[top, w:] = 0xFF
    wide[~valid] = 0
    vbuf, nulls = validity_buffer(valid)
    return pa.Array.from_buffers(t.arrow(), m, [vbuf, pa.py_buffer(wide)], null_count=nulls)


# ---------------------------------------------------------------- floating point


def decode_float(block: np.ndarray, node: Node, fmt: str = "IBM") -> tuple[pa.Array, np.ndarray]:
    """COMP-1 / COMP-2 in IBM hexadecimal float (default) or IEEE 754, big or little endian.

    Args:
        block: (rows, 4 or 8) bytes.
        node: the field.
        fmt: ``IBM``, ``IBM_little_endian``, ``IEEE754`` or ``IEEE754_little_endian``.

    Returns:
        (array, invalid rows) -- floats are never invalid.
    """
    m, w = block.shape
    little = fmt.upper().endswith("LITTLE_ENDIAN")
    data = np.ascontiguousarray(block[:, ::-1] if little else block)
    if fmt.upper().startswith("IEEE"):
        vals = data.view(">f4" if w == 4 else ">f8").reshape(m)
    else:
        raw = data.view(">u4" if w == 4 else ">u8").reshape(m).astype(np.uint64)
        bits = 32 if w == 4 else 64
        sign = (raw >> np.uint64(bits - 1)) & np.uint64(1)
        exp = ((raw >> np.uint64(bits - 8)) & np.uint64(0x7F)).astype(np.int64) - 64
        frac_bits = bits - 8
        frac = (raw & np.uint64((1 << frac_bits) - 1)).astype(np.float64)
        vals = np.ldexp(frac, (4 * exp - frac_bits).astype(np.int32))
        vals = np.where(sign == 1, -vals, vals)
    with np.errstate(over="ignore"):  # IBM single floats reach 7e75: past float32 -> inf
        vals = vals.astype(np.float32 if node.kind == "float" else np.float64)
    return pa.array(vals), np.zeros(m, dtype=bool)


# ---------------------------------------------------------------- zoned


def _roles(node: Node) -> list[str]:
    """Role of each byte of a DISPLAY numeric: digit, z (digit or blank), point, sign, skip."""
    pic = node.pic
    assert pic is not None
    roles: list[str] = []
    for ch in expand(pic.text):
        if ch == "9":
            roles.append("digit")
        elif ch in "Z*":
            roles.append("z")
        elif ch == ".":
            roles.append("point")
        elif ch in "+-":
            roles.append("sign")
        elif ch in "SVP":
            continue
        else:
            roles.append("skip")
    if node.sign_separate:
        if node.sign_position == "leading":
            roles.insert(0, "sign")
        else:
            roles.append("sign")
    return roles


def decode_zoned(
    block: np.ndarray,
    node: Node,
    t: NumType,
    zt: ZonedTables,
    *,
    strict_overpunch: bool = False,
    null_zero_bytes: bool = True,
    blank_scaled_as_zero: bool = True,
) -> tuple[pa.Array, np.ndarray, dict[int, str]]:
    """DISPLAY numerics: digits, overpunched or separate signs, implied or explicit point.

    Args:
        block: (rows, width) bytes.
        node: the field.
        t: its Arrow type.
        zt: the encoding's lookup tables.
        strict_overpunch: an overpunched sign on an unsigned field, or a sign anywhere but the
            sign position, is invalid.
        null_zero_bytes: a field of 0x00 bytes is null (improved null detection).
        blank_scaled_as_zero: an all-space field with implied decimals decodes as 0 (cobrix).

    Returns:
        (array, invalid rows, {row: reason} for invalid rows).
    """
    pic = node.pic
    assert pic is not None
    m, w = block.shape
    roles = _roles(node)
    if len(roles) != w:  # defensive: picture and width disagree -> everything via slow path
        roles = ["digit"] * w
    dpos = [i for i, r in enumerate(roles) if r in ("digit", "z")]
    op_at = None
    if pic.signed and "sign" not in roles and dpos:
        op_at = dpos[0] if node.sign_position == "leading" else dpos[-1]
    ok = np.ones(m, dtype=bool)
    neg = np.zeros(m, dtype=bool)
    sub = block if len(dpos) == w else block[:, dpos]
    digits = np.take(zt.digit, sub)
    for j, i in enumerate(dpos):
        if roles[i] == "z":
            col = block[:, i]
            digits[:, j] = np.where(col == zt.space, 0, digits[:, j])
        if i == op_at or (not pic.signed and not strict_overpunch and i == dpos[-1]):
            col = block[:, i]
            digits[:, j] = zt.op_digit[col]
            if i == op_at:
                neg |= zt.op_neg[col]
            else:
                ok &= ~zt.op_neg[col]
    bad_digit = digits == 255
    ok &= ~bad_digit.any(axis=1)
    if not ok.all():
        digits[bad_digit] = 0
    for i, r in enumerate(roles):
        if r == "point":
            ok &= block[:, i] == zt.point
        elif r == "sign":
            col = block[:, i]
            is_minus = col == zt.minus
            neg |= is_minus
            ok &= is_minus | (col == zt.plus) | (col == zt.space)
    zero_bytes = np.zeros(m, dtype=bool)
    spaces = np.zeros(m, dtype=bool)
    first = block[:, 0]
    cand = first == zt.space
    if cand.any():  # only rows starting with a space can be blank
        spaces = cand & (block == zt.space).all(axis=1)
    cand = first == 0
    if null_zero_bytes and cand.any():
        zero_bytes = cand & (block == 0).all(axis=1)
    blank = zero_bytes | spaces
    valid = ok & ~blank
    reasons: dict[int, str] = {}
    slow = np.nonzero(~ok & ~blank)[0]
    if slow.size:
        k = len(dpos)
        for row in slow.tolist():
            value, err = parse_display_row(bytes(block[row]), node, zt, strict_overpunch)
            if err is not None or value is None:
                reasons[row] = err or "not a number"
                continue
            mag = abs(value)
            text = str(mag).rjust(k, "0")
            if len(text) > k:
                reasons[row] = f"value {value} has more digits than PIC {pic.text}"
                continue
            digits[row] = np.frombuffer(text.encode(), dtype=np.uint8) - 48
            neg[row] = value < 0
            valid[row] = True
    if blank_scaled_as_zero and pic.scale > 0 and not pic.explicit_point:
        zero = spaces & ~zero_bytes
        valid |= zero
        digits[zero] = 0
    digits[~valid] = 0
    arr, overflow = digits_to_array(digits, neg & valid, valid, t)
    for row in np.nonzero(overflow)[0].tolist():
        reasons.setdefault(row, f"value does not fit PIC {pic.text}")
    invalid = np.zeros(m, dtype=bool)
    if reasons:
        invalid[list(reasons)] = True
    return arr, invalid, reasons
