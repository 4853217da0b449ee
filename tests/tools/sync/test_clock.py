"""The hybrid logical clock: monotonic under wall-clock skew, across restarts, past remotes."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from core.errors import InputError
from tools.sync.clock import ClockStore, HybridLogicalClock, open_clock
from tools.sync.contracts import HlcStamp

# A schedule of events: read the local clock at a (possibly skewed, backwards) wall time,
# receive a remote stamp, or restart the process (resume from the persisted mark).
EVENT = st.one_of(
    st.tuples(st.just("now"), st.integers(0, 10_000)),
    st.tuples(st.just("receive"), st.integers(0, 10_000), st.integers(0, 5)),
    st.tuples(st.just("restart"), st.integers(0, 10_000)),
)


class _Wall:
    """A wall clock the test sets: jumps back and forth like a skewed or reset host clock."""

    def __init__(self) -> None:
        self.ms = 0

    def __call__(self) -> int:
        return self.ms


def _run(events: list[tuple[int, ...] | tuple[str, ...]], clock_for) -> None:  # type: ignore[no-untyped-def]
    wall = _Wall()
    clock = clock_for(wall)
    issued: list[HlcStamp] = []
    for event in events:
        kind, ms = event[0], int(event[1])
        wall.ms = ms
        if kind == "restart":
            clock = clock_for(wall)
            continue
        if kind == "now":
            stamp = clock.now()
        else:
            remote = HlcStamp(wall_ms=ms + 50, logical=int(event[2]), node="remote")
            stamp = clock.receive(remote)
            assert stamp > remote, "a change made after seeing a remote one must be newer"
        assert stamp.wall_ms >= ms, "the clock never reads behind the wall clock"
        if issued:
            assert stamp > issued[-1], f"stamp {stamp} not after {issued[-1]}"
        issued.append(stamp)


@seed(16)
@settings(max_examples=150, deadline=None)
@given(st.lists(EVENT, max_size=60))
def test_monotonic_under_skew_in_memory(events: list[tuple]) -> None:  # type: ignore[type-arg]
    """Without persistence a restart loses the mark: only restart-free runs are checked here."""
    kept = [e for e in events if e[0] != "restart"]
    holder: dict[str, HybridLogicalClock] = {}

    def clock_for(wall: _Wall) -> HybridLogicalClock:
        holder.setdefault("clock", HybridLogicalClock("local", wall=wall))
        return holder["clock"]

    _run(kept, clock_for)


@seed(1616)
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(events=st.lists(EVENT, max_size=25))
def test_monotonic_across_restarts_with_the_store(store: Engine, events: list[tuple]) -> None:  # type: ignore[type-arg]
    """Each restart opens a new clock from the store: stamps stay above every earlier one."""
    node = f"n{abs(hash(tuple(events))) % 10**9}"  # a fresh node per example in the shared store
    _run(events, lambda wall: open_clock(store, tenant="default", node=node, wall=wall))


def test_restart_with_wall_clock_set_back_resumes_above_the_mark(store: Engine) -> None:
    first = open_clock(store, tenant="default", node="n1", wall=lambda: 5_000)
    before = [first.now() for _ in range(3)]
    again = open_clock(store, tenant="default", node="n1", wall=lambda: 1_000)  # set back
    after = again.now()
    assert after > before[-1]
    assert (after.wall_ms, after.logical) == (5_000, 3)


def test_mark_is_per_tenant_and_never_lowered(store: Engine) -> None:
    marks = ClockStore(store, tenant="a")
    marks.save(HlcStamp(wall_ms=10, logical=2, node="n"))
    marks.save(HlcStamp(wall_ms=9, logical=7, node="n"))  # lower: ignored
    assert marks.load("n") == HlcStamp(wall_ms=10, logical=2, node="n")
    assert ClockStore(store, tenant="b").load("n") is None


def test_remote_stamp_far_in_the_future_is_refused() -> None:
    clock = HybridLogicalClock("local", wall=lambda: 1_000, max_drift_ms=60_000)
    with pytest.raises(InputError, match="ahead of this node"):
        clock.receive(HlcStamp(wall_ms=1_000 + 61_000, logical=0, node="remote"))
    assert clock.now() == HlcStamp(wall_ms=1_000, logical=0, node="local")
