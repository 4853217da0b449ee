"""Transient or permanent: every failure gets a class, and only transient ones are retried.

Transient: timeouts, connection resets and refusals, lock contention and serialization
failures, HTTP 429 and 5xx, anything raised as :class:`TransientError`. Permanent: bad data, bad
configuration, every :class:`~core.errors.DataMashError`, and anything not known to be transient
(retrying what we do not understand only delays the compensation). Retries back off
exponentially with jitter, up to a cap, a bounded number of times (tenacity).
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from enum import StrEnum
from typing import Any, TypedDict, TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

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
        return ErrorClass.TRANSIENT if status == 429 or status >= 500 else ErrorClass.PERMANENT
    if type(exc).__module__.startswith("sqlalchemy"):
        from sqlalchemy.exc import DBAPIError, OperationalError

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


def retry_call(
    operation: str,
    work: Callable[[], R],
    *,
    attempts: int = 4,
    initial_wait: float = 0.2,
    max_wait: float = 5.0,
) -> R:
    """Run ``work``; retry transient failures with exponential backoff and jitter.

    Permanent failures are raised at once; a transient one that outlasts ``attempts`` is raised
    as it is. Retries go to ``data_mash_retries_total{operation}``, the final failure to
    ``data_mash_errors_total{operation,error_class}``.
    """

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        count(RETRIES, operation=operation)
        _log.warning(
            "operation_retried",
            operation=operation,
            attempt=state.attempt_number,
            error=f"{type(exc).__name__}: {exc}" if exc else None,
        )

    retrying = Retrying(
        retry=retry_if_exception(lambda e: classify(e) is ErrorClass.TRANSIENT),
        stop=stop_after_attempt(max(1, attempts)),
        wait=wait_exponential_jitter(multiplier=initial_wait, max=max_wait, jitter=initial_wait),
        before_sleep=before_sleep,
        reraise=True,
    )
    try:
        return retrying(work)
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
