"""Layout fingerprint, layout similarity between files, and drift between loads."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from knowledge.embeddings.layout import (
    DRIFT_DISTANCE_THRESHOLD,
    drift,
    layout_fingerprint,
    layout_similarity,
)
from knowledge.embeddings.structural import column_vector

NAMES = ["SMITH JOHN", "MILLER ANNA", "O'BRIEN PAT", "GARCIA LUIS", "NGUYEN MAI"]


def policy_master(seed: int, n: int = 600, *, null_states: float = 0.0) -> dict[str, pa.Array]:
    """A policy-master extract: same layout for every seed, different values."""
    rng = np.random.default_rng(seed)
    states = rng.choice(["CA", "NY", "TX", "FL"], n).tolist()
    states = [None if rng.random() < null_states else s for s in states]
    return {
        "POL_NO": pa.array([f"P{x:08d}" for x in rng.integers(0, 10**8, n)]),
        "PREM_AMT": pa.array([f"{x:.2f}" for x in rng.gamma(2.0, 500.0, n)]),
        "EFF_DT": pa.array(
            [
                f"{y}{m:02d}{d:02d}"
                for y, m, d in zip(
                    rng.integers(1995, 2025, n),
                    rng.integers(1, 13, n),
                    rng.integers(1, 29, n),
                    strict=True,
                )
            ]
        ),
        "INSD_NM": pa.array([f"{rng.choice(NAMES)} {i % 9}" for i in range(n)]),
        "STATE": pa.array(states),
    }


def claims(seed: int, n: int = 600) -> dict[str, pa.Array]:
    """An unrelated layout: claims with native numbers and ISO dates."""
    rng = np.random.default_rng(seed)
    return {
        "CLAIM_ID": pa.array(rng.integers(1, 10**6, n)),
        "LOSS_DATE": pa.array([f"2023-{m:02d}-15" for m in rng.integers(1, 13, n)]),
        "RESERVE": pa.array(rng.normal(10_000, 3_000, n)),
        "ADJUSTER_NOTES": pa.array(["water damage in kitchen, see photos"] * n),
    }


def test_fingerprint_is_stable_and_ignores_the_data() -> None:
    first = layout_fingerprint(policy_master(1))
    assert first == layout_fingerprint(policy_master(1))
    assert first == layout_fingerprint(policy_master(2, n=300))
    assert len(first) == 32 and int(first, 16) >= 0


def test_fingerprint_changes_with_the_layout() -> None:
    base = policy_master(1)
    renamed = {("PREMIUM" if k == "PREM_AMT" else k): v for k, v in base.items()}
    reformatted = {
        **base,
        "EFF_DT": pa.array([f"{d[4:6]}/{d[6:]}/{d[:4]}" for d in base["EFF_DT"].to_pylist()]),
    }
    fingerprints = {layout_fingerprint(x) for x in (base, renamed, reformatted, claims(1))}
    assert len(fingerprints) == 4


def test_same_layout_scores_high_and_different_layout_low() -> None:
    same = layout_similarity(policy_master(1), policy_master(2))
    different = layout_similarity(policy_master(1), claims(1))
    assert same > 0.9
    assert different < 0.4
    assert layout_similarity(policy_master(1), policy_master(1)) == 1.0


def test_similarity_takes_precomputed_vectors_and_penalises_missing_columns() -> None:
    vectors = {k: column_vector(v) for k, v in policy_master(1).items()}
    fewer = {k: v for k, v in policy_master(2).items() if k != "STATE"}
    assert layout_similarity(vectors, policy_master(2)) > layout_similarity(vectors, fewer)
    assert layout_similarity({}, {}) == 1.0
    assert layout_similarity(vectors, {}) == 0.0


def test_two_waves_of_the_same_extract_do_not_drift() -> None:
    report = drift(policy_master(1), policy_master(2))
    assert not report.drifted, report
    assert all(c.distance <= DRIFT_DISTANCE_THRESHOLD for c in report.columns)


def test_drift_flags_format_change_null_rise_and_column_changes() -> None:
    before = policy_master(1)
    after = policy_master(2, null_states=0.3)
    after["EFF_DT"] = pa.array([f"{d[4:6]}/{d[6:]}/{d[:4]}" for d in after["EFF_DT"].to_pylist()])
    after["AGENT_CD"] = after.pop("POL_NO")
    report = drift(before, after)
    assert report.drifted
    assert set(report.drifted_columns) == {"EFF_DT", "STATE"}
    state = next(c for c in report.columns if c.name == "STATE")
    assert state.null_rate_change == pytest.approx(0.3, abs=0.06)
    assert any("null rate" in reason for reason in state.reasons)
    assert report.new_columns == ("AGENT_CD",)
    assert report.missing_columns == ("POL_NO",)


def test_drift_reports_a_type_change() -> None:
    before = {"PREM_AMT": pa.array(["1.00", "2.50"])}
    after = {"PREM_AMT": pa.array([1.0, 2.5])}
    column = drift(before, after).columns[0]
    assert column.type_before == "string" and column.type_after == "floating"
    assert column.drifted
