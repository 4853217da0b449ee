"""LLM access: any OpenAI-compatible endpoint through langchain-openai, a token budget per tenant.

The LLM is optional. Journeys never need it; it answers free-form questions between steps. The
code path for a real endpoint is the one the tests drive against a local OpenAI-compatible server.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from langchain_core.language_models import BaseChatModel

from core.retry import RetrySettings, classify, retry_settings
from core.settings import Settings

WIZARD_NOTE = (
    "Free-form questions need an LLM: set OPENAI_BASE_URL (and OPENAI_API_KEY, "
    "DATA_MASH_MODEL) to any OpenAI-compatible endpoint. The journey itself works "
    "without one."
)
USAGE_FILE = "llm_usage.sqlite"


def build_chat_model(
    settings: Settings, *, max_retries: int = 0, timeout: float = 60.0
) -> BaseChatModel | None:
    """A streaming ChatOpenAI for the configured endpoint, or None when none is configured.

    The client's own retries are off (``max_retries=0``): the call is retried by
    :func:`core.retry.retry_call_async` in the free-form loop, which classifies each failure,
    honours ``Retry-After``, never retries a stream that already showed text, and counts it.
    """
    if not settings.llm_configured:
        return None
    # Imported here: loaded only when an LLM endpoint is configured.
    from langchain_openai import ChatOpenAI  # noqa: PLC0415

    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "unused"
    # Local OpenAI-compatible servers (vLLM, llama.cpp, Ollama) take any key; the client needs one.
    return ChatOpenAI(
        model=settings.model,
        base_url=settings.openai_base_url,
        api_key=key,
        streaming=True,
        stream_usage=True,
        max_retries=max_retries,
        timeout=timeout,
        temperature=0,
    )


class TokenLedger:
    """Tokens used per tenant, persisted in the workspace, checked against a budget."""

    def __init__(self, home: Path, *, budget: int) -> None:
        self.path = Path(home) / USAGE_FILE
        self.budget = budget
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.path)) as conn, conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS usage (id INTEGER PRIMARY KEY, tenant TEXT "
                "NOT NULL, thread_id TEXT, model TEXT, input_tokens INTEGER, "
                "output_tokens INTEGER, total_tokens INTEGER, at TEXT)"
            )

    def used(self, tenant: str) -> int:
        with closing(sqlite3.connect(self.path)) as conn:
            row = conn.execute(
                "SELECT COALESCE(SUM(total_tokens), 0) FROM usage WHERE tenant=?", (tenant,)
            ).fetchone()
        return int(row[0])

    def remaining(self, tenant: str) -> int:
        return max(0, self.budget - self.used(tenant))

    def record(
        self, tenant: str, usage: dict[str, Any] | None, *, model: str, thread_id: str | None
    ) -> int:
        """Add one call's usage (LangChain ``usage_metadata``); return the tokens it used."""
        usage = usage or {}
        inp, out = int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0))
        total = int(usage.get("total_tokens", inp + out))
        with closing(sqlite3.connect(self.path)) as conn, conn:
            conn.execute(
                "INSERT INTO usage (tenant, thread_id, model, input_tokens, "
                "output_tokens, total_tokens, at) VALUES (?,?,?,?,?,?,?)",
                (tenant, thread_id, model, inp, out, total, datetime.now(UTC).isoformat()),
            )
        return total


@dataclass
class LlmAccess:
    """The chat model of a journey run (or None), its ledger, and whether it was switched off."""

    model: BaseChatModel | None
    ledger: TokenLedger
    tenant: str
    model_name: str = "unknown"
    off_reason: str | None = None
    on_text: Any = field(default=None, repr=False)  # callable(str) for streamed answer text
    retry: RetrySettings = field(
        default_factory=lambda: RetrySettings(attempts=4, initial_wait=0.2, max_wait=5.0)
    )

    @property
    def available(self) -> bool:
        return self.model is not None and self.off_reason is None

    def why_not(self) -> str:
        return self.off_reason or WIZARD_NOTE


def llm_access(
    settings: Settings, *, model: BaseChatModel | None = None, on_text: Any = None
) -> LlmAccess:
    """LLM access for ``settings``: the given model (tests) or the configured endpoint."""
    chosen = model if model is not None else build_chat_model(settings)
    return LlmAccess(
        model=chosen,
        ledger=TokenLedger(settings.home, budget=settings.llm_token_budget),
        tenant=settings.tenant,
        model_name=settings.model,
        on_text=on_text,
        retry=retry_settings(settings),
    )


def describe_llm_error(exc: Exception, base_url: str | None) -> tuple[str, bool]:
    """A one-line explanation of an LLM failure, and whether to stop using the LLM this run."""
    # Imported here: loaded only when an OpenAI endpoint is configured.
    import openai  # noqa: PLC0415

    where = base_url or "the OpenAI API"
    kind = classify(exc).value
    if isinstance(exc, openai.APIConnectionError):  # includes timeouts
        return (
            f"The LLM endpoint at {where} is unreachable ({kind}, {type(exc).__name__}); "
            "continuing as a guided wizard.",
            True,
        )
    if isinstance(exc, openai.RateLimitError):
        return (
            f"The LLM endpoint at {where} is rate limiting (HTTP 429, {kind}) even after "
            "retries; try the question again later.",
            False,
        )
    if isinstance(exc, openai.APIStatusError):
        fatal = exc.status_code in (401, 403, 404)
        hint = {
            401: "check OPENAI_API_KEY",
            403: "check OPENAI_API_KEY",
            404: "check DATA_MASH_MODEL and OPENAI_BASE_URL",
        }.get(exc.status_code, "try again later")
        return (
            f"The LLM endpoint at {where} answered HTTP {exc.status_code} ({kind}): "
            f"{_short(exc.message)} ({hint})"
            + ("; continuing as a guided wizard." if fatal else "."),
            fatal,
        )
    return f"The LLM call failed ({kind}): {type(exc).__name__}: {_short(str(exc))}.", False


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def probe_endpoint(settings: Settings, *, timeout: float = 3.0) -> str | None:
    """Why the configured endpoint cannot be used (it does not answer at all), or None.

    Any HTTP answer counts as reachable; errors such as a wrong key surface on the first call.
    """
    if not settings.llm_configured:
        return None

    base = (settings.openai_base_url or "https://api.openai.com/v1").rstrip("/")
    try:
        httpx.get(f"{base}/models", timeout=timeout)
    except httpx.HTTPError as exc:
        return (
            f"The LLM endpoint at {base} is unreachable ({type(exc).__name__}); "
            "continuing as a guided wizard."
        )
    return None
