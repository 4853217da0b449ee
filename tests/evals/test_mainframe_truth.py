"""The estate's two mainframe systems decode to their ground truth exactly, record for record.

The generator writes ``ground_truth/expected_<source>.jsonl`` (evals/estate/expected.py): every
record's encoded values. ``CobolReader`` with the options of ``sources.yaml`` must reproduce them
all: text, ints, COMP-3 / zoned / binary numbers (as Decimals with the copybook scale), both
REDEFINES views and the OCCURS DEPENDING ON counts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from evals.estate import EstateManifest
from evals.estate.expected import read_expected
from tools.content.source_config import load_source_config

MAINFRAME = ("policy_master", "endorsements")
BATCH_ROWS = 257  # odd, so reader batches straddle the generator's chunk seams
PERS = "INSD_DTL.INSD_PERS."
CORP = "INSD_DTL.INSD_CORP."


def _plain(value: Any) -> Any:
    """Reader values in ground-truth form; str(Decimal) keeps the scale ("12.30" != "12.3")."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _decoded(root: Path, name: str, options: dict[str, Any] | None = None) -> Iterator[Any]:
    entry = load_source_config(root / "sources.yaml").source(name)
    if options:
        entry = entry.model_copy(update={"options": {**entry.options, **options}})
    for batch in entry.reader().batches(BATCH_ROWS):
        assert batch.bad == [], f"{name}: unexpected bad records {batch.bad[:3]}"
        yield from batch.records.to_pylist()


def _differences(expected: dict[str, Any], got: dict[str, Any], index: int) -> list[str]:
    out = [f"record {index}: column {k} missing" for k in expected if k not in got]
    out += [f"record {index}: unexpected column {k}" for k in got if k not in expected]
    for key, value in expected.items():
        if key in got and _plain(got[key]) != value:
            out.append(f"record {index} {key}: expected {value!r}, got {got[key]!r}")
    return out


def _assert_matches(truth: Iterator[dict[str, Any]], decoded: Iterator[Any], n: int) -> None:
    problems: list[str] = []
    count = 0
    for index, (expected, got) in enumerate(zip(truth, decoded, strict=True)):
        problems += _differences(expected, got, index)
        count += 1
    assert not problems, f"{len(problems)} mismatches:\n" + "\n".join(problems[:10])
    assert count == n


@pytest.mark.parametrize("name", MAINFRAME)
def test_every_mainframe_record_decodes_to_its_ground_truth(
    estate: tuple[Path, EstateManifest], name: str
) -> None:
    root, manifest = estate
    truth = read_expected(root / manifest.ground_truth[f"expected.{name}"])
    _assert_matches(truth, _decoded(root, name), manifest.source(name).records)


def test_decimals_compare_exactly_with_the_copybook_scale(
    estate: tuple[Path, EstateManifest],
) -> None:
    root, manifest = estate
    truth = read_expected(root / manifest.ground_truth["expected.policy_master"])
    negative = 0
    for expected, got in zip(truth, _decoded(root, "policy_master"), strict=True):
        for col in ("PREM_AMT", "BAL_DUE_AMT"):
            assert got[col] == Decimal(expected[col])
            assert got[col].as_tuple().exponent == -2
        negative += got["BAL_DUE_AMT"] < 0
        for exp_cov, got_cov in zip(expected["COVERAGES"], got["COVERAGES"], strict=True):
            assert got_cov["COV_LMT"] == Decimal(exp_cov["COV_LMT"])
            assert got_cov["COV_AGG_LMT"] == 2 * got_cov["COV_LMT"]
    assert negative > 0  # the overpunched negative sign is exercised


def test_truth_exercises_redefines_odo_and_injected_problems(
    estate: tuple[Path, EstateManifest],
) -> None:
    """Guards the exact match above against a vacuous truth: both views, all counts, problems."""
    root, manifest = estate
    master = list(read_expected(root / manifest.ground_truth["expected.policy_master"]))
    endorse = list(read_expected(root / manifest.ground_truth["expected.endorsements"]))
    company = [r for r in master if r["INSD_TYP_CD"] == "C"]
    person = [r for r in master if r["INSD_TYP_CD"] == "P"]
    assert len(company) > 20 and len(person) > 200
    assert all(r[f"{CORP}CORP_REG_NBR"].startswith("CR") and r[f"{CORP}INC_DT"] for r in company)
    assert all(r[f"{PERS}BIRTH_DT"] is None for r in company)  # blank filler bytes
    assert all(r[f"{PERS}BIRTH_DT"] and r[f"{CORP}INC_DT"] is None for r in person)
    assert {r["COV_CNT"] for r in master} == {1, 2, 3}
    assert {r["CHG_CNT"] for r in endorse} == {1, 2, 3, 4, 5}
    assert all(len(r["CHG_LINES"]) == r["CHG_CNT"] for r in endorse)
    with (root / "ground_truth" / "problems.jsonl").open(encoding="utf-8") as f:
        problems = [json.loads(line) for line in f]
    seen = 0
    for p in problems:
        if p["source"] == "policy_master" and p["kind"] == "invalid_date":
            assert master[p["record_index"]]["EFF_DT"] // 100 % 100 == 13
        elif p["source"] == "endorsements" and p["kind"] == "invalid_date":
            assert endorse[p["record_index"]]["ENDT_EFF_DT"] % 100 == 32
        elif p["source"] == "policy_master" and p["kind"] == "missing_mandatory":
            assert master[p["record_index"]]["INSD_NM"] == ""
        else:
            continue
        seen += 1
    assert seen > 10


def test_segment_options_null_the_inactive_redefines_view(
    estate: tuple[Path, EstateManifest],
) -> None:
    root, manifest = estate
    options = {
        "segment_field": "INSD_TYP_CD",
        "redefine_segment_id_map": {"INSD_PERS": ["P"], "INSD_CORP": ["C"]},
    }

    def active_view_only() -> Iterator[dict[str, Any]]:
        for rec in read_expected(root / manifest.ground_truth["expected.policy_master"]):
            inactive = CORP if rec["INSD_TYP_CD"] == "P" else PERS
            yield {k: None if k.startswith(inactive) else v for k, v in rec.items()}

    decoded = _decoded(root, "policy_master", options)
    _assert_matches(active_view_only(), decoded, manifest.source("policy_master").records)
