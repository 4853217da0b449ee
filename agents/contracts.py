"""What the journey commands print under --json (`journey run`, `journey list`, `mcp-config`):
pydantic models, so a script reading them and the command cannot disagree on a key."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, JsonValue

from core.statuses import JourneyStatus


class JourneyRunReport(BaseModel):
    """`data-mash journey run --json`: where the journey stands, and every note it made."""

    thread_id: str
    journey: str
    status: JourneyStatus = Field(description="waiting (for an answer), done or stopped.")
    # The graph's own values: dates, paths and sets among them (serialised as JSON on dump).
    question: dict[str, Any] | None = Field(description="The question it waits on.")
    state: dict[str, Any] = Field(description="The journey's values (no messages).")
    notes: list[dict[str, Any]]


class JourneyThread(BaseModel):
    """One journey thread in the workspace."""

    thread_id: str
    journey: str | None
    status: JourneyStatus | None
    updated_at: str = Field(description="ISO 8601 time of its last checkpoint.")


class JourneyThreadList(BaseModel):
    """`data-mash journey list --json`: the threads, newest first."""

    threads: list[JourneyThread]


class ClientConfig(BaseModel):
    """The MCP configuration for one client, and the file it goes in."""

    file: str
    config: dict[str, JsonValue]


def _absent(value: ClientConfig | None) -> bool:
    return value is None


class McpClientConfigs(BaseModel):
    """`data-mash mcp-config --json`: per client asked for, the file and the config to add."""

    claude: ClientConfig | None = Field(None, exclude_if=_absent)
    cursor: ClientConfig | None = Field(None, exclude_if=_absent)
    vscode: ClientConfig | None = Field(None, exclude_if=_absent)
