"""Whole-policy assembly: how sources relate, and one canonical document per policy."""

from tools.assembly.contracts import KeyTransform, RelateResult, Relationship
from tools.assembly.relationships import (
    confirm_relationships,
    confirmed_relationships,
    propose_relationships,
)

__all__ = [
    "KeyTransform",
    "RelateResult",
    "Relationship",
    "confirm_relationships",
    "confirmed_relationships",
    "propose_relationships",
]
