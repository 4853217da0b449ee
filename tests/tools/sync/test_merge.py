"""Three-way, field-level merge: one-sided changes always survive, conflicts go by policy."""

from __future__ import annotations

from typing import Any

from hypothesis import given, seed, settings
from hypothesis import strategies as st

from tools.sync.contracts import HlcStamp, Owner, Side, Strategy
from tools.sync.merge import merge, merged_document
from tools.sync.paths import flatten, unflatten
from tools.sync.policy import load_policy, parse_policy

POLICY = load_policy()  # built-in: status state machine, premium owner wins, contact newest wins
NO_MANUAL = parse_policy(
    """
default: newest_wins
groups:
  status: {fields: [policy_core.status], resolve: state_machine,
           precedence: [cancelled, expired, inactive, pending, active], fallback: newest_wins}
  premium: {fields: [rating_components], resolve: owner_wins, fallback: newest_wins}
"""
)
OLD, NEWER = (
    HlcStamp(wall_ms=1_000, logical=0, node="legacy"),
    HlcStamp(wall_ms=1_000, logical=1, node="new"),
)

# The universe of fields the generated policies use: plain fields and keyed coverage items.
SCALARS: dict[str, list[Any]] = {
    "policy_core.policy_id": ["P1"],
    "policy_core.status": ["active", "cancelled", "pending", "expired"],
    "policy_core.carrier": ["ACME", "Zenith", "Orbit"],
    "policy_core.insured_party.email": ["a@x.org", "b@x.org", "c@x.org"],
    "policy_core.insured_party.address.city": ["Leeds", "York", "Hull"],
    "rating_components.premium_amount": [100, 120, 150],
}
ITEMS = ("C1", "C2", "C3")
ITEM_FIELDS: dict[str, list[Any]] = {
    "coverage_type": ["life", "health"],
    "limits.aggregate": [1, 2],
}


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for path, values in SCALARS.items():
        if path == "policy_core.policy_id" or draw(st.booleans()):
            flat[path] = draw(st.sampled_from(values))
    for item in ITEMS:
        if draw(st.booleans()):
            flat[f"coverage_sections[{item}].coverage_id"] = item
            for name, values in ITEM_FIELDS.items():
                if draw(st.booleans()):
                    flat[f"coverage_sections[{item}].{name}"] = draw(st.sampled_from(values))
    return flat


@st.composite
def edited(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    """A side's version: each field kept, changed or deleted; items deleted or added."""
    side = dict(base)
    for path, values in SCALARS.items():
        if path != "policy_core.policy_id" and draw(st.integers(0, 3)) == 0:
            choice = draw(st.sampled_from([*values, None]))
            if choice is None:
                side.pop(path, None)
            else:
                side[path] = choice
    for item in ITEMS:
        prefix = f"coverage_sections[{item}]."
        action = draw(st.integers(0, 5))
        if action == 0:
            for p in [p for p in side if p.startswith(prefix)]:
                del side[p]
        elif action == 1:
            side[prefix + "coverage_id"] = item
            for name, values in ITEM_FIELDS.items():
                side[prefix + name] = draw(st.sampled_from(values))
    return side


@st.composite
def three_ways(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    base = draw(documents())
    return base, draw(edited(base)), draw(edited(base))


def _nested(flat: dict[str, Any]) -> dict[str, Any]:
    return unflatten(flat)


@seed(1616)
@settings(max_examples=300, deadline=None)
@given(three_ways(), st.sampled_from(list(Owner)), st.booleans())
def test_no_one_sided_change_is_lost(case, owner: Owner, newer_is_new: bool) -> None:  # type: ignore[no-untyped-def]
    base, left, right = case
    stamps = (OLD, NEWER) if newer_is_new else (NEWER, OLD)
    result = merge(
        _nested(base),
        _nested(left),
        _nested(right),
        POLICY,
        owner=owner,
        legacy_stamps=stamps[0],
        new_stamps=stamps[1],
    )
    decided = {d.path for d in result.resolved + result.queued}

    def in_conflict(path: str) -> bool:
        return any(path == d or path.startswith(d + ".") for d in decided)

    for path in set(base) | set(left) | set(right):
        was, lv, nv = base.get(path), left.get(path), right.get(path)
        if in_conflict(path):
            continue
        if lv != was and nv == was:
            assert result.merged.get(path) == lv, f"legacy-only change of {path} lost"
        elif nv != was and lv == was:
            assert result.merged.get(path) == nv, f"new-only change of {path} lost"
        elif was not in (lv, nv) and lv != nv:
            raise AssertionError(f"two-sided change of {path} neither resolved nor queued")
        else:
            assert result.merged.get(path) == (lv if lv == nv else was)


@seed(1617)
@settings(max_examples=200, deadline=None)
@given(three_ways(), st.sampled_from(list(Owner)))
def test_merge_is_deterministic_and_idempotent(case, owner: Owner) -> None:  # type: ignore[no-untyped-def]
    base, left, right = case
    kwargs = {"owner": owner, "legacy_stamps": OLD, "new_stamps": NEWER}
    first = merge(_nested(base), _nested(left), _nested(right), NO_MANUAL, **kwargs)
    shuffled = {k: left[k] for k in sorted(left, reverse=True)}
    again = merge(_nested(base), _nested(shuffled), _nested(right), NO_MANUAL, **kwargs)
    assert again == first
    merged = merged_document(first)
    assert flatten(merged) == first.merged
    # Both sides holding the result: nothing left to apply, decide or push back.
    settled = merge(_nested(base), merged, merged, NO_MANUAL, **kwargs)
    assert settled.merged == first.merged and not settled.resolved and not settled.queued
    assert not settled.ping_back or not first.merged
    # Merging the result in again as either side's version changes nothing.
    if not first.queued:
        for result in (
            merge(_nested(base), merged, _nested(right), NO_MANUAL, **kwargs),
            merge(_nested(base), _nested(left), merged, NO_MANUAL, **kwargs),
        ):
            assert result.merged == first.merged


def test_one_sided_field_survives_where_record_lww_would_revert_it() -> None:
    base = {"policy_core": {"policy_id": "P1", "carrier": "ACME", "status": "active"}}
    legacy = {"policy_core": {"policy_id": "P1", "carrier": "Zenith", "status": "active"}}
    new = {"policy_core": {"policy_id": "P1", "carrier": "ACME", "status": "cancelled"}}
    result = merge(base, legacy, new, POLICY, legacy_stamps=OLD, new_stamps=NEWER)
    assert merged_document(result)["policy_core"] == {
        "policy_id": "P1",
        "carrier": "Zenith",  # the newer record (new) would have reverted this under LWW
        "status": "cancelled",
    }
    assert result.from_legacy == ["policy_core.carrier"]
    assert result.from_new == ["policy_core.status"]
    assert set(result.ping_back) == {Side.LEGACY, Side.NEW}


def test_each_strategy_decides_a_two_sided_change() -> None:
    base = {
        "policy_core": {"status": "active", "carrier": "A", "insured_party": {"email": "a@x"}},
        "rating_components": {"premium_amount": 100},
    }
    legacy = {
        "policy_core": {"status": "cancelled", "carrier": "B", "insured_party": {"email": "b@x"}},
        "rating_components": {"premium_amount": 110},
    }
    new = {
        "policy_core": {"status": "pending", "carrier": "C", "insured_party": {"email": "c@x"}},
        "rating_components": {"premium_amount": 120},
    }
    result = merge(base, legacy, new, POLICY, owner=Owner.NEW, legacy_stamps=NEWER, new_stamps=OLD)
    by_path = {d.path: d for d in result.resolved}
    assert by_path["policy_core.status"].winner is Side.LEGACY  # cancelled beats pending
    assert by_path["policy_core.status"].strategy is Strategy.STATE_MACHINE
    assert by_path["rating_components.premium_amount"].winner is Side.NEW  # the owner
    assert by_path["policy_core.insured_party.email"].winner is Side.LEGACY  # newer stamp
    assert [d.path for d in result.queued] == ["policy_core.carrier"]  # default: manual
    assert result.merged["policy_core.carrier"] == "A"  # the base stays until decided
    assert result.queued[0].legacy == "B" and result.queued[0].new == "C"


def test_newest_wins_ignores_wall_clock_skew() -> None:
    """The legacy host's clock runs an hour behind, but it changed the field after seeing
    the new side's change: its HLC stamp is higher, so it wins."""
    new_stamp = HlcStamp(wall_ms=10_000_000, logical=0, node="new")
    legacy_stamp = HlcStamp(wall_ms=10_000_000, logical=1, node="legacy")  # after receive()
    base = {"policy_core": {"insured_party": {"email": "a@x"}}}
    result = merge(
        base,
        {"policy_core": {"insured_party": {"email": "legacy@x"}}},
        {"policy_core": {"insured_party": {"email": "new@x"}}},
        POLICY,
        legacy_stamps=legacy_stamp,
        new_stamps=new_stamp,
    )
    assert result.merged["policy_core.insured_party.email"] == "legacy@x"


def test_owner_wins_on_a_dual_policy_falls_back_to_the_queue() -> None:
    base = {"rating_components": {"premium_amount": 100}}
    result = merge(
        base,
        {"rating_components": {"premium_amount": 110}},
        {"rating_components": {"premium_amount": 120}},
        POLICY,
        owner=Owner.DUAL,
    )
    assert [d.path for d in result.queued] == ["rating_components.premium_amount"]
    assert "dual" in result.queued[0].reason


def test_deleted_item_edited_on_the_other_side_is_one_conflict() -> None:
    cover = {"coverage_id": "C1", "coverage_type": "life", "limits": {"aggregate": 1}}
    edited = {**cover, "limits": {"aggregate": 5}}
    other = {"coverage_id": "C2", "coverage_type": "health"}
    base = {"coverage_sections": [cover, other]}
    result = merge(
        base, {"coverage_sections": [other]}, {"coverage_sections": [edited, other]}, POLICY
    )
    assert [d.path for d in result.queued] == ["coverage_sections[C1]"]
    assert result.queued[0].legacy is None
    assert merged_document(result)["coverage_sections"] == [cover, other]  # base kept


def test_list_items_are_matched_by_id_not_position() -> None:
    c1 = {"coverage_id": "C1", "coverage_type": "life"}
    c2 = {"coverage_id": "C2", "coverage_type": "health"}
    c3 = {"coverage_id": "C3", "coverage_type": "life"}
    base = {"coverage_sections": [c1, c2]}
    legacy = {"coverage_sections": [c2, c1, c3]}  # reordered, one added
    new = {"coverage_sections": [c1, {**c2, "coverage_type": "property"}]}
    result = merge(base, legacy, new, POLICY)
    assert not result.queued and not result.resolved
    assert merged_document(result)["coverage_sections"] == [
        c1,
        {**c2, "coverage_type": "property"},
        c3,
    ]
