"""Time arguments: ISO 8601 dates and times, or ages such as 30m, 12h, 7d (before now)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from core.errors import InputError

_AGE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_time(value: str, *, option: str) -> datetime:
    """Parse ``value`` as an aware UTC datetime; raise InputError naming ``option`` if it is not."""
    text = value.strip()
    match = _AGE.match(text)
    if match:
        return datetime.now(UTC) - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            f"'{value}' is not a time",
            where=option,
            fix="use ISO 8601 (2026-11-22 or 2026-11-22T10:30:00Z) or an age like 30m, 12h, 7d",
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_age(value: str, *, option: str) -> timedelta:
    match = _AGE.match(value.strip())
    if not match:
        raise InputError(f"'{value}' is not an age", where=option, fix="use e.g. 30d, 12h, 90m")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
