"""Remote embeddings from an OpenAI-compatible endpoint, rate-limited, on a per-tenant budget."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any, Final

import numpy as np

from core.errors import ConfigError, DataMashError
from core.metrics import EMBEDDING_BUDGET_LEFT, EMBEDDING_CALLS, EMBEDDING_COST, count, enabled
from core.retry import describe, retry_call
from knowledge.embeddings.spend import BudgetExceeded, SpendLedger, price_per_million

KNOWN_DIMENSIONS: Final[dict[str, int]] = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
MAX_DELAY_SECONDS: Final = 60.0


class EmbeddingServiceError(DataMashError):
    """The embedding endpoint kept failing (rate limits, outages) after every retry."""


class RateLimiter:
    """Spaces requests evenly so that at most ``requests_per_minute`` start in any minute."""

    def __init__(
        self,
        requests_per_minute: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._interval = 60.0 / requests_per_minute if requests_per_minute > 0 else 0.0
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Block until the next request may start."""
        with self._lock:
            now = self._clock()
            wait = self._next - now
            self._next = max(now, self._next) + self._interval
        if wait > 0:
            self._sleep(wait)


class OpenAIEmbedder:
    """Embeddings from an OpenAI-compatible ``/embeddings`` endpoint.

    Retries rate limits (429) and other transient failures (timeouts, resets, 5xx) through
    :func:`core.retry.retry_call` (operation ``embedding_request``): the server's
    ``retry-after`` / ``retry-after-ms`` when it sends one, else exponential backoff with jitter;
    permanent failures (a refused key, an unknown model) are never retried. Refuses a request
    that would take the tenant's spend over ``budget_usd`` (tokens estimated at 4 bytes each
    beforehand, the endpoint's own count recorded afterwards).
    """

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str | None = None,
        model: str = "text-embedding-3-small",
        tenant: str = "default",
        ledger: SpendLedger,
        budget_usd: float = 5.0,
        batch_size: int = 256,
        requests_per_minute: float = 500.0,
        max_retries: int = 6,
        base_delay: float = 1.0,
        client: Any = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Configure the embedder; ``client`` replaces the ``openai.OpenAI`` client (tests)."""
        if client is None:
            # Imported here: loaded only when an OpenAI endpoint is configured.
            import openai  # noqa: PLC0415

            # Our own retry loop honours retry-after and counts spend; the client's would not.
            client = openai.OpenAI(
                api_key=api_key or "no-key", base_url=base_url, max_retries=0, timeout=60.0
            )
        self._client = client
        self._model = model
        self._tenant = tenant
        self._ledger = ledger
        self._budget = budget_usd
        self._batch_size = batch_size
        self._max_retries = max_retries
        self._base_delay = base_delay
        self._sleep = sleep
        self._limiter = RateLimiter(requests_per_minute, sleep=sleep)
        self._dimension = KNOWN_DIMENSIONS.get(model)

    @property
    def name(self) -> str:
        return f"openai:{self._model}"

    @property
    def dimension(self) -> int:
        if self._dimension is None:  # an unlisted model: ask the endpoint once
            self._dimension = int(self.embed(["dimension probe"]).shape[1])
        return self._dimension

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed ``texts`` in batches; rows are L2-normalised float32.

        Raises:
            BudgetExceeded: The tenant's spend would exceed its budget.
            ConfigError: The endpoint rejected the key or the model.
            EmbeddingServiceError: The endpoint kept failing after every retry.
        """
        rows: list[np.ndarray] = []
        for start in range(0, len(texts), self._batch_size):
            rows.append(self._embed_batch(texts[start : start + self._batch_size]))
        if not rows:
            return np.zeros((0, self._dimension or 0), dtype=np.float32)
        vectors = np.concatenate(rows).astype(np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
        self._dimension = vectors.shape[1]
        return vectors

    def _embed_batch(self, batch: list[str]) -> np.ndarray:
        estimate = sum(math.ceil(len(text.encode("utf-8")) / 4) or 1 for text in batch)
        self._check_budget(estimate)
        try:
            response = self._call_with_retries(batch)
        except Exception:
            count(EMBEDDING_CALLS, outcome="failed")
            raise
        count(EMBEDDING_CALLS, outcome="ok")
        usage = getattr(response, "usage", None)
        tokens = int(getattr(usage, "total_tokens", 0) or estimate)
        cost = tokens * price_per_million(self._model) / 1e6
        self._ledger.record(self._tenant, self._model, tokens, cost)
        count(EMBEDDING_COST, cost, tenant=self._tenant)
        if enabled():
            left = self._budget - self._ledger.spent_usd(self._tenant)
            EMBEDDING_BUDGET_LEFT.labels(self._tenant).set(left)
        ordered = sorted(response.data, key=lambda item: item.index)
        return np.asarray([item.embedding for item in ordered], dtype=np.float32)

    def _check_budget(self, tokens: int) -> None:
        spent = self._ledger.spent_usd(self._tenant)
        cost = tokens * price_per_million(self._model) / 1e6
        if spent + cost > self._budget:
            raise BudgetExceeded(
                f"embedding budget of ${self._budget:.2f} reached for tenant {self._tenant!r} "
                f"(spent ${spent:.4f}, this request ~${cost:.4f})",
                where=str(self._ledger.path),
                fix="raise DATA_MASH_EMBEDDING_BUDGET_USD, or use the local provider",
            )

    def _call_with_retries(self, batch: list[str]) -> Any:
        # Imported here: loaded only when an OpenAI endpoint is configured.
        import openai  # noqa: PLC0415

        tries = 0

        def once() -> Any:
            nonlocal tries
            tries += 1
            self._limiter.acquire()
            try:
                return self._client.embeddings.create(model=self._model, input=batch)
            except (openai.AuthenticationError, openai.PermissionDeniedError) as error:
                raise ConfigError(
                    f"the embedding endpoint refused the key: {error}",
                    where="OPENAI_API_KEY",
                    fix="set a valid key, or use DATA_MASH_EMBEDDING_PROVIDER=local",
                ) from error
            except (openai.NotFoundError, openai.BadRequestError) as error:
                raise ConfigError(
                    f"the embedding endpoint rejected model {self._model!r}: {error}",
                    where="DATA_MASH_EMBEDDING_MODEL",
                    fix="name an embedding model the endpoint serves",
                ) from error

        try:
            return retry_call(
                "embedding_request",
                once,
                attempts=self._max_retries + 1,
                initial_wait=self._base_delay,
                max_wait=MAX_DELAY_SECONDS,
                max_hint=MAX_DELAY_SECONDS,
                sleep=self._sleep,
            )
        except DataMashError:
            raise
        except Exception as error:  # noqa: BLE001  (one clear error naming the class)
            raise EmbeddingServiceError(
                f"embedding request failed after {tries} tries: {describe(error)}",
                where="OPENAI_BASE_URL",
                fix="retry later, or lower the request rate",
            ) from error
