"""Where routed policies are now, and which of them a wave put into (and left in) its target.

Routing and manual reroutes both move policies; neither may move one whose row a wave wrote into
its target and did not undo, or its location would stop telling the truth.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, and_, select

from core.statuses import WAVE_HOLDS_NOTHING
from core.store.models import PolicyLocation, WaveRow, table_of
from core.targets import same_target

LOCATION = table_of(PolicyLocation)
WAVE = table_of(WaveRow)


def current_locations(conn: Connection, tenant: str, policy_ids: Sequence[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for start in range(0, len(policy_ids), 900):  # SQLite's bound-parameter cap
        chunk = list(policy_ids[start : start + 900])
        rows = conn.execute(
            select(
                LOCATION.c.policy_id, LOCATION.c.system, LOCATION.c.entry_id, LOCATION.c.wave
            ).where(and_(LOCATION.c.tenant == tenant, LOCATION.c.policy_id.in_(chunk)))
        )
        found.update({row.policy_id: row for row in rows})
    return found


def held_by_waves(conn: Connection, tenant: str, located: dict[str, Any]) -> dict[str, Any]:
    """Policy -> wave row, for the located policies a wave put into (and left in) its target.

    ``located`` maps policy ids to location rows (with ``system`` and ``wave``).
    """
    waves = {loc.wave for loc in located.values() if loc.wave}
    if not waves:
        return {}
    rows = {
        row.wave_id: row
        for row in conn.execute(
            select(WAVE.c.wave_id, WAVE.c.target, WAVE.c.status).where(
                and_(WAVE.c.tenant == tenant, WAVE.c.wave_id.in_(sorted(waves)))
            )
        )
    }
    return {
        pid: rows[loc.wave]
        for pid, loc in located.items()
        if loc.wave in rows
        and rows[loc.wave].status not in WAVE_HOLDS_NOTHING
        and same_target(loc.system, rows[loc.wave].target)
    }
