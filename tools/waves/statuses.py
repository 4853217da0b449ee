"""The waves' vocabulary: wave statuses (from core.statuses) and the saga's milestones."""

from __future__ import annotations

from enum import StrEnum

from core.statuses import WaveState

__all__ = ["MILESTONES", "MilestoneName", "WaveState"]


class MilestoneName(StrEnum):
    """The saga's milestones, in execution order (compensation runs them backwards)."""

    INGEST = "ingest"
    MAP_TO_CANONICAL = "map_to_canonical"
    ROUTE = "route"
    MIGRATE = "migrate"
    VALIDATE = "validate"


#: The milestones in execution order.
MILESTONES: tuple[MilestoneName, ...] = tuple(MilestoneName)
