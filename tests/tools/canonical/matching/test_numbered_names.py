"""Numbered columns go to the field with the same number (address line 1 vs line 2)."""

from __future__ import annotations

import pyarrow as pa

from tools.canonical.matching import suggest_matches
from tools.canonical.matching.names import name_similarity


def test_numbers_in_names_must_agree() -> None:
    sims = name_similarity(
        ["address line 1", "address line 2"],
        ["address line1", "address line2"],
        ["address_line1", "address_line2"],
        ["line1", "line2"],
        skeleton_weight=0.0,
    )
    assert sims[0, 0] > sims[0, 1] and sims[1, 1] > sims[1, 0]


def test_address_lines_are_not_swapped() -> None:
    columns = {
        "policy_number": pa.array(["P001", "P002", "P003"]),
        "address_line1": pa.array(["12 Oak Street", "4 Elm Road", "9 High St"]),
        "address_line2": pa.array(["Apt 4", None, "Suite 210"]),
    }
    result = suggest_matches(columns, canonical="policy_v1")
    assert (
        result.column("address_line1").candidates[0].target
        == "policy_core.insured_party.address.line1"
    )
    assert (
        result.column("address_line2").candidates[0].target
        == "policy_core.insured_party.address.line2"
    )
