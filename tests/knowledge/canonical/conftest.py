"""A fully populated canonical v1 record, as a migration would produce it."""

from __future__ import annotations

import copy
from typing import Any

import pytest

FULL_RECORD: dict[str, Any] = {
    "policy_core": {
        "policy_id": "0012345678",
        "status": "active",
        "effective_date": "2024-01-01",
        "expiration_date": "2025-01-01",
        "issue_date": "2023-12-15",
        "policy_type": "HO-3",
        "carrier": "Acme Mutual",
        "insured_party": {
            "party_id": "C-000981",
            "name": "Jane Q Public",
            "first_name": "Jane",
            "last_name": "Public",
            "date_of_birth": "1980-02-29",
            "address": {
                "line1": "12 Elm St",
                "line2": "Apt 4",
                "city": "Springfield",
                "state": "IL",
                "postal_code": "02134",
                "country": "US",
            },
            "email": "jane@example.com",
            "phone": "+1 217 555 0100",
        },
        "agent_info": {"agent_id": "A0042", "name": "Bob Broker", "agency": "Main St Agency"},
    },
    "coverage_sections": [
        {
            "coverage_id": "DWELL",
            "coverage_type": "property",
            "limits": {"per_occurrence": "350000.00", "aggregate": None},
            "deductibles": {"amount": "1000.00"},
            "effective_date": "2024-01-01",
            "expiration_date": "2025-01-01",
        },
        {
            "coverage_id": "PL",
            "coverage_type": "liability",
            "limits": {"per_occurrence": "300000", "aggregate": "600000"},
            "deductibles": None,
            "effective_date": None,
            "expiration_date": None,
        },
    ],
    "rating_components": {
        "premium_amount": "1234.56",
        "premium_frequency": "annual",
        "rating_factors": [{"name": "territory", "value": "012", "factor": "1.125"}],
        "calculations": [{"name": "base premium", "amount": "1097.39", "basis": "rate x TIV"}],
        "last_rated_date": "2023-12-10",
    },
    "payments": {
        "payment_plan": "direct bill",
        "billing_frequency": "monthly",
        "payment_history": [
            {
                "payment_id": "P1",
                "payment_date": "2024-01-01",
                "amount": "102.88",
                "due_date": "2024-01-01",
                "method": "EFT",
                "status": "paid",
            },
            {
                "payment_id": "P2",
                "payment_date": "2024-02-03",
                "amount": "-102.88",
                "due_date": None,
                "method": "EFT",
                "status": "reversed",
            },
        ],
        "outstanding_balance": "1131.68",
    },
    "correspondence": {
        "documents": [
            {
                "document_id": "D1",
                "document_type": "declarations",
                "title": "Dec page",
                "created_date": "2023-12-15",
                "uri": "archive://decs/D1.pdf",
            }
        ],
        "communications": [
            {
                "communication_id": "C1",
                "channel": "phone",
                "direction": "inbound",
                "sent_date": "2024-02-04",
                "subject": "NSF",
                "summary": "Customer called about the returned payment.",
            }
        ],
        "notices": [
            {
                "notice_id": "N1",
                "notice_type": "premium_due",
                "issued_date": "2024-02-05",
                "effective_date": "2024-02-20",
                "reason": "non-payment",
            }
        ],
    },
    "endorsements": [
        {
            "endorsement_id": "001",
            "endorsement_type": "add scheduled jewelry",
            "effective_date": "2024-03-01",
            "changes": "Added ring, 5000 limit",
            "premium_change": "45.00",
        }
    ],
    "claims_links": [
        {
            "claim_id": "CLM-77",
            "loss_date": "2024-04-02",
            "reported_date": "2024-04-03",
            "status": "open",
            "coverage_id": "DWELL",
        }
    ],
}


@pytest.fixture
def full_record() -> dict[str, Any]:
    """A fresh deep copy of the full sample record (tests may mutate it)."""
    return copy.deepcopy(FULL_RECORD)
