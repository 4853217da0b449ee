"""Exports: formats, manifest checksums, overwrite refusal, nothing half-written on failure."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from sqlalchemy import Engine

import tools.canonical.export as export_module
from core.errors import InputError
from core.settings import Settings
from tests.tools.canonical.helpers import BASE_RULES, MakeSource, policy_table
from tools.canonical import approve_mapping, create_mapping, export_mapping, map_to_canonical


@pytest.fixture
def mapped(engine: Engine, settings: Settings, make_source: MakeSource) -> str:
    info = create_mapping(engine, make_source(policy_table(120, bad_every=10)), BASE_RULES)
    approve_mapping(engine, info.mapping_id)
    map_to_canonical(engine, settings, info.mapping_id)
    return info.mapping_id


def test_all_formats_with_manifest(
    engine: Engine, settings: Settings, mapped: str, tmp_path: Path
) -> None:
    out = tmp_path / "export"
    result = export_mapping(engine, settings, mapped, out)
    assert [f.format for f in result.files] == ["json", "yaml", "sql", "jsonl", "parquet"]
    manifest = json.loads(Path(result.manifest).read_text())
    assert (manifest["mapping_id"], manifest["version"]) == (mapped, 1)
    assert manifest["counts"]["records"] == 108
    for entry in manifest["files"]:
        data = Path(entry["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert len(data) == entry["bytes"]
    spec = json.loads((out / f"{mapped}.v1.mapping.json").read_text())
    assert spec["rules"][0]["source"] == "POL_NO"
    assert yaml.safe_load((out / f"{mapped}.v1.mapping.yaml").read_text()) == spec
    lines = (out / f"{mapped}.v1.canonical.jsonl").read_text().splitlines()
    assert len(lines) == 108
    first = json.loads(lines[0])
    assert first["policy_core"]["effective_date"] == "2020-01-01"
    assert first["rating_components"]["premium_amount"] == "100.00"
    assert pq.read_metadata(out / f"{mapped}.v1.canonical.parquet").num_rows == 108
    database = sqlite3.connect(":memory:")
    database.executescript((out / f"{mapped}.v1.canonical.sql").read_text())
    assert database.execute("SELECT count(*) FROM canonical_policy").fetchone() == (108,)
    assert database.execute(
        "SELECT count(*), min(coverage_type) FROM canonical_policy_coverage_sections"
    ).fetchone() == (108, "auto")
    assert not list(out.glob(".*.tmp"))


def test_existing_file_is_refused_unless_overwrite(
    engine: Engine, settings: Settings, mapped: str, tmp_path: Path
) -> None:
    out = tmp_path / "export"
    export_mapping(engine, settings, mapped, out, formats=["json"])
    target = out / f"{mapped}.v1.mapping.json"
    target.write_text("mine")
    with pytest.raises(InputError, match=f"{target}.*already exists"):
        export_mapping(engine, settings, mapped, out, formats=["json", "yaml"])
    assert target.read_text() == "mine"
    assert not (out / f"{mapped}.v1.mapping.yaml").exists()
    export_mapping(engine, settings, mapped, out, formats=["json"], overwrite=True)
    assert json.loads(target.read_text())["mapping_id"] == mapped


def test_failure_leaves_nothing_half_written(
    engine: Engine, settings: Settings, mapped: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object, **_kwargs: object) -> int:
        raise OSError("disk full")

    monkeypatch.setattr(export_module, "_write_parquet", broken)
    out = tmp_path / "export"
    with pytest.raises(OSError, match="disk full"):
        export_mapping(engine, settings, mapped, out)
    assert list(out.iterdir()) == []


def test_unmapped_version_and_bad_format(
    engine: Engine, settings: Settings, make_source: MakeSource, tmp_path: Path
) -> None:
    info = create_mapping(engine, make_source(policy_table(5)), BASE_RULES)
    with pytest.raises(InputError, match="no canonical records yet"):
        export_mapping(engine, settings, info.mapping_id, tmp_path, formats=["jsonl"])
    with pytest.raises(InputError, match="unknown export format"):
        export_mapping(engine, settings, info.mapping_id, tmp_path, formats=["xml"])
    result = export_mapping(engine, settings, info.mapping_id, tmp_path, formats=["yaml"])
    assert result.version == 1 and len(result.files) == 1
