"""What the token commands return: the CLI's --json, and later the REST API, use these models."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class Role(StrEnum):
    """What a token may do: read, run work, or also approve (mappings, gate overrides)."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    APPROVER = "approver"


class TokenInfo(BaseModel):
    """A token as listed: never its secret."""

    token_id: str = Field(description="Public id of the token (its first part).")
    tenant: str
    role: Role
    label: str | None = None
    created_by: str
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class TokenCreated(TokenInfo):
    """A new token: ``token`` is shown this once and stored only as a hash."""

    token: str = Field(description="The bearer token. Store it now: it cannot be shown again.")


class TokenList(BaseModel):
    """Tokens of one tenant (or all tenants)."""

    tokens: list[TokenInfo]


class Principal(BaseModel):
    """Who an authenticated request acts as: the token's tenant is the only tenant it may use."""

    token_id: str
    tenant: str
    role: Role
    label: str | None = Field(None, description="The token's label, when it was given one.")
