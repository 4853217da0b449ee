"""Fault injection on a real wave: transient target failures are retried, permanent ones are not
(the saga compensates and the error names the class); retries and errors are counted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from core.errors import InputError
from core.metrics import ERRORS, RETRIES
from core.retry import ErrorClass, TransientError, classify, retry_call
from core.settings import Settings
from tests.tools.waves.helpers import make_context
from tools.waves import PlanCriteria, generate_plan, run_wave
from tools.waves.context import WaveContext


@pytest.fixture
def fast(workspace: Path) -> Settings:
    return Settings(home=workspace, batch_size=100, retry_initial_wait_seconds=0.001)


@pytest.fixture
def real(engine: Engine, fast: Settings, estate: dict[str, Path]) -> WaveContext:
    return make_context(engine, fast, estate)


def _wave(real: WaveContext) -> str:
    plan = generate_plan(
        real, source_ids=["src-a"], target="new_platform", criteria=PlanCriteria(batch_size=100)
    )
    return plan.waves[0].wave_id


def _failing_writes(real: WaveContext, errors: list[BaseException]) -> list[str]:
    platform = real.target("new_platform")
    original, calls = platform.write, []

    def flaky(wave: str, records: Any) -> int:
        calls.append(wave)
        if errors:
            raise errors.pop(0)
        return original(wave, records)

    platform.write = flaky  # type: ignore[method-assign]
    return calls


def test_transient_failures_are_retried_and_the_wave_completes(real: WaveContext) -> None:
    wave_id = _wave(real)
    retries = RETRIES.labels("target_write")._value.get()
    calls = _failing_writes(
        real, [ConnectionResetError("peer reset"), TimeoutError("platform slow")]
    )
    status = run_wave(real, wave_id)
    assert status.status == "completed", status.error
    assert status.migrated == 450
    assert RETRIES.labels("target_write")._value.get() - retries == 2
    batches = real.target("new_platform").count(wave_id)
    assert batches == 450 and len(calls) == 5 + 2  # five batches, two of them tried again


def test_a_permanent_failure_is_not_retried_and_compensates(real: WaveContext) -> None:
    wave_id = _wave(real)
    retries = RETRIES.labels("target_write")._value.get()
    errors = ERRORS.labels("target_write", "permanent")._value.get()
    calls = _failing_writes(real, [ValueError("premium column has text in it")])
    status = run_wave(real, wave_id)
    assert status.status == "compensated"
    assert "(permanent) ValueError: premium column has text in it" in (status.error or "")
    assert len(calls) == 1
    assert RETRIES.labels("target_write")._value.get() == retries
    assert ERRORS.labels("target_write", "permanent")._value.get() == errors + 1
    assert real.target("new_platform").count(wave_id) == 0


def test_transient_beyond_the_attempts_is_raised_with_its_class(real: WaveContext) -> None:
    wave_id = _wave(real)
    calls = _failing_writes(real, [TransientError(f"busy {i}") for i in range(10)])
    status = run_wave(real, wave_id)
    assert status.status == "compensated"
    assert "(transient) TransientError: busy 3" in (status.error or "")
    assert len(calls) == 4  # retry_attempts


def test_classification() -> None:
    transient = [
        TimeoutError(),
        ConnectionRefusedError(),
        TransientError("x"),
        OperationalError("SELECT 1", {}, Exception("database is locked")),
        OperationalError("SELECT 1", {}, Exception("could not serialize access")),
        type("RateLimitError", (Exception,), {})(),
        type("HTTPError", (Exception,), {"status_code": 503})(),
    ]
    permanent = [
        ValueError(),
        InputError("bad"),
        IntegrityError("INSERT", {}, Exception("duplicate key")),
        OperationalError("SELECT 1", {}, Exception("no such table: x")),
        type("HTTPError", (Exception,), {"status_code": 404})(),
    ]
    assert [classify(e) for e in transient] == [ErrorClass.TRANSIENT] * len(transient)
    assert [classify(e) for e in permanent] == [ErrorClass.PERMANENT] * len(permanent)
    wrapped = RuntimeError("wrapped")
    wrapped.__cause__ = ConnectionResetError()
    assert classify(wrapped) is ErrorClass.TRANSIENT


def test_retry_call_stops_at_the_first_permanent_failure() -> None:
    seen: list[int] = []

    def work() -> int:
        seen.append(1)
        if len(seen) == 1:
            raise TimeoutError
        raise KeyError("permanent")

    with pytest.raises(KeyError):
        retry_call("probe", work, attempts=5, initial_wait=0.001)
    assert len(seen) == 2
