"""The paging fields every long list carries, in every door (MCP tool, CLI --json, REST API).

Lists are paged with ``limit`` and an opaque ``cursor``; a page says how to get the rest.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class Page(BaseModel):
    """Paging fields every long list carries."""

    next_cursor: str | None = Field(None, description="Pass as cursor to get the next page.")
    total: int = Field(description="How many items there are in all.")
    note: str | None = Field(None, description="How to get the rest, when there is more.")
