"""The ground-truth mapping covers every column of every source with canonical v1 paths."""

from __future__ import annotations

import json
from pathlib import Path

from estate_readers import copybook_columns, source_columns

from evals.estate import EstateManifest
from knowledge.canonical import fields

# The real v1 catalogue, not a copy: the ground truth must name fields the model has.
CANONICAL_V1 = {f.path for f in fields("policy_v1")}


def test_mapping_covers_exactly_the_columns_of_every_source(
    estate: tuple[Path, EstateManifest], source_configs: list[dict]
) -> None:
    root, _ = estate
    mapping = json.loads((root / "ground_truth" / "mapping.json").read_text("utf-8"))
    assert set(mapping) == {c["name"] for c in source_configs}
    for config in source_configs:
        columns = source_columns(root, config)
        assert columns == set(mapping[config["name"]]), config["name"]


def test_targets_are_canonical_v1_paths(estate: tuple[Path, EstateManifest]) -> None:
    root, _ = estate
    mapping = json.loads((root / "ground_truth" / "mapping.json").read_text("utf-8"))
    targets = {t for cols in mapping.values() for t in cols.values()}
    assert targets - {None} <= CANONICAL_V1
    assert len(targets - {None}) >= 40  # the estate exercises most of the model
    for name in (
        "policy_master",
        "billing",
        "claims_links",
        "agency_policies",
        "life",
        "correspondence",
        "acquired_policy",
        "acquired_coverage",
        "endorsements",
    ):
        assert "policy_core.policy_id" in mapping[name].values(), name
    assert None in targets  # internal/audit columns stay unmapped


def test_transforms_and_problem_fields_name_real_columns(
    estate: tuple[Path, EstateManifest],
) -> None:
    root, _ = estate
    mapping = json.loads((root / "ground_truth" / "mapping.json").read_text("utf-8"))
    transforms = json.loads((root / "ground_truth" / "transforms.json").read_text("utf-8"))
    for source, columns in transforms.items():
        assert set(columns) <= set(mapping[source]), source
        for spec in columns.values():
            assert spec["kind"] in {"date", "decimal", "code", "format"}
    with (root / "ground_truth" / "problems.jsonl").open(encoding="utf-8") as f:
        fields = {(p["source"], p["field"]) for p in map(json.loads, f)}
    for source, field in fields:
        assert field in mapping[source], (source, field)


def test_copybooks_flatten_as_the_column_convention_says(
    estate: tuple[Path, EstateManifest],
) -> None:
    root, _ = estate
    cols = copybook_columns(root / "policy_master" / "POLMAST.cpy")
    assert "INSD_DTL.INSD_CORP.CORP_REG_NBR" in cols  # REDEFINES alternative kept
    assert "COVERAGES[].COV_AGG_LMT" in cols  # OCCURS group as list of structs
    assert not any("FILLER" in c or c.startswith("POLMAST") for c in cols)
    odo = copybook_columns(root / "endorsements" / "ENDORSE.cpy")
    assert "CHG_LINES[].CHG_NEW_VAL" in odo
