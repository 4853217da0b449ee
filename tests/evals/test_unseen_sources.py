"""The unseen-source generator: five naming conventions, root and child files, ground truth
that names every column the readers produce."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.matching_estate import estate_sources, read_source_columns
from evals.unseen import SYSTEMS, generate_unseen
from tools.canonical.matching.generic import flatten_columns


@pytest.fixture(scope="module")
def unseen(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_unseen(tmp_path_factory.mktemp("unseen") / "u", seed=5, policies=40)


def test_every_source_reads_back_with_exactly_the_ground_truth_columns(unseen: Path) -> None:
    truth = json.loads((unseen / "ground_truth" / "mapping.json").read_text("utf-8"))
    sources = estate_sources(unseen)
    assert {s["system"] for s in sources} == set(SYSTEMS)
    assert {s["role"] for s in sources} == {"root", "child"}
    for entry in sources:
        columns = flatten_columns(read_source_columns(unseen, entry))
        assert set(columns) == set(truth[entry["name"]]), entry["name"]
        assert all(len(v) > 0 for v in columns.values()), entry["name"]


def test_conventions_differ_from_each_other_and_nest(unseen: Path) -> None:
    truth = json.loads((unseen / "ground_truth" / "mapping.json").read_text("utf-8"))
    upper = list(truth["upper_root"])
    assert all(c == c.upper() for c in upper)
    assert all(c == c.lower() for c in truth["lower_root"])
    camel = truth["camel_policies"]
    assert any("[]." in c and c[0].islower() for c in camel)
    assert any(c.count(".") >= 2 for c in camel)  # holder.address.city
    assert any(c[0].isupper() and "[]." in c for c in truth["pascal_contracts"])
    assert any(any(ch in c for ch in "éèûàô") for c in truth["french_root"])
    # child files carry the policy key and list fields; roots carry no coverage line
    assert "policy_core.policy_id" in truth["upper_coverage"].values()
    assert not any(str(t).startswith("coverage_sections") for t in truth["upper_root"].values())


def test_the_seed_decides_names_and_values(tmp_path: Path) -> None:
    a = generate_unseen(tmp_path / "a", seed=1, policies=5)
    b = generate_unseen(tmp_path / "b", seed=1, policies=5)
    c = generate_unseen(tmp_path / "c", seed=2, policies=5)
    read = lambda p: (p / "ground_truth" / "mapping.json").read_text("utf-8")  # noqa: E731
    assert read(a) == read(b)
    assert read(a) != read(c)
    assert (a / "upper").exists() and sorted(x.name for x in (a / "upper").iterdir()) == sorted(
        x.name for x in (b / "upper").iterdir()
    )
