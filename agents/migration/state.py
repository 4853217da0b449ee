"""The checkpointed state of a migration journey (plain JSON values and messages only)."""

from __future__ import annotations

from typing import Any

from agents.journey import JourneyState


class MigrationState(JourneyState, total=False):
    plan_id: str | None
    waves: list[dict[str, Any]]
    current_wave: str | None
    gates: list[dict[str, Any]]
    pending_override: dict[str, str] | None
    wave_results: dict[str, dict[str, Any]]
    reconciliations: dict[str, dict[str, Any]]
    done_waves: list[str]
    in_step: dict[str, dict[str, Any]]
