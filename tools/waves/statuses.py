"""The waves' vocabulary: wave and milestone statuses, the saga's milestones. Defined once."""

from __future__ import annotations

from enum import StrEnum


class WaveState(StrEnum):
    """Status of a wave, and of one milestone of its saga."""

    PENDING = "pending"
    RUNNING = "running"
    FAILED = "failed"
    CANCELLED = "cancelled"
    COMPENSATED = "compensated"
    COMPLETED = "completed"


class MilestoneName(StrEnum):
    """The saga's milestones, in execution order (compensation runs them backwards)."""

    INGEST = "ingest"
    MAP_TO_CANONICAL = "map_to_canonical"
    ROUTE = "route"
    MIGRATE = "migrate"
    VALIDATE = "validate"


#: The milestones in execution order.
MILESTONES: tuple[MilestoneName, ...] = tuple(MilestoneName)
