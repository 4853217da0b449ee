"""Context, values and business roles condition the canonical candidates (issue 20)."""

from __future__ import annotations

import pyarrow as pa

from knowledge.canonical import fields
from knowledge.glossary import business_roles, role_phrase
from tools.canonical.matching.canonical import ambiguous_legacy, suggest_matches, target_fields

N = 60


def _col(values: list[object]) -> pa.Array:
    return pa.array(values)


def test_every_business_role_speaks_for_fields_the_model_has() -> None:
    paths = [f.path for f in fields("policy_v1")]
    for role in business_roles():
        for prefix in role.fields:
            assert any(p.startswith(prefix) for p in paths), (role.name, prefix)
        for word in role.synonyms:  # each synonym is used: it rewrites to the role's word
            assert role.canonical in role_phrase(f"{word} name").split(), (role.name, word)
    assert role_phrase("writing company code") == "carrier code"
    assert role_phrase("producer name") == "agent name"


def test_a_legacy_name_listed_under_two_fields_is_evidence_for_neither() -> None:
    shared = ambiguous_legacy(target_fields("policy_v1"))
    assert "PRODCD" in shared and "LOB" in shared
    assert "POLNBR" not in shared  # listed twice under the same field


def test_coverage_line_file_values_lead_and_role_conditions() -> None:
    kinds = ["DWELLING", "BODILY INJURY", "COLLISION", "PERSONAL PROPERTY", "LOSS OF USE"]
    columns = {
        "POLICY_NO": _col([f"P{n // 2:06d}" for n in range(N)]),
        # named like the coverage id (a legacy name of it), holding coverage kinds
        "COV_ID": _col([kinds[n % 5] for n in range(N)]),
        "SEQ": _col([n % 3 + 1 for n in range(N)]),
        "LIMIT_AMT": _col([float(100000 * (n % 4 + 1)) for n in range(N)]),
        "DEDUCTIBLE": _col([float(500 * (n % 3 + 1)) for n in range(N)]),
        "EFF_DATE": _col([f"2024-0{n % 9 + 1}-01" for n in range(N)]),
    }
    result = suggest_matches(columns, source_name="coverage_lines")
    best = {m.column: (m.best.target if m.best else None) for m in result.columns}
    assert best["COV_ID"] == "coverage_sections[].coverage_type"
    assert best["SEQ"] != "coverage_sections[].coverage_type"  # 1, 2, 3 are not codes
    assert best["POLICY_NO"] == "policy_core.policy_id"
    # siblings make this a coverage file: its date is the coverage's, not the policy's
    assert best["EFF_DATE"] == "coverage_sections[].effective_date"
    # one column per list field in a flat file
    listed = [t for t in best.values() if t and t.startswith("coverage_sections")]
    assert len(listed) == len(set(listed))


def test_a_payment_transaction_status_is_not_the_policy_status() -> None:
    columns = {
        "policy_number": _col([f"P{n:06d}" for n in range(N)]),
        "transactions": pa.array(
            [
                [
                    {"date": "2024-01-05", "amount": 120.5, "status": "POSTED"},
                    {"date": "2024-02-05", "amount": 120.5, "status": "RETURNED"},
                    {"date": "2024-03-05", "amount": 80.0, "status": "REVERSED"},
                ]
                for _ in range(N)
            ]
        ),
    }
    result = suggest_matches(columns)
    status = result.column("transactions[].status").best
    assert status is not None and status.target == "payments.payment_history[].status"


def test_business_roles_keep_the_agent_and_the_carrier_apart() -> None:
    columns = {
        "policy_number": _col([f"P{n:06d}" for n in range(N)]),
        "producer_code": _col([f"BR{n % 40:04d}" for n in range(N)]),
        "producer_name": _col([["Ana Berger", "Omar Keller"][n % 2] for n in range(N)]),
        "writing_company": _col(
            [["Granite Mutual", "Harbor Casualty Co"][n % 2] for n in range(N)]
        ),
        "policyholder_name": _col(
            [["Lena Russo", "Ivan Moreau", "Nora Haddad"][n % 3] for n in range(N)]
        ),
    }
    best = {m.column: m.best.target for m in suggest_matches(columns).columns if m.best}
    assert best["producer_code"] == "policy_core.agent_info.agent_id"
    assert best["producer_name"] == "policy_core.agent_info.name"
    assert best["writing_company"] == "policy_core.carrier"
    assert best["policyholder_name"] == "policy_core.insured_party.name"


def test_a_date_that_has_not_happened_is_not_a_payment_record() -> None:
    """A billing account's next due date is an instalment still to pay: no payment received or
    attempted has it, whatever its name shares with a payment's due date."""
    columns = {
        "policy_number": _col([f"P{n:06d}" for n in range(N)]),
        "last_payment_date": _col([f"2024-{1 + n % 12:02d}-05" for n in range(N)]),
        "last_payment_amount": _col([f"{100 + n % 50}.25" for n in range(N)]),
        "next_due_date": _col([f"2025-{1 + n % 12:02d}-05" for n in range(N)]),
    }
    result = suggest_matches(columns)
    last = result.column("last_payment_date").best
    assert last is not None and last.target == "payments.payment_history[].payment_date"
    assert "payments.payment_history[].due_date" not in result.accepted.values()
    nxt = result.column("next_due_date").best
    assert (
        nxt is None
        or not nxt.target.startswith("payments.payment_history[]")
        or (nxt.confidence < 0.8)
    )
