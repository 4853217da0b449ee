"""Codes inside repeated groups get a crosswalk like any coded column: the mainframe policy
master's coverage type sits in ``COVERAGES[]`` (OCCURS DEPENDING ON). Every distinct value is
listed with the records holding it, the estate's injected unknown code is reported with its
count, and the assembly run quarantines exactly the policies whose coverages hold it, naming
the value and the field."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from assembly_estates import IngestedEstate, ingest_estate

from evals.assembly_truth import install_reviewed_mappings
from evals.estate.systems.policy_master import UNKNOWN_COVERAGE_CODE, UNKNOWN_COVERAGE_FIELD
from tools.assembly.crosswalks import element_values
from tools.assembly.output import QUARANTINE, side_table
from tools.assembly.run import run_assembly
from tools.assembly.spec import approve_assembly, propose_assembly

UNKNOWN = UNKNOWN_COVERAGE_CODE.decode()


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> IngestedEstate:
    estate = ingest_estate(tmp_path_factory.mktemp("groups"), policies=2000, seed=7)
    install_reviewed_mappings(estate.engine, estate.root, tenant="default")
    return estate


def _injected(root: Path) -> set[str]:
    lines = (root / "ground_truth" / "problems.jsonl").read_text("utf-8").splitlines()
    return {
        p["policy_id"]
        for p in map(json.loads, lines)
        if p["kind"] == "inconsistent_code" and p["field"] == UNKNOWN_COVERAGE_FIELD
    }


def test_group_codes_are_crosswalked_and_unknown_ones_quarantine_their_policies(
    estate: IngestedEstate,
) -> None:
    injected = _injected(estate.root)
    assert injected  # the estate puts unknown codes inside the repeated group
    draft = propose_assembly(
        estate.engine, estate.settings, estate.ids["policy_master"], None, tenant="default"
    )
    (cov,) = [x for x in draft.crosswalks if x.column == UNKNOWN_COVERAGE_FIELD]
    assert cov.field == "coverage_sections[].coverage_type"
    unknown = {v.value: v.count for v in cov.values if v.canonical is None}
    assert unknown == {UNKNOWN: len(injected)} and cov.unmapped_rows == len(injected)
    known = {v.value: v.canonical for v in cov.values if v.canonical is not None}
    assert {"LIA", "PRP", "CMP", "MED"} <= set(known) <= set(known) | {UNKNOWN}
    assert set(known.values()) <= set(cov.allowed)

    spec = approve_assembly(estate.engine, draft.assembly_id, tenant="default")
    run = run_assembly(estate.engine, estate.settings, spec.assembly_id, tenant="default")
    quarantine = side_table(estate.settings, "default", spec.assembly_id, QUARANTINE)
    assert quarantine is not None
    rows = quarantine.to_pylist()
    held = {r["policy_id"] for r in rows if r["path"].startswith("coverage_sections[")}
    assert held == injected  # exactly the policies holding the unknown code
    messages = [r["message"] for r in rows if r["path"].startswith("coverage_sections[")]
    assert all(UNKNOWN in m for m in messages)  # the value is named
    reason = next(r for r in run.quarantined_reasons if r.path.startswith("coverage_sections["))
    assert reason.records == len(injected) and UNKNOWN in reason.message


def test_nested_groups_at_any_depth(tmp_path: Path) -> None:
    """``A[].B[].C``: the values of every element of every inner group of a record."""
    table = pa.table(
        {
            "A": [
                [{"B": [{"C": {"D": "x"}}, {"C": {"D": "y"}}]}, {"B": [{"C": {"D": "x"}}]}],
                [{"B": []}],
            ]
        }
    )
    con = duckdb.connect()
    con.register("t", table)
    got = con.execute(f"SELECT {element_values('A[].B[].C.D')} FROM t").fetchall()
    assert [row[0] for row in got] == [["x", "y", "x"], []]
