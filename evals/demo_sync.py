"""The demo's coexistence step: after wave 0, a second legacy extract with changes, and sync.

Wave 0 moved its policies to the new platform; the legacy system keeps running. The step

1. keeps the wave in step (``sync adopt``): the wave's policies are owned by ``new`` and sync
   follows them as the platform's tables hold them;
2. captures the legacy extract of the day of the wave as the feed's starting snapshot (the
   policies as migrated, as sync adopted them: nothing to do) and then a second extract with
   changes: premiums changed on legacy only, one policy cancelled on legacy that a platform
   user set to pending, one insured's name edited on both sides;
3. writes the two platform edits through ``write_policy`` (routed to new by the ledger), runs
   sync, and reports what it applied, the conflict the policy decided (status: cancelled beats
   pending) and the one queued for a person (the name: no rule decides it).

Runs on the policies sync started following with this wave; a later demo run on the same
workspace (sync already follows them) says so and skips the scenario.
"""

from __future__ import annotations

import csv
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from core.ids import tenant_path
from core.settings import Settings
from core.statuses import WaveState
from tools.content.ingest import ingest_file
from tools.sync.adopt import keep_in_step
from tools.sync.capture import LegacyCapture
from tools.sync.conflicts import ConflictQueue
from tools.sync.contracts import ConflictState
from tools.sync.platform import NewPlatform
from tools.sync.service import run_sync
from tools.sync.write import SelectiveWriter

STATUS, PREMIUM, NAME = (
    "policy_core.status",
    "rating_components.premium_amount",
    "policy_core.insured_party.name",
)
#: The legacy extract's layout: column -> canonical path (the feed's column map).
COLUMNS = {
    "POLNO": "policy_core.policy_id",
    "STATUS": STATUS,
    "PREMIUM": PREMIUM,
    "HOLDER": NAME,
}


def _row(pid: str, doc: dict[str, Any]) -> list[Any]:
    return [pid, *(doc.get(p) or "" for p in list(COLUMNS.values())[1:])]


class _Extracts:
    """The extract of the wave's day and the next day's, written from the documents sync adopts
    (one batch of documents in memory at a time; the wave is read back once); the two policies
    edited on both sides are kept in full.

    The next day: the first two policies whose status is neither value the sides will set are
    edited on both sides (status, then name); the next ``one_sided`` have their premium
    re-rated on legacy only.
    """

    def __init__(self, folder: Path, one_sided: int) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.day0, self.day1 = folder / "day-0.csv", folder / "day-1.csv"
        self.both: list[tuple[str, dict[str, Any]]] = []
        self._one_sided, self._re_rated = one_sided, 0
        self._stack = ExitStack()
        handles = [
            self._stack.enter_context(p.open("w", newline="", encoding="utf-8"))
            for p in (self.day0, self.day1)
        ]
        self._first, self._second = (csv.writer(h) for h in handles)
        self._first.writerow(list(COLUMNS))
        self._second.writerow(list(COLUMNS))

    def add(self, docs: dict[str, dict[str, Any]]) -> None:
        for pid, doc in docs.items():
            self._first.writerow(_row(pid, doc))
            later = doc
            if len(self.both) < 2 and doc.get(STATUS) not in ("cancelled", "pending"):
                self.both.append((pid, doc))
                if len(self.both) == 1:  # legacy cancels ...
                    later = {**doc, STATUS: "cancelled"}
                else:
                    later = {**doc, NAME: f"{doc.get(NAME) or pid} (legacy spelling)"}
            elif self._re_rated < self._one_sided:  # re-rated on legacy only: applied to new
                later = {**doc, PREMIUM: "1234.50"}
                self._re_rated += 1
            self._second.writerow(_row(pid, later))

    def close(self) -> None:
        self._stack.close()


def _capture(
    engine: Engine, settings: Settings, feed: str, path: Path, first: bool
) -> dict[str, Any]:
    # The feed is read through its column map: no semantic index, no embedding model (whose
    # ~600 MiB process the demo ended after mapping) for four known columns.
    source = ingest_file(
        engine,
        settings,
        path,
        fmt="csv",
        options={"header": True},
        system="LEGACY-PAS",
        index=False,
    )
    # The first extract is the wave's day: sync adopted exactly these policies, so it is the
    # feed's starting snapshot (baseline), not one insert per policy for apply to find equal.
    result = LegacyCapture(engine, settings, tenant=settings.tenant).capture(
        feed, source.source_id, COLUMNS if first else None, baseline=first
    )
    return result.model_dump(mode="json")


def sync_step(engine: Engine, settings: Settings, waves: dict[str, Any]) -> dict[str, Any]:
    """After wave 0: keep it in step, then a second legacy extract with changes, then sync."""
    started = time.perf_counter()
    wave0 = waves.get("wave0") or {}
    if wave0.get("status") != WaveState.COMPLETED:
        return {"status": "skipped", "reason": "wave 0 did not complete"}
    wave_id = wave0["wave_id"]
    tenant = settings.tenant
    folder = tenant_path(settings.path("sync"), tenant, "_demo", wave_id)
    extracts = _Extracts(folder, max(1, int(wave0.get("migrated") or 0) // 100))
    try:  # the extracts are written from the documents sync adopts: one read of the wave
        after = keep_in_step(engine, settings, wave_id, tenant=tenant, on_documents=extracts.add)
    finally:
        extracts.close()
    report: dict[str, Any] = {"wave_id": wave_id, "ledger": after.ledger.model_dump(mode="json")}
    if after.adopted is None or after.adopted.fresh < 3:
        reason = "sync already followed wave 0's policies (an earlier demo run on this workspace)"
        return {**report, "status": "skipped", "reason": reason}
    report["adopted"] = after.adopted.model_dump(mode="json")
    feed = f"demo-{wave_id}"[:128]
    day0, day1, both = extracts.day0, extracts.day1, extracts.both
    if len(both) < 2:
        reason = "fewer than two of wave 0's policies have a status both sides could change"
        return {**report, "status": "skipped", "reason": reason}
    report["extract_1"] = _capture(engine, settings, feed, day0, first=True)
    quiet = run_sync(engine, settings, tenant=tenant)

    (decided, decided_doc), (queued, queued_doc) = both
    writer = SelectiveWriter(engine, settings, tenant=tenant)
    platform = NewPlatform(engine, tenant=tenant, settings=settings)
    for pid, doc, changes in (
        (decided, decided_doc, {STATUS: "pending"}),  # ... while a platform user sets it pending
        (queued, queued_doc, {NAME: f"{queued_doc.get(NAME) or queued} (platform spelling)"}),
    ):
        writer.write_policy(pid, {**(platform.document(pid) or doc), **changes})
    report["extract_2"] = _capture(engine, settings, feed, day1, first=False)
    run = run_sync(engine, settings, tenant=tenant)
    conflicts = ConflictQueue(engine, tenant=tenant).page(state=None, limit=1000)
    mine = [c for c in conflicts.conflicts if c.policy_id in (decided, queued)]
    report.update(
        {
            "status": "in step" if run.status.backlog == 0 else "backlog",
            "quiet_run": quiet.apply.model_dump(mode="json"),
            "applied": run.apply.applied,
            "from_legacy": run.apply.from_legacy,
            "from_new": run.apply.from_new,
            "delivered_new": run.delivered_new,
            "delivered_legacy": run.delivered_legacy,
            "resolved_by_rule": [
                {
                    "policy_id": c.policy_id,
                    "path": c.path,
                    "winner": c.resolution,
                    "value": c.resolved_value,
                    "reason": f"{c.group}: {c.decided_by}, {c.legacy!r} (legacy) against "
                    f"{c.new!r} (new)",
                }
                for c in mine
                if c.state == ConflictState.RESOLVED
            ],
            "queued_for_a_person": [
                {
                    "conflict": c.id,
                    "policy_id": c.policy_id,
                    "path": c.path,
                    "legacy": c.legacy,
                    "new": c.new,
                    "reason": f"{c.group}: no rule decides it; data-mash sync resolve {c.id} "
                    "--take legacy|new|value",
                }
                for c in mine
                if c.state == ConflictState.OPEN
            ],
            "open_conflicts": run.status.conflicts,
            "seconds": round(time.perf_counter() - started, 2),
        }
    )
    return report
