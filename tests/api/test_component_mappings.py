"""The mappings an approved assembly runs with read as approved on the dashboard and the API:
approving the assembly approves each component mapping version it freezes (audited, naming the
assembly), so the overview no longer shows them "draft 0/N confirmed" while a wave uses them."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from api.auth import LOOPBACK, Caller, Role
from api.main import create_app
from core.settings import Settings
from core.store import open_store
from core.store.models import AuditEntry
from tests.api.estate import generate_sample_estate
from tools.assembly.spec import approve_assembly, get_assembly, propose_assembly
from tools.canonical.repository import approve_mapping, get_mapping


def _row(page: str, mapping_id: str) -> str:
    found = re.search(rf'<tr class="mapping" data-mapping="{mapping_id}">.*?</tr>', page, re.S)
    assert found is not None
    return found.group(0)


def test_approving_an_assembly_approves_the_component_mappings_it_runs_with(
    tmp_path: Path,
) -> None:
    from evals.demo import sources_step

    settings = Settings(home=tmp_path / "ws", embedding_provider="none")
    engine = open_store(settings)
    estate = generate_sample_estate(tmp_path / "e", policies=60, seed=7)
    staged = sources_step(engine, settings, estate)
    root = next(r["source_id"] for r in staged["sources"] if r["name"] == "agency_policies")
    spec = propose_assembly(engine, settings, root, None, tenant="default")
    approve_mapping(engine, spec.root_mapping_id, tenant="default")
    billing = next(c for c in spec.components if c.source_name == "billing")
    fields = len(get_mapping(engine, billing.mapping_id, tenant="default").rules)
    caller = Caller(tenant="default", role=Role.VIEWER, token_id=LOOPBACK)
    with TestClient(create_app(settings, open_as=caller)) as client:
        before = _row(client.get("/").text, billing.mapping_id)
        assert "<td>draft</td>" in before and f"0/{fields} confirmed" in before
        approve_assembly(engine, spec.assembly_id, tenant="default")
        after = _row(client.get("/").text, billing.mapping_id)
        listed = client.get("/api/v1/mappings", params={"source_id": billing.source}).json()
        editor = client.get(f"/mappings/{billing.mapping_id}").text
    mapped = sum(r.mapped for r in get_mapping(engine, billing.mapping_id, tenant="default").rules)
    assert "<td>approved</td>" in after and f"{mapped}/{fields} confirmed" in after
    assert [(m["status"], m["approved_version"]) for m in listed["mappings"]] == [
        ("approved", billing.mapping_version)
    ]
    assert f"v{billing.mapping_version} · approved" in editor
    approved = get_assembly(engine, spec.assembly_id, tenant="default")
    assert {c.mapping_status for c in approved.components} == {"approved"}
    with engine.connect() as conn:
        payloads = conn.execute(
            select(AuditEntry.payload).where(  # type: ignore[call-overload]
                AuditEntry.operation == "approve_mapping", AuditEntry.target == billing.mapping_id
            )
        ).scalars()
        assert [p.get("component_of") for p in payloads] == [spec.assembly_id]
    engine.dispose()
