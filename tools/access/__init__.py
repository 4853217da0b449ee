"""Access: bearer tokens for the HTTP servers (MCP and REST), hashed at rest. No HTTP in here."""

from tools.access.acting import acting_as, current_principal, tenant_for
from tools.access.contracts import Principal, Role, TokenCreated, TokenInfo, TokenList
from tools.access.tokens import TokenStore

__all__ = [
    "acting_as",
    "current_principal",
    "tenant_for",
    "Principal",
    "Role",
    "TokenCreated",
    "TokenInfo",
    "TokenList",
    "TokenStore",
]
