"""The checkpointed state of a discovery journey (plain JSON values and messages only)."""

from __future__ import annotations

import operator
from typing import Annotated, Any

from agents.journey import JourneyState


class DiscoveryState(JourneyState, total=False):
    sources: list[dict[str, Any]]
    profiles: dict[str, dict[str, Any]]
    focus_source: str | None
    mapping_id: str | None
    mapping: dict[str, Any] | None
    pending_edit: dict[str, Any] | None
    way_forward: list[dict[str, Any]] | None  # choices that fix the last failed edit
    decisions: Annotated[list[dict[str, Any]], operator.add]
    approved: dict[str, Any] | None
    relationships: list[dict[str, Any]] | None  # rows shown to the person
    relationship_set: dict[str, Any] | None  # the proposed (then confirmed) RelateResult
    assembly: dict[str, Any] | None  # the proposed (then approved) assembly spec
    assembly_run: dict[str, Any] | None
    rule_set: str | None
    routing: dict[str, Any] | None
    export: dict[str, Any] | None
