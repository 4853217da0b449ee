"""How each system of the estate writes a policy key, and how to read any of them back.

Real estates do not share one key format: the policy master writes ``P000004512``, billing the
bare number ``4512``, claims ``KX-004512``, the correspondence archive ``kx004512-01`` (lower
case, a term suffix), and the acquired company numbers its policies its own way (``AQ-01167347``)
with a crosswalk table to the group number. Every format is a pure function of the policy
number, so ground truth never needs the files.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

# Acquired numbering: an affine map no prefix/padding transform can undo (a crosswalk is needed).
_ACQ_FACTOR, _ACQ_OFFSET = 37, 1_000_003


def group_key(n: int) -> str:
    """The group-wide policy number (policy master, agency, life, endorsements, crosswalk)."""
    return f"P{n:09d}"


def billing_key(n: int) -> str:
    """Billing: the bare number, no prefix, no padding."""
    return str(n)


def claims_key(n: int) -> str:
    """Claims: ``KX-`` and six-digit zero padding."""
    return f"KX-{n:06d}"


def correspondence_key(n: int) -> str:
    """Correspondence archive: lower-case ``kx``, no separator, a ``-01`` term suffix."""
    return f"kx{n:06d}-01"


def acquired_number(n: int) -> int:
    """The acquired company's own policy number of group policy ``n``."""
    return n * _ACQ_FACTOR + _ACQ_OFFSET


def acquired_key(n: int) -> str:
    """The acquired company's own key (``AQ-`` and eight digits)."""
    return f"AQ-{acquired_number(n):08d}"


KEY_FORMATS: dict[str, Callable[[int], str]] = {
    "group": group_key,
    "billing": billing_key,
    "claims": claims_key,
    "correspondence": correspondence_key,
    "acquired": acquired_key,
}


def keys(fmt: str, numbers: NDArray[np.int64]) -> list[str]:
    """Keys of ``numbers`` in the named format (see :data:`KEY_FORMATS`)."""
    render = KEY_FORMATS[fmt]
    return [render(v) for v in numbers.tolist()]


_KEY = re.compile(r"^(?P<prefix>[A-Za-z]*)-?(?P<digits>\d+)(?:-\d{2})?$")


def number_of(value: object) -> int | None:
    """The policy number any estate key stands for; None when the value is no estate key.

    ``P000004512``, ``4512``, ``KX-004512``, ``kx004512-01`` -> 4512; an acquired key
    (``AQ-...``) is inverted through its affine numbering (None if it inverts to no policy).
    """
    if value is None:
        return None
    match = _KEY.match(str(value).strip())
    if match is None:
        return None
    digits = int(match["digits"])
    if match["prefix"].upper() == "AQ":
        n, rest = divmod(digits - _ACQ_OFFSET, _ACQ_FACTOR)
        return n if rest == 0 and n > 0 else None
    return digits
