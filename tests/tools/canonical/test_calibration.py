"""Confidence calibration: the matcher's proposed confidence against what people kept."""

from __future__ import annotations

from sqlalchemy import Engine

from tests.tools.canonical.helpers import BASE_RULES, MakeSource, policy_table
from tools.canonical import approve_mapping, create_mapping, update_field_mapping
from tools.canonical.calibration import calibration


def _bins(engine: Engine) -> dict[str, tuple[int, int]]:
    """Non-empty bins as 'low-high' -> (reviewed, accepted)."""
    found = calibration(engine)
    return {f"{b.low}-{b.high}": (b.reviewed, b.accepted) for b in found.bins if b.reviewed}


def test_reviews_count_by_the_confidence_proposed(engine: Engine, make_source: MakeSource) -> None:
    source_id = make_source(policy_table(50), name="polmast")
    info = create_mapping(engine, source_id, BASE_RULES)
    untouched = calibration(engine)
    assert (untouched.reviewed, untouched.pending, untouched.mappings) == (0, 8, 1)
    # A person keeps the 0.6 date as proposed, re-points the 0.9 name, unmaps the 0.4 premium.
    update_field_mapping(engine, info.mapping_id, "policy_core.effective_date", source="EFF_DT")
    update_field_mapping(engine, info.mapping_id, "policy_core.insured_party.name", source="LOB")
    update_field_mapping(
        engine, info.mapping_id, "rating_components.premium_amount", source=None, transform=None
    )
    assert _bins(engine) == {"0.0-0.5": (1, 0), "0.6-0.7": (1, 1), "0.9-1.0": (1, 0)}
    assert calibration(engine).pending == 5
    # Approving vouches for the rest as proposed; the edited rule's stored confidence (1.0)
    # does not replace the proposal's: the name still counts as a corrected 0.9.
    approve_mapping(engine, info.mapping_id)
    done = calibration(engine)
    assert _bins(engine) == {
        "0.0-0.5": (1, 0),
        "0.6-0.7": (1, 1),
        "0.8-0.9": (1, 1),
        "0.9-1.0": (5, 4),
    }
    assert (done.reviewed, done.accepted, done.pending) == (8, 6, 0)
    top = done.bins[-1]
    assert top.mean_confidence == round((0.99 + 0.9 * 4) / 5, 4)
    assert top.accepted_share == 0.8
