"""Days of coexistence in a seeded random schedule: both sides edit, the relay is SIGKILLed,
deliveries repeat. After the final sync and sweep both sides hold the same policies, every
one-sided change survived, every two-sided one was decided or queued (and carried once
resolved), no change was applied twice, and the sides fall quiet (no loop).

A failing run prints its seed: SYNC_SIM_SEED=<seed> reruns exactly that schedule.
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, update

from core.settings import Settings
from core.store.models import PlatformOutboxRow, SyncChangeRow, SyncOutboundRow, table_of
from tests.tools.sync.extracts import COLUMNS, LegacyBook, ingest, write_flat_extract
from tools.sync.capture import LegacyCapture
from tools.sync.conflicts import ConflictQueue, Take
from tools.sync.contracts import Owner
from tools.sync.ledger import OwnershipLedger
from tools.sync.platform import NewPlatform
from tools.sync.relay import legacy_drop_dir
from tools.sync.service import run_sync, sweep_new, sync_status

OUTBOX, CHANGE, OUTBOUND = (
    table_of(PlatformOutboxRow),
    table_of(SyncChangeRow),
    table_of(SyncOutboundRow),
)
ROOT = Path(__file__).resolve().parents[3]
CITY, STATUS, CARRIER, PREMIUM = (
    "policy_core.insured_party.address.city",
    "policy_core.status",
    "policy_core.carrier",
    "rating_components.premium_amount",
)
COVER = "coverage_sections[C1].coverage_type"
VALUES: dict[str, list[Any]] = {
    CITY: ["Bonn", "Köln", "Ulm", "Hamburg", "Essen", "Kiel"],
    STATUS: ["active", "pending", "cancelled", "inactive", "expired"],
    CARRIER: ["ACME", "Globex", "Initech", "Umbrella"],
    PREMIUM: [100, 150, 220, 310, 480],
    COVER: ["life", "health", "property", "liability"],
}
SEEDS = [int(os.environ["SYNC_SIM_SEED"])] if "SYNC_SIM_SEED" in os.environ else [11, 2026]


def _doc(pid: str) -> dict[str, Any]:
    return {
        "policy_core.policy_id": pid,
        STATUS: "active",
        CARRIER: "ACME",
        CITY: "Bonn",
        PREMIUM: 100,
        "coverage_sections[C1].coverage_id": "C1",
        COVER: "life",
    }


class Simulation:
    def __init__(self, engine: Engine, settings: Settings, tmp: Path, seed: int) -> None:
        self.engine, self.settings, self.tmp = engine, settings, tmp
        self.rng = random.Random(seed)
        self.legacy = LegacyBook({f"P{i:02d}": _doc(f"P{i:02d}") for i in range(10)})
        self.platform = NewPlatform(engine, tenant="default")
        self.ledger = OwnershipLedger(engine, tenant="default")
        self.capture = LegacyCapture(engine, settings, tenant="default", batch=4)
        self.extracts = itertools.count()
        #: (policy, path) -> side -> values that side wrote, in order
        self.edits: dict[tuple[str, str], dict[str, list[Any]]] = defaultdict(
            lambda: defaultdict(list)
        )
        self.user_writes = 0
        for pid, doc in self.legacy.docs.items():  # both systems hold the book at the start
            self.platform.write_policy(pid, doc)
            self.user_writes += 1
        self.extract(COLUMNS)
        self.sync()

    # -- the two systems -------------------------------------------------------------------
    def extract(self, columns: dict[str, str] | None = None) -> None:
        name = f"extract-{next(self.extracts)}.csv"
        path = write_flat_extract(self.tmp / name, self.legacy.docs)
        self.capture.capture("LEG", ingest(self.engine, self.settings, path), columns)

    def sync(self) -> Any:
        report = run_sync(self.engine, self.settings, tenant="default")
        self.legacy.load_corrections(legacy_drop_dir(self.settings, "default"))
        return report

    def edit_legacy(self) -> None:
        pid = self.rng.choice(sorted(self.legacy.docs))
        path = self.rng.choice(sorted(VALUES))
        value = self.rng.choice(VALUES[path])
        if self.legacy.docs[pid].get(path) != value:
            self.legacy.docs[pid][path] = value
            self.edits[(pid, path)]["legacy"].append(value)

    def edit_new(self) -> None:
        pid = self.rng.choice(sorted(self.legacy.docs))
        doc = self.platform.document(pid)
        if doc is None:
            return
        path = self.rng.choice(sorted(VALUES))
        value = self.rng.choice(VALUES[path])
        if doc.get(path) != value:
            self.platform.write_policy(pid, {**doc, path: value})
            self.edits[(pid, path)]["new"].append(value)
            self.user_writes += 1

    def new_policy(self, day: int) -> None:
        """A policy legacy opens on the coexistence bridge: both sides take it (dual)."""
        pid = f"L{day:02d}"
        self.ledger.set_owner(pid, Owner.DUAL, reason="bridged")
        self.legacy.docs[pid] = _doc(pid)

    # -- faults ------------------------------------------------------------------------------
    def kill_relay_mid_run(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        if self.settings.db_url:
            env["DATA_MASH_DB_URL"] = self.settings.db_url
        started = self.settings.home / "relay-started"
        started.unlink(missing_ok=True)
        relay = subprocess.Popen(
            [sys.executable, "-m", "tests.tools.sync.relay_runner", str(self.settings.home)],
            cwd=ROOT,
            env=env,
        )
        deadline = time.monotonic() + 60
        while not started.exists() and time.monotonic() < deadline and relay.poll() is None:
            time.sleep(0.02)
        time.sleep(self.rng.uniform(0.0, 0.4))
        os.kill(relay.pid, signal.SIGKILL)
        relay.wait()

    def redeliver(self) -> None:
        """Forget some deliveries, as a relay killed before its mark would."""
        with self.engine.begin() as conn:
            for table in (OUTBOX, OUTBOUND):
                ids = list(conn.execute(select(table.c.id)).scalars())
                again = self.rng.sample(ids, k=min(len(ids), 3))
                conn.execute(update(table).where(table.c.id.in_(again)).values(delivered_at=None))


def _run(sim: Simulation, days: int) -> None:
    for day in range(1, days + 1):
        for _ in range(sim.rng.randint(3, 6)):
            sim.edit_legacy()
        if day % 3 == 0:
            sim.new_policy(day)
        sim.extract()
        for _ in range(sim.rng.randint(3, 6)):
            sim.edit_new()
        if sim.rng.random() < 0.6:
            sim.kill_relay_mid_run()
        if sim.rng.random() < 0.5:
            sim.redeliver()
        sim.sync()
    # the end of the run: settle, resolve what waits for a person, settle, sweep
    for _ in range(2):
        sim.extract()
        sim.sync()
    queue = ConflictQueue(sim.engine, tenant="default", actor="tester")
    while page := queue.page(limit=100).conflicts:
        for conflict in page:
            queue.resolve(conflict.id, sim.rng.choice([Take.LEGACY, Take.NEW]))
    for _ in range(3):
        sim.sync()
        sim.extract()
    swept = sweep_new(sim.engine, tenant="default")
    assert swept.drifted == 0
    sim.sync()


@pytest.mark.parametrize("seed", SEEDS)
def test_days_of_coexistence_converge_without_loss_or_loop(
    store: Engine, store_settings: Settings, tmp_path: Path, seed: int
) -> None:
    print(f"sync simulation seed={seed} (rerun: SYNC_SIM_SEED={seed})")
    settings = store_settings.model_copy(update={"embedding_provider": "none"})
    sim = Simulation(store, settings, tmp_path, seed)
    _run(sim, days=6)
    why = f"seed={seed}"

    ids = set(sim.legacy.docs)
    held = {pid: doc for pid, doc in sim.platform.documents()}
    assert set(held) == ids, why
    for pid in sorted(ids):
        assert sim.legacy.docs[pid] == held[pid], f"{why}: {pid} differs"

    for (pid, path), sides in sim.edits.items():
        final = held[pid].get(path)
        if len(sides) == 1:  # only one side ever touched it: its last value stands
            [(side, values)] = sides.items()
            assert final == values[-1], f"{why}: one-sided {side} change of {pid} {path} lost"
        else:
            written = set(sides["legacy"]) | set(sides["new"])
            assert final in written, f"{why}: {pid} {path} ended as {final!r}"

    with store.connect() as conn:
        user_events = conn.execute(
            select(func.count()).where(OUTBOX.c.origin == "new")
        ).scalar_one()
        forwarded = conn.execute(
            select(func.count()).where(CHANGE.c.origin == "new", CHANGE.c.op != "ack")
        ).scalar_one()
        pending = conn.execute(select(func.count()).where(CHANGE.c.state != "applied")).scalar_one()
    # every platform write became exactly one change, however often it was delivered
    assert user_events == sim.user_writes == forwarded, why
    assert pending == 0, why
    status = sync_status(store, tenant="default")
    assert (status.backlog, status.conflicts) == (0, 0), why
    two_sided = sum(1 for sides in sim.edits.values() if len(sides) == 2)
    print(
        f"seed={seed}: {sim.user_writes} platform writes, {two_sided} fields edited on both "
        f"sides, conflicts {status.conflicts_by_type}"
    )
    assert status.resolved > 0, f"{why}: the schedule made no conflict at all"
    # quiet: another round moves nothing (no ping-pong)
    sim.extract()
    quiet = sim.sync()
    assert (quiet.apply.applied, quiet.delivered_new, quiet.delivered_legacy) == (0, 0, 0), why
