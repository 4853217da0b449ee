"""Remote embedding requests, their cost and the budget left are metrics (per tenant)."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from core.metrics import EMBEDDING_BUDGET_LEFT, EMBEDDING_CALLS, EMBEDDING_COST
from tests.knowledge.embeddings.test_openai_embedder import FakeEmbeddings, http_error, make


def test_requests_cost_and_budget_left_are_counted(tmp_path: Path) -> None:
    ok = EMBEDDING_CALLS.labels("ok")._value.get()
    failed = EMBEDDING_CALLS.labels("failed")._value.get()
    cost = EMBEDDING_COST.labels("metrics-t")._value.get()
    embedder = make(tmp_path, FakeEmbeddings(), [], budget_usd=1.0, tenant="metrics-t")
    embedder.embed(["one", "two"])
    assert EMBEDDING_CALLS.labels("ok")._value.get() == ok + 1
    spent = EMBEDDING_COST.labels("metrics-t")._value.get() - cost
    assert spent == pytest.approx(20 * 0.02 / 1e6)
    assert EMBEDDING_BUDGET_LEFT.labels("metrics-t")._value.get() == pytest.approx(1.0 - spent)
    refusing = FakeEmbeddings(errors=[http_error(openai.AuthenticationError, 401, {})])
    with pytest.raises(Exception):  # noqa: B017  (the error itself is another test's subject)
        make(tmp_path, refusing, [], tenant="metrics-t").embed(["three"])
    assert EMBEDDING_CALLS.labels("failed")._value.get() == failed + 1
