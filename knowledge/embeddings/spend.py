"""Per-tenant spend on remote embeddings, persisted in a small SQLite file in the workspace."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Final

from core.errors import ConfigError, DataMashError

USD_PER_MILLION_TOKENS: Final[dict[str, float]] = {
    "text-embedding-3-small": 0.02,
    "text-embedding-3-large": 0.13,
    "text-embedding-ada-002": 0.10,
}
UNKNOWN_MODEL_USD_PER_MILLION: Final = 0.13
"""Price assumed for a model not in the table: the dearest known one, so the budget errs safe."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS embedding_spend (
    tenant TEXT NOT NULL,
    model TEXT NOT NULL,
    tokens INTEGER NOT NULL DEFAULT 0,
    usd REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, model)
)
"""


class BudgetExceeded(DataMashError):
    """A tenant's remote embedding spend would go over its budget."""


class SpendLedger:
    """Tokens and dollars spent on remote embeddings, per tenant and model."""

    def __init__(self, path: Path) -> None:
        """Open (or create) the ledger file.

        Raises:
            ConfigError: The file cannot be created or is not a SQLite database.
        """
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connection() as connection:
                connection.execute(_SCHEMA)
        except (OSError, sqlite3.DatabaseError) as error:
            raise ConfigError(
                f"cannot open the embedding spend ledger: {error}",
                where=str(self.path),
                fix="check the workspace folder is writable",
            ) from error

    def spent_usd(self, tenant: str) -> float:
        """Dollars spent so far by ``tenant`` over all models."""
        with self._connection() as connection:
            row = connection.execute(
                "SELECT COALESCE(SUM(usd), 0) FROM embedding_spend WHERE tenant = ?", (tenant,)
            ).fetchone()
        return float(row[0])

    def spent_tokens(self, tenant: str) -> int:
        """Tokens embedded so far by ``tenant`` over all models."""
        with self._connection() as connection:
            row = connection.execute(
                "SELECT COALESCE(SUM(tokens), 0) FROM embedding_spend WHERE tenant = ?", (tenant,)
            ).fetchone()
        return int(row[0])

    def record(self, tenant: str, model: str, tokens: int, usd: float) -> None:
        """Add one request's usage (committed before returning, so a crash loses nothing)."""
        with self._connection() as connection:
            connection.execute(
                "INSERT INTO embedding_spend (tenant, model, tokens, usd) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (tenant, model) DO UPDATE SET "
                "tokens = tokens + excluded.tokens, usd = usd + excluded.usd",
                (tenant, model, tokens, usd),
            )

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=30)) as connection, connection:
            yield connection


def price_per_million(model: str) -> float:
    """USD per million tokens for ``model`` (the dearest known price when unknown)."""
    return USD_PER_MILLION_TOKENS.get(model, UNKNOWN_MODEL_USD_PER_MILLION)
