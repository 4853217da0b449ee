"""Canonical records for the target tests: small, valid v1 policies as an Arrow table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pytest

from knowledge.canonical import records_to_arrow

STATES = ("NY", "CA", "TX")
TYPES = ("auto", "homeowners")


def policy(number: int, *, premium: str | None = None, note: str = "") -> dict[str, Any]:
    """A valid canonical v1 policy whose values depend on `number`."""
    return {
        "policy_core": {
            "policy_id": f"P{number:05d}",
            "status": "active",
            "effective_date": "2024-01-01",
            "expiration_date": "2025-01-01",
            "policy_type": TYPES[number % 2],
            "carrier": "ACME",
            "insured_party": {
                "name": f"Insured {number} {note}".strip(),
                "address": {
                    "line1": f'{number} Main St, "Apt" 2',
                    "city": "Zürich",
                    "state": STATES[number % 3],
                },
            },
        },
        "coverage_sections": [
            {
                "coverage_id": f"C{number}-{k}",
                "coverage_type": "auto",
                "limits": {"per_occurrence": f"{(k + 1) * 100000}.00", "aggregate": "300000.00"},
                "deductibles": {"amount": "500.00"},
            }
            for k in range(1 + number % 3)
        ],
        "rating_components": {
            "premium_amount": premium or f"{1000 + number}.25",
            "premium_frequency": "annual",
        },
        "payments": {"outstanding_balance": f"-{number}.10", "billing_frequency": "monthly"},
        "endorsements": [
            {
                "endorsement_id": f"E{number}",
                "endorsement_type": "change",
                "effective_date": "2024-06-01",
                "changes": "line1\nline2",
            }
        ]
        if number % 4 == 0
        else [],
    }


@pytest.fixture
def make_records() -> Callable[..., pa.Table]:
    """make_records(range, **overrides) -> canonical Arrow table of those policies."""

    def build(numbers: range | list[int], **kwargs: Any) -> pa.Table:
        return records_to_arrow([policy(n, **kwargs) for n in numbers])

    return build
