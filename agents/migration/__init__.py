"""Migration: plan waves -> check gates -> approve (or override) -> run -> reconcile."""

from agents.migration.graph import JOURNEY, build_migration_graph

__all__ = ["JOURNEY", "build_migration_graph"]
