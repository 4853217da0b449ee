"""The wave/saga lifecycle as a hypothesis state machine (issue 13's required property test).

Each example is a fresh workspace (SQLite, or a fresh PostgreSQL database) with two staged
sources and a plan of several waves. Hypothesis picks the steps: runs and rollbacks (in-process
or in a subprocess SIGKILLed at a saga hook), a duplicate run while another process holds the
wave, re-routes, new plans, `gc`, and ingests SIGKILLed while staging or indexing. After every
step the invariants hold: locations equal what the target holds; every wave's status equals
what its target holds; a completed wave reconciles; every staged source can be read; at the
end every interrupted undo resolves and no audit intent of an undo stays pending.
Derandomized and bounded, so it runs in `make test` the same way every time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import Engine, and_, select, text

from core.errors import DataMashError
from core.settings import Settings
from core.store import open_store
from core.store.models import AuditEntry, AuditPolicy, table_of
from tests.tools.waves.helpers import make_context, stage_two_sources
from tests.tools.waves.kill_points import kill, reached
from tests.tools.waves.test_integrity import (
    KILL_POINTS,
    UNDO_POINTS,
    _maybe_kill,
    _pending,
    _placed_ids,
    _start,
    _target_ids,
)
from tools.content.sources import SourceRegistry
from tools.content.staging import staged_batches
from tools.routing.overrides import reroute_policy
from tools.waves import (
    PlanCriteria,
    WaveContext,
    gc,
    generate_plan,
    get_wave_status,
    reconcile_wave,
    rollback_wave,
    run_wave,
)

REPO = Path(__file__).resolve().parents[3]
POLICIES = [f"A{i:06d}" for i in range(0, 450, 11)] + [f"B{i:06d}" for i in range(0, 150, 11)]
CSV_ROWS = 600

ENTRY, POLICY = table_of(AuditEntry), table_of(AuditPolicy)
World = Callable[[], tuple[Settings, Callable[[], None]]]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def new_world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    """Makes a fresh workspace per example (and a fresh PostgreSQL database on postgres, a
    copy of the run's migrated template: see tests/conftest.py)."""
    admin: Engine | None = (
        request.getfixturevalue("pg_admin") if request.param != "sqlite" else None
    )
    template = request.getfixturevalue("pg_migrated_template") if admin is not None else None

    def make() -> tuple[Settings, Callable[[], None]]:
        home = Path(tempfile.mkdtemp(dir=tmp_path, prefix="world-"))
        if admin is None:
            return Settings(home=home, batch_size=100), lambda: None
        name = f"dm_test_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        url = admin.url.set(database=name).render_as_string(hide_password=False)

        def drop() -> None:
            with admin.connect() as conn:
                conn.execute(
                    text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname=:n"),
                    {"n": name},
                )
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))

        return Settings(home=home, db_url=url, batch_size=100), drop

    yield make


def _in_flight(context: WaveContext, wave_id: str) -> set[str]:
    """Policies of the wave's migrate batches whose write-ahead intent is still pending: a
    process died between writing them to the target and committing (replay flags these)."""
    pending = select(ENTRY.c.id).where(
        and_(
            ENTRY.c.tenant == context.tenant,
            ENTRY.c.operation == "migrate.batch",
            ENTRY.c.target == wave_id,
            ENTRY.c.status == "pending",
        )
    )
    with context.engine.connect() as conn:
        return set(
            conn.execute(select(POLICY.c.policy_id).where(POLICY.c.entry_id.in_(pending))).scalars()
        )


def assert_lifecycle_invariants(context: WaveContext, wave_id: str) -> None:
    """Locations equal what the target holds, but for the batches a killed process left in
    flight (their intents pending); the wave's status equals what its target holds."""
    held, placed = _target_ids(context, wave_id), _placed_ids(context, wave_id)
    assert placed <= held, f"locations name {sorted(placed - held)[:5]} the target lacks"
    assert held - placed <= _in_flight(context, wave_id), (
        f"the target holds {sorted(held - placed)[:5]} no location and no pending intent names"
    )
    status = get_wave_status(context, wave_id)
    if status.status == "completed":
        assert held and held == placed and status.migrated == len(held)
        assert reconcile_wave(context, wave_id)["passed"]
    elif status.status in ("compensated", "pending"):
        assert not held and not placed and status.migrated == 0
    else:  # interrupted: never claims to be done
        assert status.status in ("running", "compensating", "failed", "cancelled")


def _killed_ingest(settings: Settings, file: Path, point: str) -> str:
    """An ingest of ``file`` in a subprocess, SIGKILLed while staging or indexing."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "DATA_MASH_EMBEDDING_PROVIDER": "none"}
    env.pop("DATA_MASH_DB_URL", None)
    if settings.db_url:
        env["DATA_MASH_DB_URL"] = settings.db_url
    home = settings.home
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.tools.content.ingest_runner", str(home), str(file), point],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    if not reached(proc, home, point):  # already staged and indexed: a reuse, nothing to kill
        return f"ended ({proc.returncode})"
    kill(proc)
    return "killed"


def test_wave_lifecycle_state_machine(new_world: World) -> None:
    class WaveLifecycle(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.settings, self._drop = new_world()
            self.engine = open_store(self.settings)
            base = self.settings.home.parent / f"{self.settings.home.name}-data"
            self.folders = stage_two_sources(self.engine, self.settings, base)
            self.context = make_context(self.engine, self.settings, self.folders)
            self.csv = base / "policies.csv"
            self.csv.write_text(
                "policy_id,premium\n" + "".join(f"P{i:05d},{i}.5\n" for i in range(CSV_ROWS))
            )
            self.waves: list[str] = []
            self.log: list[str] = []
            self._plan(wave0=200)

        def _plan(self, *, wave0: int) -> str:
            try:
                plan = generate_plan(
                    self.context,
                    source_ids=["src-a", "src-b"],
                    target="new_platform",
                    criteria=PlanCriteria(batch_size=100, wave0_max_size=wave0, max_wave_size=300),
                )
            except DataMashError as exc:  # everything planned is migrated already
                return f"refused: {exc.what[:60]}"
            self.waves += [w.wave_id for w in plan.waves]
            return f"planned {[w.wave_id for w in plan.waves]}"

        def _wave(self, pick: int) -> str:
            return self.waves[pick % len(self.waves)]

        def _note(self, step: str) -> None:
            self.log.append(step)

        @rule(pick=st.integers(0, 7))
        def run(self, pick: int) -> None:
            wave = self._wave(pick)
            self._note(f"run {wave} -> {run_wave(self.context, wave).status}")

        @rule(pick=st.integers(0, 7), stop=st.sampled_from(KILL_POINTS))
        def run_killed(self, pick: int, stop: str) -> None:
            wave = self._wave(pick)
            outcome = _maybe_kill(self.context, self.folders, "run", wave, stop)
            self._note(f"run {wave} killed at {stop} -> {outcome}")

        @rule(pick=st.integers(0, 7))
        def rollback(self, pick: int) -> None:
            wave = self._wave(pick)
            self._note(f"rollback {wave} -> {rollback_wave(self.context, wave).status}")

        @rule(pick=st.integers(0, 7), stop=st.sampled_from(UNDO_POINTS))
        def rollback_killed(self, pick: int, stop: str) -> None:
            wave = self._wave(pick)
            outcome = _maybe_kill(self.context, self.folders, "rollback", wave, stop)
            self._note(f"rollback {wave} killed at {stop} -> {outcome}")

        @rule(pick=st.integers(0, 7))
        def duplicate_run(self, pick: int) -> None:
            """A second run and a rollback while another process holds the wave: refused."""
            wave = self._wave(pick)
            stop = "before_work:route:0"
            first = _start(self.context, self.folders, "run", wave, stop)
            if not reached(first, self.settings.home, stop):  # nothing left to do: no overlap
                first.communicate()
                self._note(f"duplicate {wave}: first ended")
                return
            before = get_wave_status(self.context, wave)
            for second in (run_wave, rollback_wave):
                with pytest.raises(DataMashError, match=f"is already running \\(pid {first.pid} "):
                    second(self.context, wave)
            after = get_wave_status(self.context, wave)
            assert (after.status, after.migrated) == (before.status, before.migrated)
            kill(first)
            self._note(f"duplicate {wave}: refused, then the first was killed")

        @rule(policy=st.sampled_from(POLICIES))
        def reroute(self, policy: str) -> None:
            try:
                reroute_policy(self.engine, policy, "legacy_batch", "machine", tenant="default")
                self._note(f"reroute {policy}")
            except DataMashError as exc:
                self._note(f"reroute {policy} refused: {exc.what[:50]}")

        @rule(wave0=st.sampled_from([100, 300]))
        def plan(self, wave0: int) -> None:
            self._note(self._plan(wave0=wave0))

        @rule()
        def collect(self) -> None:
            self._note(f"gc {gc(self.context, older_than=timedelta(0)).waves}")

        @rule(point=st.sampled_from(["staging", "indexing"]))
        def ingest_killed(self, point: str) -> None:
            self._note(
                f"ingest killed while {point}: {_killed_ingest(self.settings, self.csv, point)}"
            )

        @invariant()
        def locations_statuses_and_sources_agree(self) -> None:
            for wave in self.waves:
                try:
                    assert_lifecycle_invariants(self.context, wave)
                except AssertionError as exc:
                    raise AssertionError(f"after {self.log}: wave {wave}: {exc}") from exc
            for source in SourceRegistry(self.engine, tenant="default").list():
                if source.source_id.startswith("src-"):
                    continue  # the registered canonical stand-ins (no staged records)
                rows = sum(b.num_rows for b in staged_batches(source.records_path))
                assert rows == source.records == CSV_ROWS, (self.log, source)

        def teardown(self) -> None:
            try:
                for wave in self.waves:
                    if get_wave_status(self.context, wave).status in (
                        "compensating",
                        "failed",
                        "running",
                    ):
                        assert rollback_wave(self.context, wave).status == "compensated", self.log
                    assert_lifecycle_invariants(self.context, wave)
                assert _pending(self.context, "rollback") == [], self.log
                print("\n".join(["example:", *self.log]))  # the steps taken, for -s
            finally:
                self.engine.dispose()
                self._drop()

    run_state_machine_as_test(
        WaveLifecycle,
        settings=settings(
            max_examples=5,
            stateful_step_count=10,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],  # no shrinking: each step forks processes
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
