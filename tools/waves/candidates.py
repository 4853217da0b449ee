"""The candidates of a plan: a source's policies headed for the target, with what grouping needs.

Collected batch by batch into numpy columns (never one object per policy). A policy is left out
when routing sent it elsewhere, or when an earlier wave put it into its target and that wave was
not undone (it is counted as ``migrated``: a plan never migrates a policy twice).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, and_, select

from core.statuses import WAVE_HOLDS_NOTHING
from core.store.models import PolicyLocation, table_of
from core.targets import headed_for, same_target
from tools.waves.gates import RecordGate
from tools.waves.state import WAVE
from tools.waves.targets.base import POLICY_ID

LOCATION = table_of(PolicyLocation)
LOB, STATE, COVERAGES = (
    "policy_core.policy_type",
    "policy_core.insured_party.address.state",
    "coverage_sections",
)


def _text_column(batch: pa.RecordBatch, name: str) -> np.ndarray:
    index = batch.schema.get_field_index(name)
    if index < 0:
        return np.full(batch.num_rows, "unknown", object)
    values = pc.fill_null(pc.cast(batch.column(index), pa.string()), "unknown")
    return np.asarray(values.to_numpy(zero_copy_only=False), object)


def _coverages(batch: pa.RecordBatch) -> np.ndarray:
    index = batch.schema.get_field_index(COVERAGES)
    if index < 0:
        return np.zeros(batch.num_rows, np.int32)
    return (
        pc.fill_null(pc.list_value_length(batch.column(index)), 0)
        .to_numpy(zero_copy_only=False)
        .astype(np.int32)
    )


def _locations(conn: Connection, tenant: str, ids: list[str]) -> dict[str, tuple[str, str | None]]:
    """Policy id -> (system it is in, wave that put it there) for those with a location."""
    found: dict[str, tuple[str, str | None]] = {}
    for start in range(0, len(ids), 900):  # SQLite's bound-parameter cap
        rows = conn.execute(
            select(LOCATION.c.policy_id, LOCATION.c.system, LOCATION.c.wave).where(
                and_(
                    LOCATION.c.tenant == tenant, LOCATION.c.policy_id.in_(ids[start : start + 900])
                )
            )
        )
        found.update({r.policy_id: (r.system, r.wave) for r in rows})
    return found


def holding_waves(conn: Connection, tenant: str) -> dict[str, str]:
    """Wave id -> target of the tenant's waves whose target may hold their policies."""
    rows = conn.execute(
        select(WAVE.c.wave_id, WAVE.c.target).where(
            and_(WAVE.c.tenant == tenant, WAVE.c.status.not_in(sorted(WAVE_HOLDS_NOTHING)))
        )
    )
    return {r.wave_id: r.target for r in rows}


class Candidates:
    """The plan's columns, accumulated batch by batch (numpy, never per-policy objects)."""

    def __init__(self, holding: dict[str, str]) -> None:
        self.parts: list[dict[str, np.ndarray]] = []
        self.excluded: Counter[str] = Counter()
        #: record gate -> planned policies it fails (they go to later waves, not wave 0)
        self.failing_by_gate: Counter[str] = Counter()
        self.scanned = self.missing_ids = self.migrated = 0
        #: wave id -> target of every wave whose target holds (part of) it
        self.holding = holding

    def add(
        self,
        source_id: str,
        batch: pa.RecordBatch,
        target: str,
        record_gates: list[RecordGate],
        conn: Connection,
        tenant: str,
    ) -> None:
        self.scanned += batch.num_rows
        ids = batch.column(POLICY_ID).cast(pa.string())
        present = pc.is_valid(ids).to_numpy(zero_copy_only=False)
        self.missing_ids += int((~present).sum())
        id_list = ids.to_pylist()
        where = _locations(conn, tenant, [i for i in id_list if i is not None])
        eligible = present.copy()
        for row, pid in enumerate(id_list):
            system, wave = where.get(pid, (None, None)) if pid is not None else (None, None)
            if system is None:
                continue
            if wave in self.holding and same_target(system, self.holding[wave]):
                eligible[row] = False  # an earlier wave put it in its target: not again
                self.migrated += 1
            elif not headed_for(system, target):
                eligible[row] = False
                self.excluded[system] += 1
        failing = np.zeros(batch.num_rows, np.bool_)
        for gate in record_gates:
            fails = pc.fill_null(gate.failing(batch), True).to_numpy(zero_copy_only=False)
            # why a planned policy is not in wave 0: each gate it fails is counted
            self.failing_by_gate[gate.name] += int((fails & eligible).sum())
            failing |= fails
        keep = np.flatnonzero(eligible)
        self.parts.append(
            {
                "id": np.asarray(ids.to_numpy(zero_copy_only=False), object)[keep],
                "source": np.full(len(keep), source_id, object),
                "lob": _text_column(batch, LOB)[keep],
                "state": _text_column(batch, STATE)[keep],
                "coverages": _coverages(batch)[keep],
                "clean": ~failing[keep],
            }
        )

    def columns(self) -> tuple[dict[str, np.ndarray], list[str]]:
        """The planned policies, and the ids left out because they occur more than once.

        A policy id found twice (in one source or across sources) is ambiguous: which record
        is the policy? It goes in no wave until the data is fixed; migrating it could only
        fail at the target or, worse, pick a record at random.
        """
        if not self.parts:
            return {k: np.array([], object) for k in ("id", "source", "lob", "state")} | {
                "coverages": np.array([], np.int32),
                "clean": np.array([], np.bool_),
            }, []
        cols = {k: np.concatenate([p[k] for p in self.parts]) for k in self.parts[0]}
        ids = cols["id"].astype(str)
        unique, counts = np.unique(ids, return_counts=True)
        repeated = unique[counts > 1]
        keep = ~np.isin(ids, repeated)
        return {k: v[keep] for k, v in cols.items()}, repeated.tolist()
