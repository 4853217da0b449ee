"""Which fields a routing rule may name, and of what kind.

Rules name canonical leaf paths (``policy_core.policy_id``), a unique leaf or dotted suffix
(``policy_id``, ``address.state``) or a derived field computed by the pipeline
(``data_quality_score``, ``source_system``, ``wave``). The catalogue below is built from
ARCHITECTURE.md section 8 and is only a default: callers pass the real canonical model's
catalogue as ``known_fields`` once ``knowledge/canonical`` provides it.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from enum import StrEnum


class FieldKind(StrEnum):
    """The value kind of a routable field; decides which operators apply."""

    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    BOOLEAN = "boolean"
    LIST = "list"


_T, _N, _D, _L = FieldKind.TEXT, FieldKind.NUMBER, FieldKind.DATE, FieldKind.LIST

#: Canonical policy model v1 scalar leaves and list components (ARCHITECTURE.md section 8).
#: Fields inside list components (``coverage_sections[].limits.aggregate``) are not routable yet.
CANONICAL_V1_FIELDS: Mapping[str, FieldKind] = {
    "policy_core.policy_id": _T,
    "policy_core.status": _T,
    "policy_core.effective_date": _D,
    "policy_core.expiration_date": _D,
    "policy_core.issue_date": _D,
    "policy_core.policy_type": _T,
    "policy_core.carrier": _T,
    "policy_core.insured_party.party_id": _T,
    "policy_core.insured_party.name": _T,
    "policy_core.insured_party.first_name": _T,
    "policy_core.insured_party.last_name": _T,
    "policy_core.insured_party.date_of_birth": _D,
    "policy_core.insured_party.address.line1": _T,
    "policy_core.insured_party.address.line2": _T,
    "policy_core.insured_party.address.city": _T,
    "policy_core.insured_party.address.state": _T,
    "policy_core.insured_party.address.postal_code": _T,
    "policy_core.insured_party.address.country": _T,
    "policy_core.insured_party.email": _T,
    "policy_core.insured_party.phone": _T,
    "policy_core.agent_info.agent_id": _T,
    "policy_core.agent_info.name": _T,
    "policy_core.agent_info.agency": _T,
    "coverage_sections": _L,
    "rating_components.premium_amount": _N,
    "rating_components.premium_frequency": _T,
    "rating_components.rating_factors": _L,
    "rating_components.calculations": _L,
    "rating_components.last_rated_date": _D,
    "payments.payment_plan": _T,
    "payments.billing_frequency": _T,
    "payments.payment_history": _L,
    "payments.outstanding_balance": _N,
    "correspondence.documents": _L,
    "correspondence.communications": _L,
    "correspondence.notices": _L,
    "endorsements": _L,
    "claims_links": _L,
}

#: Fields the pipeline computes per policy (profiling score, origin, planned wave).
DERIVED_FIELDS: Mapping[str, FieldKind] = {
    "data_quality_score": _N,
    "source_system": _T,
    "wave": _N,
}

#: The canonical model version this catalogue describes (the optional ``canonical:`` key).
DEFAULT_CANONICAL_VERSION = "policy_v1"


def routable_fields(
    known_fields: Mapping[str, FieldKind | str] | None = None,
) -> dict[str, FieldKind]:
    """Return canonical fields (the v1 default when None) plus the derived fields.

    Args:
        known_fields: Canonical leaf paths and their kinds; kinds may be given as strings.

    Returns:
        A new mapping path -> FieldKind including DERIVED_FIELDS (canonical entries win).
    """
    canonical = CANONICAL_V1_FIELDS if known_fields is None else known_fields
    fields = dict(DERIVED_FIELDS)
    fields.update({path: FieldKind(kind) for path, kind in canonical.items()})
    return fields


def resolve_field(name: str, fields: Mapping[str, FieldKind]) -> tuple[str | None, str | None]:
    """Resolve what a rule wrote to a full path.

    Args:
        name: A full path, a unique leaf name or a unique dotted suffix.
        fields: The routable fields (see :func:`routable_fields`).

    Returns:
        ``(path, None)`` when resolved, else ``(None, problem)`` where problem lists the
        candidates of an ambiguous name or the closest known fields.
    """
    if name in fields:
        return name, None
    candidates = sorted(path for path in fields if path.endswith("." + name))
    if len(candidates) == 1:
        return candidates[0], None
    if candidates:
        return None, (
            f"field {name!r} is ambiguous: it matches {', '.join(candidates)}; write the full path"
        )
    leaves = {path.rsplit(".", 1)[-1]: path for path in fields}
    close = difflib.get_close_matches(name, list(fields) + list(leaves), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(leaves.get(c, c) for c in close)}?" if close else ""
    return None, f"unknown field {name!r}{hint}"
