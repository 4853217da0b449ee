"""Injected problems: counts match the log, and each logged problem is really in the file."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from estate_readers import read_source

from evals.estate import EstateManifest
from evals.estate.keys import number_of

# The column holding the policy id in each source (None: the source has none).
POLICY_ID_COLUMN = {
    "policy_master": "POL_NBR",
    "billing": "PolicyNo",
    "claims_links": "policyRef",
    "agency_policies": "Policy Number",
    "correspondence": "policy-ref",
    "life": "CONTRNO",
    "acquired_policy": "policy_number",
    "acquired_coverage": "policy_number",
    "endorsements": "POL_NBR",
}


def load_problems(root: Path) -> list[dict[str, Any]]:
    with (root / "ground_truth" / "problems.jsonl").open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_problem_counts_match_the_log(estate: tuple[Path, EstateManifest]) -> None:
    root, manifest = estate
    logged = Counter((p["source"], p["kind"]) for p in load_problems(root))
    declared = Counter(
        {(s.name, kind): n for s in manifest.sources for kind, n in s.problems.items()}
    )
    assert logged == +declared  # the manifest also lists injected kinds that drew 0
    totals: Counter[str] = Counter()
    for (_, kind), n in declared.items():
        totals[kind] += n
    assert dict(totals) == manifest.problems
    for system in manifest.systems:
        expect = Counter()
        for name in system.sources:
            expect.update(manifest.source(name).problems)
        assert system.problems == dict(expect)


def test_every_system_has_several_kinds_at_a_low_rate(
    estate: tuple[Path, EstateManifest],
) -> None:
    _, manifest = estate
    for system in manifest.systems:
        records = sum(manifest.source(n).records for n in system.sources)
        assert len(system.problems) >= 3 or system.name == "acquired", system.name
        for kind, count in system.problems.items():
            assert count <= 0.05 * records, (system.name, kind, count, records)
            if records >= 1000:
                assert count > 0, (system.name, kind, records)


def _parse_ok(value: Any, transform: dict[str, Any]) -> bool:
    try:
        datetime.strptime(str(value), transform["format"])
    except ValueError:
        return False
    return True


@pytest.fixture(scope="module")
def records(
    estate: tuple[Path, EstateManifest], source_configs: list[dict]
) -> dict[str, list[dict[str, Any]]]:
    root, _ = estate
    return {c["name"]: read_source(root, c) for c in source_configs}


def test_each_logged_problem_is_in_its_record(
    estate: tuple[Path, EstateManifest], records: dict[str, list[dict[str, Any]]]
) -> None:
    root, manifest = estate
    transforms = json.loads((root / "ground_truth" / "transforms.json").read_text("utf-8"))
    existing = {
        number_of(r[POLICY_ID_COLUMN[name]])
        for name in ("policy_master", "agency_policies", "life", "acquired_policy")
        for r in records[name]
    }
    checked = Counter()
    for p in load_problems(root):
        src, kind, fld = p["source"], p["kind"], p["field"]
        rec = records[src][p["record_index"]]
        id_col = POLICY_ID_COLUMN.get(src)
        if id_col:
            assert rec[id_col] == p["policy_id"], p
        value = rec[fld] if fld in rec else None
        if kind == "missing_mandatory":
            assert value in (None, ""), p
        elif kind == "invalid_date":
            assert not _parse_ok(value, transforms[src][fld]), p
        elif kind == "duplicate_id":
            earlier = [r[fld] for r in records[src][: p["record_index"]]]
            assert value in earlier, p
        elif kind in ("orphan_reference", "orphan_coverage"):
            assert number_of(value) not in existing, p  # each system writes its own key format
        elif kind == "inconsistent_code" and "[]" in fld:  # a code inside a repeated group
            group, leaf = fld.split("[].")
            used = rec[group][: rec.get("COV_CNT", len(rec[group]))]
            table = transforms[src][fld]["table"]
            assert any(e[leaf] not in table and e[leaf] for e in used), p
        elif kind == "inconsistent_code":
            table = transforms[src].get(fld, {}).get("table")
            assert value not in (table or {}) and value not in {"", None}, p
            if table is None:
                assert value == "XX", p  # acquired party state code
        elif kind == "out_of_range_premium":
            premium = float(value)
            assert premium <= 0 or premium >= 999_999, p
        else:
            raise AssertionError(f"unknown kind {kind}")
        checked[kind] += 1
    assert set(checked) == set(manifest.problems)


def test_clean_records_have_valid_dates_and_codes(
    estate: tuple[Path, EstateManifest], records: dict[str, list[dict[str, Any]]]
) -> None:
    root, _ = estate
    transforms = json.loads((root / "ground_truth" / "transforms.json").read_text("utf-8"))
    flagged = {(p["source"], p["record_index"], p["field"]) for p in load_problems(root)}
    for src, rows in records.items():
        for column, transform in transforms[src].items():
            for i, rec in enumerate(rows):
                if column not in rec or (src, i, column) in flagged:
                    continue
                value = rec[column]
                if value in (None, ""):
                    continue  # optional fields (company birth dates, unused coverage slots)
                if transform["kind"] == "date":
                    assert _parse_ok(value, transform), (src, i, column, value)
                elif transform["kind"] == "code":
                    assert value in transform["table"], (src, i, column, value)
