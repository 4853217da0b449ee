"""Where bulk work runs: in this process (local), a process pool, or a Ray cluster.

A bulk stage splits its work into tasks of one batch each (1-5k policies, at least ~100 ms of
work, so the engine's per-task overhead stays below 1 %) and hands a picklable task function and
the tasks to :meth:`Executor.map`. Results come back **in task order**, whatever order the
workers finish in, so the caller commits checkpoints and audit outcomes batch after batch exactly
as it does locally; at most ``window`` tasks are in flight (backpressure: memory holds a window of
batches, never the whole data set). Tasks carry and return Arrow tables or small dicts, and write
files atomically; they never touch the store: the write-ahead log, checkpoints and idempotency
stay with the driver, so every executor gives the same outputs.

* ``local`` (default): today's path, in this process.
* ``process``: a ``concurrent.futures`` process pool on this machine.
* ``ray``: Ray tasks with retries (a worker killed mid-task is retried, and since tasks only
  compute and replace whole files, a retry duplicates nothing). Without ``ray_address`` a local
  Ray instance is started; with one (``ray://head:10001`` or ``head:6379``) the run joins that
  cluster, which requires a store every node can reach (PostgreSQL, not a SQLite file).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from enum import StrEnum
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Protocol, TypeVar

from core.errors import ConfigError
from core.settings import Settings

T = TypeVar("T")
R = TypeVar("R")
#: Seconds to wait for a Ray cluster's port before calling it unreachable.
PROBE_SECONDS = 3.0
#: How often a pool worker checks that its driver is still alive.
PARENT_POLL_SECONDS = 0.25
ROOT = Path(__file__).resolve().parents[1]


class ExecutorKind(StrEnum):
    """The executors ``DATA_MASH_EXECUTOR`` may name."""

    LOCAL = "local"
    PROCESS = "process"
    RAY = "ray"


class Executor(Protocol):
    """Runs a task function over tasks; results in task order, a bounded window in flight."""

    name: str
    #: Workers may run on other machines (then files and the store must be shared).
    remote: bool

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        """``fn(item)`` for every item, yielded in the items' order."""
        ...

    def close(self) -> None:
        """Release workers (a no-op for the local executor)."""
        ...


class LocalExecutor:
    """Today's path: every task in this process, one after another."""

    name = ExecutorKind.LOCAL.value
    remote = False

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        for item in items:
            yield fn(item)

    def close(self) -> None:
        return None


def _ordered(
    submit: Callable[[T], Any], result: Callable[[Any], R], items: Iterable[T], window: int
) -> Iterator[R]:
    """Submit ahead up to ``window`` tasks; yield results in submission order."""
    pending: deque[Any] = deque()
    source = iter(items)
    exhausted = False
    while True:
        while not exhausted and len(pending) < window:
            try:
                item = next(source)
            except StopIteration:
                exhausted = True
                break
            pending.append(submit(item))
        if not pending:
            return
        yield result(pending.popleft())


class ProcessExecutor:
    """A process pool on this machine (spawned workers: nothing of the driver's state leaks)."""

    name = ExecutorKind.PROCESS.value
    remote = False

    def __init__(self, workers: int, window: int | None = None) -> None:
        self.workers = workers
        self.window = window or 2 * workers
        self._pool: ProcessPoolExecutor | None = None

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=get_context("spawn"),
                initializer=exit_with_parent,
                initargs=(os.getpid(),),
            )
        pool = self._pool

        def result(future: Future[R]) -> R:
            return future.result()

        return _ordered(lambda item: pool.submit(fn, item), result, items, self.window)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


def exit_with_parent(parent: int, every: float = PARENT_POLL_SECONDS) -> None:
    """Make this pool worker exit once ``parent`` (the driver) is gone.

    A driver killed with SIGKILL cannot shut its pool down, and its workers would wait for
    tasks forever: every worker holds both ends of the pool's call queue, so none ever reads
    end-of-file. A daemon thread watches the parent (a prctl death signal would fire when the
    thread that spawned the worker ends, which need not be the driver's end).
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _apply(fn: Callable[[Any], Any], item: Any) -> Any:
    return fn(item)


class RayExecutor:
    """Ray tasks, retried when a worker dies; joins ``address`` or starts a local instance."""

    name = ExecutorKind.RAY.value

    def __init__(
        self,
        *,
        address: str | None,
        workers: int,
        max_retries: int = 3,
        window: int | None = None,
        object_store_bytes: int = 200 * 2**20,
    ) -> None:
        self.address = address
        self.remote = address is not None
        self.workers = workers
        self.max_retries = max_retries
        self.window = window or 2 * workers
        self.object_store_bytes = object_store_bytes
        self._task: Any = None
        self._started = False

    def _connect(self) -> Any:
        try:
            # Imported here: ray takes seconds to import and only its executor needs it.
            import ray  # noqa: PLC0415
        except ImportError:  # pragma: no cover - ray is a dependency
            raise ConfigError(
                "the ray executor needs the ray package",
                where="setting executor",
                fix="pip install -c constraints.txt ray, or use executor local/process",
            ) from None
        if not ray.is_initialized():
            if self.address is not None:
                probe_ray_address(self.address)
                ray.init(address=self.address, logging_level=logging.WARNING, log_to_driver=False)
            else:
                # Workers import data-mash from this checkout, like the driver does.
                path = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
                ray.init(
                    num_cpus=self.workers,
                    include_dashboard=False,
                    object_store_memory=self.object_store_bytes,
                    logging_level=logging.WARNING,
                    log_to_driver=False,
                    runtime_env={"env_vars": {"PYTHONPATH": path}},
                )
            self._started = True
        if self._task is None:
            self._task = ray.remote(max_retries=self.max_retries, retry_exceptions=False)(_apply)
        return ray

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        ray = self._connect()
        task = self._task
        shared = ray.put(fn)  # one copy of the task function (e.g. a compiled plan) per run
        return _ordered(lambda item: task.remote(shared, item), ray.get, items, self.window)

    def close(self) -> None:
        if self._started:
            import ray  # noqa: PLC0415  (see _connect)

            ray.shutdown()
            self._started = False
            self._task = None


def probe_ray_address(address: str) -> None:
    """Refuse an unreachable cluster address at once, with one clear message.

    ``ray.init`` retries an unreachable head for a long time before it fails; a TCP probe of the
    head's port answers in at most PROBE_SECONDS. ``auto`` (a node of a running cluster) is left
    to Ray.

    Raises:
        ConfigError: the address is malformed or nothing listens there.
    """
    if address == "auto":
        return
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(
            f"Ray address {address!r} is not host:port",
            where="setting ray_address (DATA_MASH_RAY_ADDRESS)",
            fix="use ray://HEAD:10001 (Ray client) or HEAD:6379 (on a cluster node)",
        )
    try:
        with socket.create_connection((host, int(port)), timeout=PROBE_SECONDS):
            pass
    except OSError as exc:
        raise ConfigError(
            f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}",
            where="setting ray_address (DATA_MASH_RAY_ADDRESS)",
            fix="start the cluster (ray start --head) or correct the address; "
            "leave it unset to run on this machine",
        ) from None


def check_store_for(executor: Executor, store_url: str, what: str = "store") -> None:
    """A remote executor needs a database every node reaches: refuse SQLite.

    Raises:
        ConfigError: SQLite with workers on other machines.
    """
    if executor.remote and store_url.startswith("sqlite"):
        raise ConfigError(
            f"the {what} is a SQLite file, which workers on other machines cannot share",
            where=f"executor {executor.name} (DATA_MASH_RAY_ADDRESS is set)",
            fix="use PostgreSQL for multi-node runs: DATA_MASH_DB_URL=postgresql+psycopg://..., "
            "or unset DATA_MASH_RAY_ADDRESS to run on this machine",
        )


def make_executor(settings: Settings) -> Executor:
    """The executor the settings name, checked against the store (nothing started yet).

    Raises:
        ConfigError: SQLite store with a remote executor.
    """
    kind = ExecutorKind(settings.executor)
    executor: Executor
    if kind is ExecutorKind.LOCAL:
        executor = LocalExecutor()
    elif kind is ExecutorKind.PROCESS:
        executor = ProcessExecutor(settings.executor_workers)
    else:
        executor = RayExecutor(
            address=settings.ray_address,
            workers=settings.executor_workers,
            max_retries=settings.executor_max_retries,
        )
    if executor.remote:  # (store_url resolves a path: a cost the API paid on every request)
        check_store_for(executor, settings.store_url)
    return executor
