"""The store: SQLModel tables on SQLite (default) or PostgreSQL, migrated with Alembic."""

from core.store.engine import create_store_engine, open_store, reading

__all__ = ["create_store_engine", "open_store", "reading"]
