"""Key formats per system, the acquired crosswalk, relationship truth and injected conflicts."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from estate_readers import read_source

from evals.estate import EstateManifest
from evals.estate.keys import KEY_FORMATS, number_of

KEY_COLUMNS = {
    "policy_master": "POL_NBR",
    "billing": "PolicyNo",
    "claims_links": "policyRef",
    "correspondence": "policy-ref",
    "acquired_policy": "policy_number",
}


@pytest.mark.parametrize("fmt", sorted(KEY_FORMATS))
def test_every_format_reads_back_to_its_number(fmt: str) -> None:
    for n in (1, 97, 4512, 349_999, 900_004_512):
        assert number_of(KEY_FORMATS[fmt](n)) == n


def test_formats_differ_as_in_a_real_estate() -> None:
    written = {fmt: render(4512) for fmt, render in KEY_FORMATS.items()}
    assert written == {
        "group": "P000004512",
        "billing": "4512",
        "claims": "KX-004512",
        "correspondence": "kx004512-01",
        "acquired": "AQ-01166947",
    }
    assert number_of("not a key") is None and number_of(None) is None
    assert number_of("AQ-01000004") is None  # inverts to no policy


@pytest.fixture(scope="module")
def records(estate: tuple[Path, EstateManifest], source_configs: list[dict]) -> dict[str, Any]:
    root, _ = estate
    names = {*KEY_COLUMNS, "acquired_crosswalk", "acquired_coverage"}
    return {c["name"]: read_source(root, c) for c in source_configs if c["name"] in names}


def test_each_system_writes_its_own_format(records: dict[str, list[dict[str, Any]]]) -> None:
    first = {name: records[name][0][col] for name, col in KEY_COLUMNS.items()}
    assert first["policy_master"].startswith("P") and len(first["policy_master"]) == 10
    assert first["billing"].isdigit() and not first["billing"].startswith("0")
    assert first["claims_links"].startswith("KX-")
    assert first["correspondence"].startswith("kx") and first["correspondence"].endswith("-01")
    assert first["acquired_policy"].startswith("AQ-")


def test_crosswalk_maps_every_acquired_policy_to_its_group_number(
    records: dict[str, list[dict[str, Any]]],
) -> None:
    crosswalk = records["acquired_crosswalk"]
    acquired = {r["policy_number"] for r in records["acquired_policy"]}
    assert {r["LEGACY_POLICY_NO"] for r in crosswalk} == acquired
    assert len(crosswalk) == len(acquired)  # one row per policy, duplicates excluded
    for row in crosswalk:
        number = number_of(row["LEGACY_POLICY_NO"])
        assert row["GROUP_POLICY_NO"] == f"P{number:09d}"
    # Billing writes the group number: it reaches acquired policies only through the crosswalk.
    group = {number_of(r["GROUP_POLICY_NO"]) for r in crosswalk}
    billed = {int(r["PolicyNo"]) for r in records["billing"]}
    assert group & billed
    assert not {int(k[3:]) for k in acquired} & billed


def test_relationship_truth_counts_orphans_duplicates_and_conflicts(
    estate: tuple[Path, EstateManifest], records: dict[str, list[dict[str, Any]]]
) -> None:
    root, manifest = estate
    truth = json.loads((root / manifest.ground_truth["relationships"]).read_text("utf-8"))
    pairs = {(r["parent"], r["child"], r["child_key"]): r for r in truth["relationships"]}
    assert pairs[("policy_master", "billing", "PolicyNo")]["transform"] == "number"
    assert pairs[("policy_master", "endorsements", "POL_NBR")]["transform"] == "identity"
    xw = pairs[("acquired_policy", "claims_links", "policyRef")]
    assert xw["transform"] == "crosswalk" and xw["crosswalk"]["source"] == "acquired_crosswalk"
    assert ("life", "claims_links", "policyRef") not in pairs  # life policies have no claims
    # Orphans recounted from the files: keys whose number belongs to no policy.
    for child in ("billing", "claims_links", "correspondence"):
        numbers = [number_of(r[KEY_COLUMNS[child]]) for r in records[child]]
        orphans = sum(1 for n in numbers if n > manifest.policies)
        assert truth["orphans"][child]["count"] == orphans > 0, child
        assert None not in numbers, child
    coverage = [number_of(r["policy_number"]) for r in records["acquired_coverage"]]
    assert truth["orphans"]["acquired_coverage"]["count"] == sum(
        1 for n in coverage if n > manifest.policies
    )
    billing_keys = Counter(r["PolicyNo"] for r in records["billing"])
    assert truth["duplicates"]["billing"] == sum(c - 1 for c in billing_keys.values())
    assert truth["conflicts"] == manifest.conflicts and manifest.conflicts["billing"] > 0


def test_conflicts_name_both_values_as_the_files_hold_them(
    estate: tuple[Path, EstateManifest],
    source_configs: list[dict],
    records: dict[str, list[dict[str, Any]]],
) -> None:
    root, manifest = estate
    lines = (root / manifest.ground_truth["conflicts"]).read_text("utf-8").splitlines()
    conflicts = [json.loads(line) for line in lines]
    assert len(conflicts) == manifest.conflicts["billing"]
    others = {c["other_source"] for c in conflicts}
    configs = {c["name"]: c for c in source_configs}
    home = {
        name: {number_of(r[col]): r for r in read_source(root, configs[name])}
        for name, col in {"agency_policies": "Policy Number", "life": "CONTRNO"}.items()
        if name in others
    }
    checked = 0
    for c in conflicts:
        bill = records["billing"][c["record_index"]]
        assert bill["PolicyNo"] == c["policy_id"] and bill["PayorCity"] == c["value"]
        assert c["value"] != c["other_value"]
        if c["other_source"] in home:
            row = home[c["other_source"]][number_of(c["policy_id"])]
            assert row[c["other_field"]] == c["other_value"]
            checked += 1
    assert checked > 0
