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


def test_a_verified_token_is_remembered_for_a_bounded_time(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "ws", embedding_provider="none")
    engine = open_store(settings)
    store = TokenStore(engine)
    now = [100.0]
    verifier = StoreTokens(store, remember_seconds=5.0, clock=lambda: now[0])
    token = store.create("acme", "operator")
    caller = verifier.verify(token.token)
    assert caller is not None and caller.tenant == "acme"
    store.revoke(token.token_id)
    # Within the window the store is not read again: the revocation is not seen yet ...
    now[0] += 4.9
    assert verifier.verify(token.token) == caller
    # ... and after it, it is: the revoked token is refused and not remembered.
    now[0] += 0.2
    assert verifier.verify(token.token) is None
    now[0] -= 1.0
    assert verifier.verify(token.token) is None
    # Only valid tokens are remembered; a wrong secret of a valid id is looked up every time.
    other = store.create("acme", "viewer")
    assert verifier.verify(other.token + "x") is None
    assert verifier.verify(other.token) is not None
    # remember_seconds=0: every request reads the store, a revocation takes effect at once.
    strict = StoreTokens(store, remember_seconds=0)
    assert strict.verify(other.token) is not None
    store.revoke(other.token_id)
    assert strict.verify(other.token) is None
    engine.dispose()


def test_the_remembered_tokens_stay_bounded(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "ws", embedding_provider="none")
    engine = open_store(settings)
    store = TokenStore(engine)
    verifier = StoreTokens(store, max_remembered=3)
    tokens = [store.create("acme", "viewer") for _ in range(5)]
    for token in tokens:
        assert verifier.verify(token.token) is not None
    assert len(verifier._known) == 3
    engine.dispose()
