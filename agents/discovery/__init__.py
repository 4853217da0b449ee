"""Guided discovery: ingest -> profile -> explain -> map -> review -> approve -> rules -> export."""

from agents.discovery.graph import JOURNEY, build_discovery_graph

__all__ = ["JOURNEY", "build_discovery_graph"]
