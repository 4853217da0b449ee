"""Ingest: staged, profiled, audited, idempotent; bad input leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from core.errors import InputError
from core.settings import Settings
from core.store import open_store
from core.store.models import SourceRow
from tools.audit import AuditLog
from tools.content import indexing
from tools.content.ingest import delete_source, ingest_entry, ingest_file
from tools.content.profiling import load_profile
from tools.content.sources import SourceRegistry
from tools.content.staging import staged_batches, staged_slice

CSV = (
    "PolicyNo;Premium;EffDate\nP001;100,50;01.02.2024\nP002;200,00;31.02.2024\n"
    "P002;7,25;03.03.2024\n" + "".join(f"P{i:03d};1,00;01.01.2024\n" for i in range(3, 21))
)
CSV_OPTIONS = {"delimiter": ";", "decimal": ",", "header": True}


@pytest.fixture
def quiet_settings(workspace: Path) -> Settings:
    return Settings(home=workspace, embedding_provider="none")


@pytest.fixture
def engine(quiet_settings: Settings) -> Engine:
    return open_store(quiet_settings)


def _csv(tmp_path: Path, text: str = CSV) -> Path:
    path = tmp_path / "billing.csv"
    path.write_text(text, encoding="latin-1")
    return path


def _sources(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(SourceRow.__table__)).scalar_one()


def test_ingest_stages_profiles_and_audits(
    tmp_path: Path, engine: Engine, quiet_settings: Settings
) -> None:
    result = ingest_file(
        engine, quiet_settings, _csv(tmp_path), fmt="csv", options=CSV_OPTIONS, system="billing"
    )
    assert result.records == 21 and result.bad_records == 0 and not result.reused
    assert [c.name for c in result.columns] == ["PolicyNo", "Premium", "EffDate"]
    info = SourceRegistry(engine, tenant="default").get(result.source_id)
    rows = staged_slice(info.records_path, offset=1, limit=1).to_pylist()
    assert rows[0]["PolicyNo"] == "P002"
    assert float(rows[0]["Premium"]) == 200.0  # the decimal comma was honoured
    profile = load_profile(info)
    assert profile["records"] == 21 and profile["key_columns"] == ["PolicyNo"]
    kinds = {i["kind"]: i for i in profile["issues"]}
    assert kinds["duplicate_keys"]["sample_keys"] == ["P002"]
    assert kinds["invalid_dates"]["count"] == 1  # 31.02.2024
    entries = list(AuditLog(engine).replay("content"))
    assert [(e.operation, e.status, e.target) for e in entries] == [
        ("ingest", "ok", result.source_id)
    ]


def test_reingest_of_the_same_bytes_is_idempotent(
    tmp_path: Path, engine: Engine, quiet_settings: Settings
) -> None:
    path = _csv(tmp_path)
    first = ingest_file(engine, quiet_settings, path, fmt="csv", options=CSV_OPTIONS)
    second = ingest_file(engine, quiet_settings, path, fmt="csv", options=CSV_OPTIONS)
    assert second.reused and second.source_id == first.source_id
    assert _sources(engine) == 1 and len(list(AuditLog(engine).replay())) == 1
    other = ingest_file(
        engine, quiet_settings, path, fmt="csv", options={**CSV_OPTIONS, "decimal": "."}
    )
    assert other.source_id != first.source_id  # other options, another source


def test_undecodable_rows_are_quarantined_not_dropped(
    tmp_path: Path, engine: Engine, quiet_settings: Settings
) -> None:
    path = _csv(tmp_path, CSV + "P003;1,00\nP004;5,00;01.01.2024\n")
    result = ingest_file(engine, quiet_settings, path, fmt="csv", options=CSV_OPTIONS)
    assert result.records == 22 and result.bad_records == 1
    assert result.errors[0].line == 23
    from tools.content.staging import quarantined

    info = SourceRegistry(engine, tenant="default").get(result.source_id)
    assert quarantined(info.quarantine_path)[0]["line"] == 23


@pytest.mark.parametrize(
    ("content", "fmt", "options", "message"),
    [
        ("", "csv", {}, "is empty"),
        ("a;b\n1;2\n", "nosuchformat", {}, "nosuchformat"),
        ("a;b\n1;2\n", "csv", {"delimiter": ";", "bogus": 1}, "bogus"),
    ],
)
def test_bad_input_writes_nothing(
    tmp_path: Path,
    engine: Engine,
    quiet_settings: Settings,
    content: str,
    fmt: str,
    options: dict,
    message: str,
) -> None:
    path = tmp_path / "f.csv"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        ingest_file(engine, quiet_settings, path, fmt=fmt, options=options)
    assert _sources(engine) == 0
    staging = quiet_settings.path("staging")
    assert not staging.exists() or not any(staging.rglob("*.parquet"))


def test_wrong_encoding_is_one_clear_error(
    tmp_path: Path, engine: Engine, quiet_settings: Settings
) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("name;city\nMüller;Köln\n".encode("latin-1"))
    with pytest.raises(InputError, match="latin-1|encoding"):
        ingest_file(
            engine, quiet_settings, path, fmt="csv", options={"delimiter": ";", "encoding": "utf-8"}
        )
    assert _sources(engine) == 0


def test_failure_midway_leaves_no_partial_source(
    tmp_path: Path, engine: Engine, quiet_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tools.content.readers.delimited import CsvReader

    original = CsvReader.batches

    def breaking(self, batch_rows=50_000):  # type: ignore[no-untyped-def]
        for i, batch in enumerate(original(self, 2)):
            if i == 1:
                raise OSError("disk went away")
            yield batch

    monkeypatch.setattr(CsvReader, "batches", breaking)
    with pytest.raises(OSError, match="disk went away"):
        ingest_file(engine, quiet_settings, _csv(tmp_path), fmt="csv", options=CSV_OPTIONS)
    assert _sources(engine) == 0
    assert not any(p.is_file() for p in quiet_settings.path("staging").rglob("*"))
    [entry] = list(AuditLog(engine).replay())
    assert entry.status == "failed" and "disk went away" in (entry.error or "")


def test_delete_source_compensates_an_ingest(
    tmp_path: Path, engine: Engine, quiet_settings: Settings
) -> None:
    result = ingest_file(engine, quiet_settings, _csv(tmp_path), fmt="csv", options=CSV_OPTIONS)
    info = SourceRegistry(engine, tenant="default").get(result.source_id)
    assert delete_source(engine, quiet_settings, result.source_id, reason="rollback")
    assert not delete_source(engine, quiet_settings, result.source_id)  # idempotent
    assert _sources(engine) == 0 and not Path(info.staging_dir).exists()
    ops = [e.operation for e in AuditLog(engine).replay()]
    assert ops == ["ingest", "delete_source"]


def test_estate_sources_ingest_with_manifest_counts(
    estate_dir: Path, engine: Engine, quiet_settings: Settings
) -> None:
    from evals.estate import load_manifest
    from tools.content.source_config import load_source_config

    manifest = load_manifest(estate_dir)
    for entry in load_source_config(estate_dir / "sources.yaml").sources:
        result = ingest_entry(
            engine,
            quiet_settings,
            entry,
        )
        assert result.records == manifest.source(entry.name).records, entry.name
        info = SourceRegistry(engine, tenant="default").get(result.source_id)
        assert sum(b.num_rows for b in staged_batches(info.records_path)) == result.records


class _RecordingIndex:
    def __init__(self) -> None:
        self.sources: list[str] = []

    def upsert_column_documents(self, tenant: str, docs: list[object]) -> int:
        self.sources.extend({d.source_id for d in docs})  # type: ignore[attr-defined]
        return len(docs)


def test_an_ingest_without_index_embeds_nothing_until_one_with_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sync feed's extract is staged and profiled without starting the embedding model;
    the same file ingested with indexing later is indexed then, once."""
    settings = Settings(home=tmp_path / "ws")
    engine = open_store(settings)
    index = _RecordingIndex()
    monkeypatch.setattr(indexing, "vector_index", lambda _settings: index)
    path = _csv(tmp_path)
    first = ingest_file(engine, settings, path, fmt="csv", options=CSV_OPTIONS, index=False)
    assert first.records == 21 and not first.reused
    assert load_profile(SourceRegistry(engine, tenant="default").get(first.source_id))
    again = ingest_file(engine, settings, path, fmt="csv", options=CSV_OPTIONS, index=False)
    assert again.reused and index.sources == []
    indexed = ingest_file(engine, settings, path, fmt="csv", options=CSV_OPTIONS)
    assert indexed.reused and index.sources == [first.source_id]
    ingest_file(engine, settings, path, fmt="csv", options=CSV_OPTIONS)
    assert index.sources == [first.source_id]
