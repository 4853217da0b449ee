"""An ingest of a source another host is staging into the same store is refused naming that
holder (pid, host, since) and writes nothing; once the holder's heartbeat expired, the lease is
taken over and the ingest ends well. (Same host: the file lock makes the second one wait.)"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from core.settings import Settings
from core.store.leases import LEASE, LeaseHeld, acquire_lease
from core.store.models import utcnow
from tools.content.ingest import file_sha256, ingest_file, source_id_for
from tools.content.sources import SourceRegistry


def test_an_ingest_held_on_another_host_is_refused_until_its_heartbeat_expires(
    tmp_path: Path, store_settings: Settings, store: Engine
) -> None:
    settings = store_settings.model_copy(update={"embedding_provider": "none"})
    file = tmp_path / "policies.csv"
    file.write_text("policy_id,premium\n" + "".join(f"P{i:04d},{i}.5\n" for i in range(50)))
    source_id = source_id_for("default", file_sha256(file), "csv", {})
    acquire_lease(store, "default", f"ingest:{source_id}", what="ingest of policies.csv", ttl=60)
    with store.begin() as conn:
        conn.execute(LEASE.update().values(host="other-host", pid=4242))

    with pytest.raises(LeaseHeld) as refused:
        ingest_file(store, settings, file, fmt="csv")
    assert "ingest of policies.csv is already running (pid 4242 on other-host, since 20" in (
        refused.value.message
    )
    assert SourceRegistry(store, tenant="default").find(source_id) is None
    staging = settings.path("staging", "default")
    assert not staging.exists() or not any(staging.iterdir())  # nothing half-written

    with store.begin() as conn:  # the other host went silent for longer than the TTL
        conn.execute(LEASE.update().values(heartbeat_at=utcnow() - timedelta(seconds=61)))
    result = ingest_file(store, settings, file, fmt="csv")
    assert result.source_id == source_id and result.records == 50 and not result.reused
    with store.connect() as conn:  # released at the end
        assert conn.execute(select(LEASE)).all() == []
