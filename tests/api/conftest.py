"""Fixtures of the API tests: one two-tenant estate per session, an app over it, clients."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.main import create_app
from tests.api.estate import Estate, build_estate


@pytest.fixture(scope="session")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Estate]:
    built = build_estate(Path(tmp_path_factory.mktemp("api-estate")))
    yield built
    built.engine.dispose()


@pytest.fixture(scope="session")
def app(estate: Estate) -> FastAPI:
    return create_app(
        estate.settings,
        verifier=estate.tokens,
        context_for=estate.context_for,
        max_body_bytes=64 * 1024,
    )


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client
