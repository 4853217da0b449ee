"""Status vocabularies, defined once as string enums.

Each value is the string stored in the tables and shown in JSON, so a member compares equal to
the stored string and dumps as it (SQLite, psycopg and ``json`` write a ``StrEnum`` as its value).
A status read back is parsed into its enum (``MappingStatus(row.status)``, or by a contract
model's field), so a value outside the vocabulary fails where it is read, not three calls later.

A wave's status is written by ``tools.waves`` and read by ``tools.routing`` (a migrated policy
must not be rerouted) and the tracker; a mapping's by ``tools.canonical`` and read by
``tools.assembly`` (each component records its mapping's status); a journey's by the agents and
read by the evals. So they sit below every capability.
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


class MappingStatus(StrEnum):
    """Status of one version of a mapping: a draft is edited in place, an approved one runs."""

    DRAFT = "draft"
    APPROVED = "approved"


class RuleStatus(StrEnum):
    """Status of one field rule of a mapping."""

    PROPOSED = "proposed"  # suggested by the matcher, nobody looked at it yet
    CONFIRMED = "confirmed"  # a person set or vouched for it
    UNMAPPED = "unmapped"  # a person decided the target stays empty


class AssemblyStatus(StrEnum):
    """Status of one version of an assembly spec: only an approved assembly runs."""

    DRAFT = "draft"
    APPROVED = "approved"


class RelationshipsStatus(StrEnum):
    """Whether a set of relationships among sources is a proposal or a stored, confirmed one."""

    PROPOSED = "proposed"
    CONFIRMED = "confirmed"


class JourneyStatus(StrEnum):
    """Where an agent journey stands (checkpointed in its state as the plain value)."""

    RUNNING = "running"
    WAITING = "waiting"  # interrupted on a question for a person
    DONE = "done"
    STOPPED = "stopped"  # the person stopped it, or a step could not go on
