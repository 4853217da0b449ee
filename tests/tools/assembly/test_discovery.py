"""Relationship discovery on the sample estate, scored against its ground truth."""

from __future__ import annotations

from pathlib import Path

from assembly_estates import IngestedEstate

from evals.estate.keys import number_of
from tools.assembly import propose_relationships
from tools.assembly.contracts import RelateResult


def _propose(estate: IngestedEstate) -> RelateResult:
    return propose_relationships(
        estate.engine, estate.settings, list(estate.ids.values()), tenant="default"
    )


def test_every_true_relationship_found_with_its_transform(seeded_estate: IngestedEstate) -> None:
    result = _propose(seeded_estate)
    truth = seeded_estate.truth()
    expected = {
        (t["parent"], t["parent_key"], t["child"], t["child_key"]): t
        for t in truth["relationships"]
    }
    found = {
        (r.parent_name, r.parent_key, r.child_name, r.child_key): r for r in result.relationships
    }
    assert set(found) == set(expected)  # every true one, nothing else
    for edge, want in expected.items():
        got = found[edge].key_transform
        kind = got.kind if got is not None else "identity"
        assert kind == want["transform"], edge
        if want["crosswalk"]:
            assert got is not None and got.crosswalk is not None
            assert got.crosswalk.source_name == want["crosswalk"]["source"]
            assert got.crosswalk.from_key == want["crosswalk"]["from"]
            assert got.crosswalk.to_key == want["crosswalk"]["to"]


def test_orphans_have_recall_one_and_no_excess(seeded_estate: IngestedEstate) -> None:
    result = _propose(seeded_estate)
    truth = seeded_estate.truth()["orphans"]
    by_child: dict[str, set[tuple[int, tuple[str, ...]]]] = {}
    for r in result.relationships:
        by_child.setdefault(f"{r.child_name}.{r.child_key}", set()).add(
            (r.orphans, tuple(r.orphan_sample))
        )
    for child, want in truth.items():
        reports = by_child[f"{child}.{want['key']}"]
        assert len(reports) == 1, child  # every relationship of one child key says the same
        (count, sample), *_ = reports
        assert count == want["count"], child
        assert len(sample) == min(10, count)
        # each sampled orphan refers to a policy number the estate does not have
        assert all(number_of(k) > seeded_estate.policies for k in sample), (child, sample)
    # children with no injected orphans report none
    for key, reports in by_child.items():
        if key.split(".")[0] not in truth:
            assert {count for count, _ in reports} == {0}, key


def test_transform_describes_each_side(estate7: IngestedEstate) -> None:
    result = _propose(estate7)
    claims = next(
        r
        for r in result.relationships
        if r.child_name == "claims_links" and r.parent_name == "policy_master"
    )
    transform = claims.key_transform
    assert transform is not None and transform.kind == "number"
    assert (transform.child.prefix, transform.child.width) == ("KX-", 6)
    assert (transform.parent.prefix, transform.parent.width) == ("P", 9)
    letters = next(
        r
        for r in result.relationships
        if r.child_name == "correspondence" and r.parent_name == "policy_master"
    )
    assert letters.key_transform is not None
    assert letters.key_transform.child.case == "lower"
    assert letters.key_transform.child.suffix == "-01"
    party = next(r for r in result.relationships if r.parent_name == "acquired_party")
    assert (party.child_key, party.cardinality, party.key_transform) == (
        "insured_party_id",
        "1:1",
        None,
    )
    assert claims.cardinality == "1:n" and 0 < claims.match_rate < 1
    assert 0.5 < claims.confidence <= 1.0


def test_unrelated_sources_give_no_relationship(estate7: IngestedEstate) -> None:
    ids = [estate7.ids["agency_summary"], estate7.ids["billing"]]
    result = propose_relationships(estate7.engine, estate7.settings, ids, tenant="default")
    assert result.relationships == [] and result.note


def test_a_postal_code_is_no_reference_whatever_its_digits(tmp_path: Path) -> None:
    """Five-digit postal codes lie inside a policy-number range of 100,000 and spread over it
    like a sample: by their values alone they look like a reference to the policies. A column
    named as an address or phone value is never a key; the true reference is still found."""
    import csv
    import random

    from core.settings import Settings
    from core.store import open_store
    from tools.content.ingest import ingest_file

    rng = random.Random(5)
    policies = [f"P{n:09d}" for n in range(1, 3001)]
    (tmp_path / "policy.csv").write_text(
        "policy_number,holder\n" + "".join(f"{p},name {i}\n" for i, p in enumerate(policies)),
        "utf-8",
    )
    with (tmp_path / "party.csv").open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["party_id", "policy_ref", "postal_code"])
        for i in range(2500):
            out.writerow([f"PT{i:06d}", rng.choice(policies), f"{rng.randint(1, 3000):05d}"])
    settings = Settings(home=tmp_path / "ws", embedding_provider="none")  # no column index
    engine = open_store(settings)
    ids = [
        ingest_file(engine, settings, tmp_path / f"{name}.csv", fmt="csv", name=name).source_id
        for name in ("policy", "party")
    ]
    found = propose_relationships(engine, settings, ids, tenant="default").relationships
    assert [(r.parent_key, r.child_key) for r in found] == [("policy_number", "policy_ref")]
