"""Values wider than the store's columns: a clear error on SQLite and PostgreSQL alike.

SQLite stores any length; PostgreSQL refused with a raw ``DataError [SQL: INSERT ...]``. Doors
check what they take (tenant, source name), and the PostgreSQL engine turns any remaining
too-long value into one InputError.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, insert

from core.errors import InputError
from core.settings import Settings
from core.store.models import PolicyLocation, table_of, utcnow
from tools.content.ingest import ingest_file


def _csv(tmp_path: Path) -> Path:
    path = tmp_path / "p.csv"
    path.write_text("policy_id,premium\nP1,1\n")
    return path


def test_a_tenant_over_64_characters_is_refused(
    tmp_path: Path, store: Engine, store_settings: Settings
) -> None:
    quiet = store_settings.model_copy(update={"embedding_provider": "none"})
    with pytest.raises(InputError, match="is not a tenant id"):
        ingest_file(store, quiet, _csv(tmp_path), fmt="csv", tenant="t" * 65)


@pytest.mark.parametrize(("field", "width"), [("name", 257), ("system", 129)])
def test_a_source_name_over_its_width_is_refused(
    tmp_path: Path, store: Engine, store_settings: Settings, field: str, width: int
) -> None:
    quiet = store_settings.model_copy(update={"embedding_provider": "none"})
    with pytest.raises(InputError, match=f"source {field} is {width} characters"):
        ingest_file(store, quiet, _csv(tmp_path), fmt="csv", **{field: "n" * width})
    ok = ingest_file(store, quiet, _csv(tmp_path), fmt="csv", name="n" * 256, system="s" * 128)
    assert ok.records == 1


@pytest.mark.postgres
def test_postgres_too_long_value_is_an_input_error(pg_url: str, workspace: Path) -> None:
    from core.store import open_store

    engine = open_store(Settings(home=workspace, db_url=pg_url))
    with pytest.raises(InputError, match="too long for the store"), engine.begin() as conn:
        conn.execute(
            insert(table_of(PolicyLocation)).values(
                tenant="default", policy_id="P1", system="s" * 65, updated_at=utcnow()
            )
        )
    engine.dispose()
