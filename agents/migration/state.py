"""The checkpointed state of a migration journey (plain JSON values and messages only)."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages


class MigrationState(TypedDict, total=False):
    journey: str
    status: str
    inputs: dict[str, Any]
    notes: Annotated[list[dict[str, Any]], operator.add]
    messages: Annotated[list[AnyMessage], add_messages]
    pending_question: str | None
    return_to: str | None
    blocked: dict[str, Any] | None
    plan_id: str | None
    waves: list[dict[str, Any]]
    current_wave: str | None
    gates: list[dict[str, Any]]
    pending_override: dict[str, str] | None
    wave_results: dict[str, dict[str, Any]]
    reconciliations: dict[str, dict[str, Any]]
    done_waves: list[str]
