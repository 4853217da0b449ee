"""Cursor paging on the server: every list route returns one page and how to get the next."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from core.paging import Page

T = TypeVar("T")


def page_of(items: Sequence[T], limit: int, cursor: str | None) -> tuple[list[T], Page]:
    """One page of ``items`` from ``cursor`` (an offset handed out by the previous page)."""
    total = len(items)
    start = max(0, min(int(cursor) if cursor else 0, total))
    end = min(total, start + limit)
    more = end < total
    return list(items[start:end]), Page(
        next_cursor=str(end) if more else None,
        total=total,
        note=f"{total - end} more; call again with cursor={end}" if more else None,
    )
