"""Bearer tokens: shown once, stored only as a hash, revocable, audited without the secret."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, MetaData, select

from core.errors import InputError, NotFoundError
from tools.access import Role, TokenStore, tenant_for
from tools.access.acting import acting_as
from tools.access.contracts import Principal
from tools.audit import AuditLog


def _every_stored_text(engine: Engine) -> str:
    meta = MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        return "\n".join(
            repr(tuple(row)) for table in meta.sorted_tables for row in conn.execute(select(table))
        )


def test_token_is_stored_only_as_a_hash_and_verifies(store: Engine) -> None:
    tokens = TokenStore(store)
    created = tokens.create("acme", "operator", label="ci")
    assert created.token.startswith(f"dmt_{created.token_id}_")
    secret = created.token.split("_", 2)[2]
    stored = _every_stored_text(store)
    assert secret not in stored and created.token not in stored
    principal = tokens.verify(created.token)
    assert principal == Principal(
        token_id=created.token_id, tenant="acme", role=Role.OPERATOR, label="ci"
    )
    assert tokens.verify(created.token[:-1] + ("A" if created.token[-1] != "A" else "B")) is None
    assert tokens.verify("dmt_nothing_here") is None
    assert tokens.verify("garbage") is None


def test_list_and_revoke(store: Engine) -> None:
    tokens = TokenStore(store)
    first = tokens.create("acme", Role.VIEWER)
    tokens.create("other", Role.APPROVER)
    assert [t.token_id for t in tokens.list("acme")] == [first.token_id]
    assert len(tokens.list()) == 2
    assert "token" not in tokens.list("acme")[0].model_dump()
    revoked = tokens.revoke(first.token_id)
    assert revoked.revoked_at is not None
    assert tokens.verify(first.token) is None
    assert tokens.list("acme") == []
    assert len(tokens.list("acme", include_revoked=True)) == 1
    assert tokens.revoke(first.token_id).revoked_at == revoked.revoked_at  # idempotent
    with pytest.raises(NotFoundError):
        tokens.revoke("nope")


def test_create_and_revoke_are_audited_without_the_secret(store: Engine) -> None:
    created = TokenStore(store).create("acme", "approver")
    TokenStore(store).revoke(created.token_id)
    entries = list(AuditLog(store, tenant="acme").replay(namespace="access"))
    assert [(e.operation, e.status) for e in entries] == [
        ("token_create", "ok"),
        ("token_revoke", "ok"),
    ]
    assert all(created.token_id == e.target for e in entries)


def test_bad_role_and_tenant_are_one_clear_error(store: Engine) -> None:
    with pytest.raises(InputError, match="viewer, operator, approver"):
        TokenStore(store).create("acme", "boss")
    with pytest.raises(InputError, match="tenant"):
        TokenStore(store).create("../escape", "viewer")


def test_a_principal_acts_only_for_its_tenant() -> None:
    assert tenant_for("beta", "default") == "beta"  # no token: the caller's choice
    with acting_as(Principal(token_id="t1", tenant="alpha", role=Role.VIEWER)):
        assert tenant_for(None, "default") == "alpha"
        assert tenant_for("alpha", "default") == "alpha"
        with pytest.raises(InputError, match="acts for tenant 'alpha', not 'beta'"):
            tenant_for("beta", "default")
