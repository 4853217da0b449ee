"""Bearer tokens: created once and shown once, stored as SHA-256, verified in constant time.

A token reads ``dmt_<token_id>_<secret>``. The token id is public (listings, logs, audit); the
secret is 256 random bits, so a plain SHA-256 is enough to store it (a slow password hash only
helps against guessable secrets). Creating and revoking are audited; the secret never is.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from sqlalchemy import Engine, and_, insert, select, update

from core.errors import InputError, NotFoundError
from core.ids import check_tenant
from core.store.models import ApiTokenRow, as_utc, table_of, utcnow
from tools.access.contracts import Principal, Role, TokenCreated, TokenInfo
from tools.audit import AuditLog

TOKEN = table_of(ApiTokenRow)
PREFIX = "dmt"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_role(value: str) -> Role:
    """The role named by ``value``, or one clear error listing the roles."""
    try:
        return Role(value.strip().lower())
    except ValueError:
        raise InputError(
            f"'{value}' is not a role",
            where="--role",
            fix=f"use one of: {', '.join(r.value for r in Role)}",
        ) from None


def split_token(raw: str) -> tuple[str, str] | None:
    """``(token_id, secret)`` of a well-formed token, else None."""
    parts = raw.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


class TokenStore:
    """Tokens in the store. Tenants are checked; every change goes through the audit log."""

    def __init__(self, engine: Engine, *, actor: str | None = None) -> None:
        self.engine = engine
        self.actor = actor

    def create(self, tenant: str, role: Role | str, *, label: str | None = None) -> TokenCreated:
        """Make a token for ``tenant`` with ``role``; the returned ``token`` is its only copy."""
        tenant = check_tenant(tenant, where="--tenant")
        role = role if isinstance(role, Role) else parse_role(role)
        token_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        audit = AuditLog(self.engine, tenant=tenant, actor=self.actor)
        now = utcnow()
        with audit.operation(
            "access", "token_create", target=token_id, payload={"role": role.value, "label": label}
        ) as op:
            with op.atomic() as conn:
                conn.execute(
                    insert(TOKEN).values(
                        token_id=token_id,
                        tenant=tenant,
                        role=role.value,
                        label=label,
                        secret_sha256=_digest(secret),
                        created_by=audit.actor,
                        created_at=now,
                    )
                )
                op.outcome = {"token_id": token_id}
        return TokenCreated(
            token=f"{PREFIX}_{token_id}_{secret}",
            token_id=token_id,
            tenant=tenant,
            role=role,
            label=label,
            created_by=audit.actor,
            created_at=now,
        )

    def list(self, tenant: str | None = None, *, include_revoked: bool = False) -> list[TokenInfo]:
        """Tokens of ``tenant`` (all tenants when None), oldest first, never their secrets."""
        conditions = []
        if tenant is not None:
            conditions.append(TOKEN.c.tenant == check_tenant(tenant))
        if not include_revoked:
            conditions.append(TOKEN.c.revoked_at.is_(None))
        with self.engine.connect() as conn:
            rows = conn.execute(select(TOKEN).where(and_(True, *conditions)).order_by(TOKEN.c.id))
            return [_info(row) for row in rows]

    def revoke(self, token_id: str) -> TokenInfo:
        """Revoke a token by its id; its requests get 401 from then on. Idempotent."""
        row = self._row(token_id)
        if row is None:
            raise NotFoundError(
                f"no token '{token_id}'", where="token_id", fix="see: data-mash token list"
            )
        if row.revoked_at is None:
            audit = AuditLog(self.engine, tenant=row.tenant, actor=self.actor)
            with audit.operation("access", "token_revoke", target=token_id) as op:
                with op.atomic() as conn:
                    conn.execute(
                        update(TOKEN)
                        .where(TOKEN.c.token_id == token_id)
                        .values(revoked_at=utcnow())
                    )
            row = self._row(token_id)
        return _info(row)

    def verify(self, raw: str) -> Principal | None:
        """The principal of a valid, unrevoked token, else None (never says which part failed)."""
        parts = split_token(raw)
        if parts is None:
            return None
        token_id, secret = parts
        row = self._row(token_id)
        if row is None or row.revoked_at is not None:
            # Compare anyway so a missing id costs the same as a wrong secret.
            hmac.compare_digest(_digest(secret), "0" * 64)
            return None
        if not hmac.compare_digest(_digest(secret), row.secret_sha256):
            return None
        return Principal(
            token_id=row.token_id, tenant=row.tenant, role=Role(row.role), label=row.label
        )

    def any_active(self) -> bool:
        """True when an unrevoked token exists (HTTP servers off loopback need one)."""
        with self.engine.connect() as conn:
            found = conn.execute(
                select(TOKEN.c.id).where(TOKEN.c.revoked_at.is_(None)).limit(1)
            ).first()
        return found is not None

    def _row(self, token_id: str) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(select(TOKEN).where(TOKEN.c.token_id == token_id)).first()


def _info(row: Any) -> TokenInfo:

    return TokenInfo(
        token_id=row.token_id,
        tenant=row.tenant,
        role=Role(row.role),
        label=row.label,
        created_by=row.created_by,
        created_at=as_utc(row.created_at),
        revoked_at=as_utc(row.revoked_at),
    )
