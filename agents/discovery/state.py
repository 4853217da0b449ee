"""The checkpointed state of a discovery journey (plain JSON values and messages only)."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages


class DiscoveryState(TypedDict, total=False):
    journey: str
    status: str
    inputs: dict[str, Any]
    notes: Annotated[list[dict[str, Any]], operator.add]
    messages: Annotated[list[AnyMessage], add_messages]
    pending_question: str | None
    return_to: str | None
    blocked: dict[str, Any] | None
    sources: list[dict[str, Any]]
    profiles: dict[str, dict[str, Any]]
    focus_source: str | None
    mapping_id: str | None
    mapping: dict[str, Any] | None
    pending_edit: dict[str, Any] | None
    decisions: Annotated[list[dict[str, Any]], operator.add]
    approved: dict[str, Any] | None
    rule_set: str | None
    routing: dict[str, Any] | None
    export: dict[str, Any] | None
