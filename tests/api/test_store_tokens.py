"""The API accepts the tokens of `data-mash token create` (one mechanism for MCP and REST)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from api.auth import StoreTokens, access_for
from api.main import create_app
from core.settings import Settings
from core.store import open_store
from tools.access import TokenStore


def test_api_requests_use_the_token_store(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "ws", embedding_provider="none")
    engine = open_store(settings)
    store = TokenStore(engine)
    verifier = StoreTokens(store)
    assert verifier.any_active() is False
    viewer = store.create("acme", "viewer")
    revoked = store.create("acme", "approver")
    store.revoke(revoked.token_id)
    assert verifier.any_active() is True
    assert access_for("0.0.0.0", 8000, verifier, "default") is None  # tokens exist: all need one
    caller = verifier.verify(viewer.token)
    assert caller is not None and (caller.tenant, caller.role.value) == ("acme", "viewer")
    app = create_app(settings, verifier=verifier)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/api/v1/sources").status_code == 401
        bad = {"authorization": f"Bearer {revoked.token}"}
        assert client.get("/api/v1/sources", headers=bad).status_code == 401
        good = {"authorization": f"Bearer {viewer.token}"}
        answer = client.get("/api/v1/sources", headers=good)
        assert answer.status_code == 200, answer.text
    assert caller.actor == f"api token {viewer.token_id} (viewer)"
    labelled = store.create("acme", "operator", label="ci bot")
    named = verifier.verify(labelled.token)
    assert named is not None and named.actor == f"api token {labelled.token_id} 'ci bot' (operator)"
    engine.dispose()
