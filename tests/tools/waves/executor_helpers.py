"""Executor test helpers importable by worker processes (test modules may not be)."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from core.executors import Executor


class KillOnce:
    """Runs ``fn``; the first call anywhere SIGKILLs its own worker process mid-task."""

    def __init__(self, fn: Callable[[Any], Any], marker: str) -> None:
        self.fn, self.marker = fn, marker

    def __call__(self, item: Any) -> Any:
        try:
            os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return self.fn(item)
        os.kill(os.getpid(), signal.SIGKILL)  # the worker dies holding the task
        raise AssertionError("unreachable")


class KillingExecutor:
    """Wraps an executor so that one worker dies mid-task during the run."""

    def __init__(self, inner: Executor, marker: str) -> None:
        self.inner, self.marker = inner, marker
        self.name, self.remote = inner.name, inner.remote

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        return self.inner.map(KillOnce(fn, self.marker), items)

    def close(self) -> None:
        return None


def square_table(n: int) -> Any:
    """A small Arrow task: the squares of range(n) (used to check ordering and retries)."""
    import pyarrow as pa

    return pa.table({"n": pa.array([n] * 3), "sq": pa.array([n * n, n * n + 1, n * n + 2])})
