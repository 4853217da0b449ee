"""Generic target-schema mode, assignment, calibration and metrics."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from tools.canonical.matching import fit_isotonic, rank_targets
from tools.canonical.matching.assign import assign
from tools.canonical.matching.calibration import load_calibrator
from tools.canonical.matching.metrics import expected_calibration_error, mrr, recall_at_gt
from tools.canonical.matching.types import full_ranking


def test_generic_mode_on_a_tiny_valentine_like_pair() -> None:
    source = {
        "AgencyID": pa.array(["Vqn53", "Pasw04", "Kl22", "Mm01"]),
        "LastName": pa.array(["Janson", "Pascal", "Smith", "Doe"]),
        "City": pa.array(["San Jose", "Rochester", "Boston", "Austin"]),
        "Price": pa.array([19.99, 5.0, 7.25, 100.0]),
    }
    target = {
        "gncd": pa.array(["Vqn53", "Zz11", "Kl22", "Ab99"]),  # vowel-dropped names
        "lstnm": pa.array(["Janson", "Miller", "Doe", "Kent"]),
        "cty": pa.array(["Boston", "Austin", "Dallas", "Reno"]),
        "prc": pa.array([20.5, 4.0, 8.0, 90.0]),
    }
    result = rank_targets(source, target)
    assert result.assigned == {
        "AgencyID": "gncd",
        "LastName": "lstnm",
        "City": "cty",
        "Price": "prc",
    }
    gold = {s: {t} for s, t in result.assigned.items()}
    assert mrr({s: full_ranking(result, s) for s in gold}, gold) == 1.0
    pairs = [(s, t) for s, t, _ in result.ordered_pairs()]
    assert recall_at_gt(pairs, {(s, t) for s, ts in gold.items() for t in ts}) == 1.0
    first = result.rankings["City"][0]
    assert first.assigned and "name" in first.signals and "values" in first.signals


def test_generic_mode_with_targets_known_by_name_only() -> None:
    result = rank_targets(
        {"patient_sex": pa.array(["F", "M"])},
        {"gender": None, "admission_time": None},
        target_descriptions={"gender": "sex of the patient", "admission_time": "when admitted"},
    )
    assert result.rankings["patient_sex"][0].target == "gender"


def test_hungarian_beats_greedy_conflict() -> None:
    scores = np.array([[0.9, 0.8], [0.85, 0.1]])
    assert assign(scores) == {0: 1, 1: 0}


def test_assignment_capacity_lets_a_list_field_take_two_columns() -> None:
    scores = np.array([[0.9, 0.2], [0.8, 0.1]])
    assert assign(scores, capacity=[2, 1], extra_penalty=0.05) == {0: 0, 1: 0}


def test_isotonic_calibration_is_monotone_and_bounded() -> None:
    rng = np.random.default_rng(3)
    scores = rng.uniform(0, 1, 400)
    labels = rng.uniform(0, 1, 400) < scores
    cal = fit_isotonic(scores.tolist(), labels.tolist())
    grid = [cal(x) for x in np.linspace(-0.5, 1.5, 101)]
    assert all(b >= a for a, b in zip(grid, grid[1:], strict=False))
    assert all(0.0 <= v <= 1.0 for v in grid)
    assert cal(0.05) < 0.3
    assert cal(0.95) > 0.7


def test_isotonic_blocks_are_flat_over_their_own_scores() -> None:
    """Proposals scored 0.80-0.90 were all right: each gets the block's rate, not a value
    interpolated towards the block of weaker proposals below it."""
    weak = [(0.40 + 0.001 * k, k % 2 == 0) for k in range(40)]  # right half of the time
    strong = [(0.80 + 0.001 * k, True) for k in range(100)]
    cal = fit_isotonic([s for s, _ in weak + strong], [ok for _, ok in weak + strong])
    assert cal(0.80) == cal(0.85) == cal(0.899) > 0.99
    assert 0.4 < cal(0.42) < 0.6
    assert cal(0.42) < cal(0.6) < cal(0.80)  # between blocks: a straight line


def test_packaged_calibrations_are_monotone() -> None:
    for mode in ("lexical", "semantic"):
        cal = load_calibrator(mode)
        assert cal is not None, mode
        grid = [cal(x) for x in np.linspace(0, 1, 201)]
        assert all(b >= a for a, b in zip(grid, grid[1:], strict=False))


def test_ece_of_perfect_and_overconfident_predictions() -> None:
    assert expected_calibration_error([1.0, 1.0], [True, True]) == 0.0
    assert abs(expected_calibration_error([0.9] * 10, [True] * 5 + [False] * 5) - 0.4) < 1e-9
