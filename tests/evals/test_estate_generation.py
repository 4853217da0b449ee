"""Determinism, manifest counts against the files, and the public API's edges."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from estate_readers import read_source, small_chunk_estate

from core.errors import InputError
from evals.estate import EstateManifest, generate_estate, load_manifest
from evals.estate.keys import number_of


def digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_and_size_give_byte_identical_files(tmp_path: Path) -> None:
    first = digests_of(tmp_path / "a", seed=3)
    second = digests_of(tmp_path / "b", seed=3)
    assert len(first) >= 14
    assert first == second


def test_another_seed_gives_other_data(tmp_path: Path) -> None:
    first = digests_of(tmp_path / "a", seed=3)
    other = digests_of(tmp_path / "b", seed=4)
    changed = {name for name in first if first[name] != other.get(name)}
    assert "policy_master/POLMAST.dat" in changed
    assert "billing/billing.csv" in changed
    assert "policy_master/POLMAST.cpy" not in changed


def digests_of(root: Path, seed: int) -> dict[str, str]:
    small_chunk_estate(root, 900, seed)
    return digests(root)


def test_manifest_written_and_reloadable(estate: tuple[Path, EstateManifest]) -> None:
    root, manifest = estate
    assert load_manifest(root) == manifest
    assert len(manifest.systems) == 8
    assert sum(manifest.policies_by_system.values()) == manifest.policies
    names = [s.name for s in manifest.sources]
    assert len(names) == len(set(names))
    for system in manifest.systems:
        for file in system.files:
            assert (root / file).is_file(), file


def test_record_counts_equal_what_the_files_hold(
    estate: tuple[Path, EstateManifest], source_configs: list[dict]
) -> None:
    root, manifest = estate
    assert [s["name"] for s in source_configs] == [s.name for s in manifest.sources]
    for config in source_configs:
        records = read_source(root, config)
        assert len(records) == manifest.source(config["name"]).records, config["name"]
        assert records, config["name"]


def test_policy_level_systems_partition_the_policies(
    estate: tuple[Path, EstateManifest], source_configs: list[dict]
) -> None:
    root, manifest = estate
    id_column = {
        "policy_master": "POL_NBR",
        "agency_policies": "Policy Number",
        "life": "CONTRNO",
        "acquired_policy": "policy_number",
    }
    seen: dict[str, set[str]] = {}
    by_name = {c["name"]: c for c in source_configs}
    for name, column in id_column.items():
        seen[name] = {r[column] for r in read_source(root, by_name[name])}
    all_ids = set().union(*seen.values())
    assert sum(len(ids) for ids in seen.values()) == len(all_ids) == manifest.policies
    # The acquired company numbers its policies its own way; every key reads back to its number.
    assert all(k.startswith("AQ-") for k in seen["acquired_policy"])
    assert {number_of(k) for k in all_ids} == set(range(1, manifest.policies + 1))


def test_non_ascii_names_survive_in_latin1_billing(
    estate: tuple[Path, EstateManifest], source_configs: list[dict]
) -> None:
    root, _ = estate
    billing = next(c for c in source_configs if c["name"] == "billing")
    raw = (root / billing["path"]).read_bytes()
    assert "ü".encode("latin-1") in raw or "é".encode("latin-1") in raw
    names = {r["PayorName"] for r in read_source(root, billing)}
    assert any(not n.isascii() for n in names)


def test_progress_is_reported(tmp_path: Path) -> None:
    calls: list[tuple[str, int, int]] = []
    generate_estate(tmp_path, policies=50, seed=1, progress=lambda *a: calls.append(a))
    assert calls[0] == ("generate", 50, 50)
    assert calls[-1][0] == "finalize"
    assert json.loads((tmp_path / "estate.json").read_text())["policies"] == 50


def test_non_positive_size_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="policies"):
        generate_estate(tmp_path, policies=0)


def test_without_the_policy_truth_the_same_files_but_the_truth(tmp_path: Path) -> None:
    """The demo generates without the policies' truth: every other file is the same, and a
    cached estate without it is generated again for a caller that needs it (the evals)."""
    from core.settings import Settings
    from evals.demo import estate_step

    generate_estate(tmp_path / "a", policies=150, seed=3)
    lean_manifest = generate_estate(tmp_path / "b", policies=150, seed=3, policy_truth=False)
    full, lean = digests(tmp_path / "a"), digests(tmp_path / "b")
    truth_files = {"ground_truth/policies.jsonl", "ground_truth/policies_summary.json"}
    assert truth_files <= set(full) and not truth_files & set(lean)
    assert {k: v for k, v in full.items() if k not in truth_files and k != "estate.json"} == {
        k: v for k, v in lean.items() if k != "estate.json"
    }
    assert "policies" not in lean_manifest.ground_truth

    settings = Settings(home=tmp_path / "ws")
    out, manifest = estate_step(settings, policies=150, seed=3, policy_truth=False)
    assert not (out / "ground_truth" / "policies.jsonl").exists()
    out, manifest = estate_step(settings, policies=150, seed=3)
    assert (out / manifest.ground_truth["policies"]).stat().st_size > 0
