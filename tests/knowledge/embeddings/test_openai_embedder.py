"""Remote embeddings with a fake OpenAI client: backoff on 429, budget per tenant, factory."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import openai
import pytest

from core.errors import ConfigError, DataMashError
from knowledge.embeddings.openai_embedder import EmbeddingServiceError, OpenAIEmbedder, RateLimiter
from knowledge.embeddings.semantic import CachedEmbedder, make_embedder
from knowledge.embeddings.spend import BudgetExceeded, SpendLedger


@dataclass
class Item:
    index: int
    embedding: list[float]


@dataclass
class Usage:
    total_tokens: int


@dataclass
class Response:
    data: list[Item]
    usage: Usage


def http_error(cls: type[openai.APIStatusError], status: int, headers: dict[str, str]) -> Exception:
    request = httpx.Request("POST", "https://llm.example/v1/embeddings")
    return cls(
        "refused", response=httpx.Response(status, headers=headers, request=request), body=None
    )


@dataclass
class FakeEmbeddings:
    """Stands in for ``client.embeddings``: raises the queued errors first, then answers."""

    errors: list[Exception] = field(default_factory=list)
    tokens_per_text: int = 10
    requests: list[list[str]] = field(default_factory=list)

    def create(self, *, model: str, input: list[str]) -> Response:  # noqa: A002
        self.requests.append(list(input))
        if self.errors:
            raise self.errors.pop(0)
        # Returned out of order on purpose: the embedder must sort by index.
        items = [Item(i, [float(len(t)), 1.0, 0.0]) for i, t in enumerate(input)][::-1]
        return Response(items, Usage(self.tokens_per_text * len(input)))


@dataclass
class FakeClient:
    embeddings: FakeEmbeddings


def make(
    tmp_path: Path, fake: FakeEmbeddings, sleeps: list[float], **kwargs: Any
) -> OpenAIEmbedder:
    options: dict[str, Any] = {"budget_usd": 1.0, "requests_per_minute": 0, "tenant": "acme"}
    options.update(kwargs)
    return OpenAIEmbedder(
        api_key="sk-test",
        model="text-embedding-3-small",
        ledger=SpendLedger(tmp_path / "spend.sqlite"),
        client=FakeClient(fake),
        sleep=sleeps.append,
        **options,
    )


def test_vectors_are_ordered_and_normalised(tmp_path: Path) -> None:
    vectors = make(tmp_path, FakeEmbeddings(), []).embed(["a", "bbb"])
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    assert vectors[1, 0] > vectors[0, 0]  # "bbb" is longer, so first component larger


def test_rate_limit_honours_retry_after(tmp_path: Path) -> None:
    fake = FakeEmbeddings(
        errors=[
            http_error(openai.RateLimitError, 429, {"retry-after": "3"}),
            http_error(openai.RateLimitError, 429, {"retry-after-ms": "250"}),
            http_error(openai.RateLimitError, 429, {}),
        ]
    )
    sleeps: list[float] = []
    make(tmp_path, fake, sleeps, base_delay=0.5).embed(["premium"])
    assert sleeps[:2] == [3.0, 0.25]  # the server's hints, taken as they are
    assert 2.0 <= sleeps[2] <= 2.5  # no header: 0.5 * 2**2 plus up to 0.5 jitter
    assert len(fake.requests) == 4


def test_gives_up_after_max_retries(tmp_path: Path) -> None:
    fake = FakeEmbeddings(errors=[http_error(openai.RateLimitError, 429, {}) for _ in range(5)])
    with pytest.raises(EmbeddingServiceError, match=r"after 3 tries: \(transient\)"):
        make(tmp_path, fake, [], max_retries=2).embed(["premium"])


def test_bad_key_is_a_config_error(tmp_path: Path) -> None:
    fake = FakeEmbeddings(errors=[http_error(openai.AuthenticationError, 401, {})])
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        make(tmp_path, fake, []).embed(["premium"])


def test_budget_is_per_tenant_and_persisted(tmp_path: Path) -> None:
    # The fake bills 10 tokens per text at $0.02 per million: 2 texts cost $0.0000004, and the
    # next request (estimated at 2 tokens) would go over $0.00000041.
    budget = 0.00000041
    first = make(tmp_path, FakeEmbeddings(), [], budget_usd=budget)
    first.embed(["one", "two"])
    ledger = SpendLedger(tmp_path / "spend.sqlite")
    assert ledger.spent_tokens("acme") == 20
    again = make(tmp_path, FakeEmbeddings(), [], budget_usd=budget)  # a later process
    with pytest.raises(BudgetExceeded, match="acme") as caught:
        again.embed(["three"])
    assert isinstance(caught.value, DataMashError)
    other_tenant = make(tmp_path, FakeEmbeddings(), [], budget_usd=budget, tenant="globex")
    assert other_tenant.embed(["three"]).shape == (1, 3)


def test_rate_limiter_spaces_requests() -> None:
    now = [100.0]
    sleeps: list[float] = []
    limiter = RateLimiter(120, clock=lambda: now[0], sleep=sleeps.append)
    limiter.acquire()
    limiter.acquire()
    now[0] += 2.0
    limiter.acquire()
    assert sleeps == [0.5]


def test_factory(tmp_path: Path) -> None:
    assert make_embedder("none", cache_dir=tmp_path) is None
    local = make_embedder("local", cache_dir=tmp_path)
    assert isinstance(local, CachedEmbedder) and local.dimension == 384
    remote = make_embedder(
        "openai", cache_dir=tmp_path, openai_api_key="sk-test", model="text-embedding-3-large"
    )
    assert remote is not None and remote.name == "openai:text-embedding-3-large"
    assert remote.dimension == 3072
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        make_embedder("openai", cache_dir=tmp_path)
    with pytest.raises(ConfigError, match="local, openai, none"):
        make_embedder("bert", cache_dir=tmp_path)
