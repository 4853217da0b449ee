"""Canonical-mode matcher on small synthetic insurance columns (lexical mode, no model)."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pytest

from tools.canonical.matching import DEFAULT_THRESHOLD, MatchResult, suggest_matches


@pytest.fixture(scope="module")
def result() -> MatchResult:
    n = 60
    statuses = ["A", "C", "X", "A", "A", "C"]
    coverages = pa.array(
        [
            [
                {"COV_CD": "LIA", "COV_LMT": Decimal("1000000.00")},
                {"COV_CD": "PRP", "COV_LMT": Decimal(str(250000 + 1000 * i)) + Decimal("0.00")},
            ]
            for i in range(n)
        ],
        type=pa.list_(pa.struct([("COV_CD", pa.string()), ("COV_LMT", pa.decimal128(11, 2))])),
    )
    columns = {
        "POL_NBR": pa.array([f"P{i:09d}" for i in range(n)]),
        "INSD_NM": pa.array(
            [
                f"{first} {last}"
                for first, last in zip(["Ann", "Bob", "Cy"] * 20, ["Lee", "Roe"] * 30, strict=True)
            ]
        ),
        "EFF_DT": pa.array([20200101 + (i % 28) + 100 * (i % 12) for i in range(n)], pa.int64()),
        "STATUS": pa.array([statuses[i % len(statuses)] for i in range(n)]),
        "PREM_AMT": pa.array(
            [Decimal(f"{500 + 37 * i}.{i % 100:02d}") for i in range(n)], pa.decimal128(9, 2)
        ),
        "COVERAGES": coverages,
    }
    return suggest_matches(columns, source_name="synthetic")


@pytest.mark.parametrize(
    ("column", "target"),
    [
        ("POL_NBR", "policy_core.policy_id"),
        ("INSD_NM", "policy_core.insured_party.name"),
        ("EFF_DT", "policy_core.effective_date"),
        ("STATUS", "policy_core.status"),
        ("PREM_AMT", "rating_components.premium_amount"),
        ("COVERAGES[].COV_LMT", "coverage_sections[].limits.per_occurrence"),
    ],
)
def test_top1_is_the_expected_field(result: MatchResult, column: str, target: str) -> None:
    best = result.column(column).best
    assert best is not None, result.column(column).unmapped_reason
    assert best.target == target


def test_code_table_hits_support_status(result: MatchResult) -> None:
    best = result.column("STATUS").best
    assert best is not None
    assert best.signals["code"] == 1.0
    assert "code" in best.agreed


def test_repeated_group_maps_only_to_list_fields(result: MatchResult) -> None:
    for cand in result.column("COVERAGES[].COV_LMT").candidates:
        assert "[]" in cand.target


def test_scalar_fields_assigned_one_to_one(result: MatchResult) -> None:
    targets = [m.best.target for m in result.columns if m.best and "[]" not in m.best.target]
    assert len(targets) == len(set(targets))


def test_evidence_and_confidence_ranges(result: MatchResult) -> None:
    for match in result.columns:
        assert match.candidates, match.column
        assert match.sample_values
        for cand in match.candidates:
            assert 0.0 <= cand.confidence <= 1.0
            assert 0.0 <= cand.score <= 1.0
            assert {"name", "description", "type"} <= set(cand.signals)
            assert all(0.0 <= v <= 1.0 for v in cand.signals.values())
    assert result.threshold == DEFAULT_THRESHOLD
    doc = result.to_dict()
    assert {"mappings", "unmapped"} <= set(doc)
    assert doc["mappings"][0]["evidence"]["candidates"]


def test_unrelated_column_left_unmapped_or_below_threshold() -> None:
    columns = {
        "POL_NBR": pa.array([f"P{i:09d}" for i in range(30)]),
        "ZZQ_FLG9": pa.array(["qx7", "vv2", "kk9"] * 10),
    }
    res = suggest_matches(columns)
    match = res.column("ZZQ_FLG9")
    assert match.best is None or match.best.confidence < res.threshold
    assert "ZZQ_FLG9" not in res.accepted


def _policies(n: int = 40) -> dict[str, pa.Array]:
    return {
        "POL_NBR": pa.array([f"P{i:09d}" for i in range(n)]),
        "STATE": pa.array(["CA", "NY", "TX", "FL", "WA"] * (n // 5)),
    }


def test_code_values_unknown_to_a_fields_table_count_against_it() -> None:
    # Same name evidence, different values: state codes support the address state; regions
    # (none of them a state) contradict it, so the pair scores lower and is not auto-accepted.
    regions = {**_policies(), "STATE": pa.array(["North", "South", "East", "West", "Central"] * 8)}
    good = suggest_matches(_policies()).column("STATE").candidates[0]
    bad = suggest_matches(regions).column("STATE").candidates[0]
    assert good.target == bad.target == "policy_core.insured_party.address.state"
    assert good.signals["code"] == 1.0 and bad.signals["code"] == 0.0
    assert bad.score < 0.8 * good.score
    assert good.confidence >= DEFAULT_THRESHOLD > bad.confidence


def test_two_unknown_codes_are_too_few_to_contradict() -> None:
    yes_no = {**_policies(), "STATE": pa.array(["Y", "N"] * 20)}
    three = {**_policies(), "STATE": pa.array(["Y", "N", "U"] * 13 + ["Y"])}

    def state(columns: dict[str, pa.Array]) -> float:
        cands = suggest_matches(columns, top_k=100).column("STATE").candidates
        return next(c.score for c in cands if c.target.endswith("address.state"))

    # Two misses leave the pair as the other signals score it; three are evidence against it.
    assert state(three) < 0.8 * state(yes_no)


def test_source_without_a_key_column_is_never_auto_accepted() -> None:
    # A summary sheet: premium by state. Its state column is state codes, but no row is a
    # policy, so its columns cannot populate policies.
    summary = {
        "State": pa.array(["CA", "NY", "TX", "FL", "WA"]),
        "Policies": pa.array([120, 80, 95, 60, 40]),
        "Total Premium": pa.array([Decimal("123456.78"), Decimal("98765.43")] * 2 + [None]),
    }
    keyed = suggest_matches({**summary, "Policy Number": pa.array([f"P{i:09d}" for i in range(5)])})
    keyless = suggest_matches(summary)
    assert not keyed.keyless and keyed.note is None and keyed.column("State").best is not None
    assert keyless.keyless and keyless.note is not None and "key" in keyless.note
    assert keyless.to_dict()["keyless"] and keyless.to_dict()["note"] == keyless.note
    assert keyless.accepted == {}
    state = keyless.column("State").candidates[0]
    assert state.target == "policy_core.insured_party.address.state"
    assert state.confidence < keyed.column("State").candidates[0].confidence


def test_only_closed_tables_contradict() -> None:
    from tools.canonical.matching.canonical import code_matrix, contradiction_matrix, target_fields
    from tools.canonical.matching.values import profile

    targets = target_fields("policy_v1")
    paths = [t.path for t in targets]
    profiles = [
        profile(pa.array(["North", "South", "East", "West", "Central"] * 8)),
        profile(pa.array(["T20", "WL1", "UL5"] * 10)),  # life plan codes: the policy type
    ]
    contra = contradiction_matrix(profiles, targets, code_matrix(profiles, targets))
    state = paths.index("policy_core.insured_party.address.state")
    policy_type = paths.index("policy_core.policy_type")
    assert contra[0, state]
    assert not contra[1, policy_type]  # the line-of-business table is open: a miss says nothing
    closed = {paths[state], "policy_core.insured_party.address.country"}
    for row in contra:  # neither column is a state or a country; nothing else is ruled out
        assert {paths[j] for j in row.nonzero()[0]} == closed
