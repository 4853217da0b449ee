"""Statuses stored in more than one capability's tables, defined once.

A wave's status is written by ``tools.waves`` and read by ``tools.routing`` (a migrated policy
must not be rerouted) and the tracker, so its vocabulary sits below both.
"""

from __future__ import annotations

from enum import StrEnum


class WaveState(StrEnum):
    """Status of a wave, and of one milestone of its saga."""

    PENDING = "pending"
    RUNNING = "running"
    FAILED = "failed"
    CANCELLED = "cancelled"
    COMPENSATING = "compensating"  # undoing: the target may hold part of the wave
    COMPENSATED = "compensated"
    COMPLETED = "completed"


#: Wave states in which the wave's target holds nothing of it.
WAVE_HOLDS_NOTHING = frozenset({WaveState.PENDING, WaveState.COMPENSATED})
