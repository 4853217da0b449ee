"""Transient or permanent: every failure gets a class, and only transient ones are retried.

Transient: timeouts, connection resets and refusals, lock contention and serialization
failures, HTTP 408, 429 and 5xx, anything raised as :class:`TransientError`. Permanent: bad data,
bad configuration, every :class:`~core.errors.DataMashError`, and anything not known to be transient
(retrying what we do not understand only delays the compensation). Retries back off
exponentially with jitter, up to a cap, a bounded number of times (tenacity); a server's own
hint (``Retry-After``, ``retry-after-ms``) is taken instead when it gives one, up to a cap of its
own. :func:`retry_call` runs a blocking call, :func:`retry_call_async` an awaitable one.
"""

from __future__ import annotations

import errno
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any, TypedDict, TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)
from tenacity.wait import wait_base

from core.errors import DataMashError
from core.logs import get_logger
from core.metrics import ERRORS, RETRIES, count

R = TypeVar("R")
_log = get_logger(__name__)


class ErrorClass(StrEnum):
    TRANSIENT = "transient"
    PERMANENT = "permanent"


class TransientError(Exception):
    """Raise (or subclass) this for a failure that may succeed when tried again."""


_TRANSIENT_ERRNOS = {
    errno.EAGAIN,
    errno.EBUSY,
    errno.ETIMEDOUT,
    errno.ECONNRESET,
    errno.ECONNREFUSED,
    errno.ECONNABORTED,
    errno.EPIPE,
    errno.EHOSTUNREACH,
    errno.ENETUNREACH,
}
# Words of database driver messages that mean "try again" (SQLite, PostgreSQL).
_TRANSIENT_DB_TEXT = (
    "database is locked",
    "database table is locked",
    "could not serialize",
    "deadlock detected",
    "connection refused",
    "connection reset",
    "server closed the connection",
    "terminating connection",
    "timeout",
    "the database system is starting up",
    "too many connections",
)
# Client libraries' exception names for the same (openai, httpx), matched by name so core/
# does not import them.
_TRANSIENT_NAMES = {
    "RateLimitError",
    "APITimeoutError",
    "APIConnectionError",
    "InternalServerError",
    "TimeoutException",
    "ConnectTimeout",
    "ReadTimeout",
    "ConnectError",
    "ReadError",
    "RemoteProtocolError",
}


def classify(exc: BaseException) -> ErrorClass:
    """The class of a failure (its cause is looked at too)."""
    if isinstance(exc, TransientError):
        return ErrorClass.TRANSIENT
    if isinstance(exc, DataMashError):
        return ErrorClass.PERMANENT
    if isinstance(exc, TimeoutError | ConnectionError):
        return ErrorClass.TRANSIENT
    if isinstance(exc, OSError) and exc.errno in _TRANSIENT_ERRNOS:
        return ErrorClass.TRANSIENT
    if type(exc).__name__ in _TRANSIENT_NAMES:
        return ErrorClass.TRANSIENT
    status = getattr(exc, "status_code", None) or getattr(
        getattr(exc, "response", None), "status_code", None
    )
    if isinstance(status, int):
        return (
            ErrorClass.TRANSIENT if status in (408, 429) or status >= 500 else ErrorClass.PERMANENT
        )
    if type(exc).__module__.startswith("sqlalchemy"):
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            return ErrorClass.TRANSIENT
        if isinstance(exc, OperationalError):
            text = str(exc.orig or exc).lower()
            if any(word in text for word in _TRANSIENT_DB_TEXT):
                return ErrorClass.TRANSIENT
        return ErrorClass.PERMANENT
    cause = exc.__cause__
    if cause is not None and cause is not exc:
        return classify(cause)
    return ErrorClass.PERMANENT


def describe(exc: BaseException) -> str:
    """``(transient) ConnectionResetError: ...``: the class goes into every error we keep."""
    return f"({classify(exc).value}) {type(exc).__name__}: {exc}"


def retry_after(exc: BaseException | None) -> float | None:
    """The wait in seconds a server asked for on an HTTP error, or None.

    ``retry-after-ms`` (OpenAI's) first, then ``Retry-After`` as seconds or as an HTTP date;
    headers are read from ``exc.response.headers`` (httpx, openai) or ``exc.headers`` (urllib).
    """
    if exc is None:
        return None
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or getattr(exc, "headers", None)
    if not headers or not hasattr(headers, "get"):
        return None
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) * scale)
        except ValueError:
            pass
        try:
            when = parsedate_to_datetime(str(value))
        except (TypeError, ValueError):
            continue
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - datetime.now(UTC)).total_seconds())
    return None


class _ServerHintOrBackoff(wait_base):
    """The server's Retry-After (capped at ``max_hint``), else exponential backoff + jitter."""

    def __init__(self, initial_wait: float, max_wait: float, max_hint: float) -> None:
        self._backoff = wait_exponential_jitter(
            multiplier=initial_wait, max=max_wait, jitter=initial_wait
        )
        self._max_hint = max_hint

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        hint = retry_after(outcome.exception() if outcome is not None else None)
        if hint is not None:
            return min(hint, self._max_hint)
        return float(self._backoff(retry_state))


def _policy(
    operation: str,
    *,
    attempts: int,
    initial_wait: float,
    max_wait: float,
    max_hint: float,
    retry_if: Callable[[BaseException], bool] | None,
) -> dict[str, Any]:
    """The tenacity arguments shared by the blocking and the awaitable variants."""

    def retryable(exc: BaseException) -> bool:
        if classify(exc) is not ErrorClass.TRANSIENT:
            return False
        return retry_if is None or retry_if(exc)

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        count(RETRIES, operation=operation)
        _log.warning(
            "operation_retried",
            operation=operation,
            attempt=state.attempt_number,
            wait_seconds=round(state.upcoming_sleep, 3),
            error=f"{type(exc).__name__}: {exc}" if exc else None,
        )

    return {
        "retry": retry_if_exception(retryable),
        "stop": stop_after_attempt(max(1, attempts)),
        "wait": _ServerHintOrBackoff(initial_wait, max_wait, max_hint),
        "before_sleep": before_sleep,
        "reraise": True,
    }


def retry_call(
    operation: str,
    work: Callable[[], R],
    *,
    attempts: int = 4,
    initial_wait: float = 0.2,
    max_wait: float = 5.0,
    max_hint: float = 60.0,
    retry_if: Callable[[BaseException], bool] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> R:
    """Run ``work``; retry transient failures with exponential backoff and jitter.

    Permanent failures are raised at once; a transient one that outlasts ``attempts`` is raised
    as it is. A server's ``Retry-After`` replaces the backoff (at most ``max_hint`` seconds).
    ``retry_if`` can veto a retry of a transient failure (e.g. a stream already half read).
    Retries go to ``data_mash_retries_total{operation}``, the final failure to
    ``data_mash_errors_total{operation,error_class}``.
    """
    retrying = Retrying(
        sleep=sleep,
        **_policy(
            operation,
            attempts=attempts,
            initial_wait=initial_wait,
            max_wait=max_wait,
            max_hint=max_hint,
            retry_if=retry_if,
        ),
    )
    try:
        return retrying(work)
    except Exception as exc:
        count(ERRORS, operation=operation, error_class=classify(exc).value)
        raise


async def retry_call_async(
    operation: str,
    work: Callable[[], Awaitable[R]],
    *,
    attempts: int = 4,
    initial_wait: float = 0.2,
    max_wait: float = 5.0,
    max_hint: float = 60.0,
    retry_if: Callable[[BaseException], bool] | None = None,
) -> R:
    """:func:`retry_call` for a coroutine: ``work()`` is awaited afresh on every attempt, and
    the waits sleep without blocking the event loop."""
    retrying = AsyncRetrying(
        **_policy(
            operation,
            attempts=attempts,
            initial_wait=initial_wait,
            max_wait=max_wait,
            max_hint=max_hint,
            retry_if=retry_if,
        )
    )
    try:
        return await retrying(work)
    except Exception as exc:
        count(ERRORS, operation=operation, error_class=classify(exc).value)
        raise


class RetrySettings(TypedDict):
    """The keyword arguments of :func:`retry_call` that come from Settings."""

    attempts: int
    initial_wait: float
    max_wait: float


def retry_settings(settings: Any) -> RetrySettings:
    """The keyword arguments of :func:`retry_call` from Settings."""
    return {
        "attempts": settings.retry_attempts,
        "initial_wait": settings.retry_initial_wait_seconds,
        "max_wait": settings.retry_max_wait_seconds,
    }
