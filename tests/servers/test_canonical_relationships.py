"""Confirming relationships through the canonical MCP server (a real client session): the
proposals or a person's edited relationships (key transform included) are stored as versions
through the write-ahead audit log, assemblies use them, and a bad edit stores nothing."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from sqlalchemy import func, select

from core.settings import Settings
from core.store import open_store
from core.store.models import AuditEntry, RelationshipSetRow
from servers.canonical import build_server
from tests.servers.clients import memory_session
from tests.servers.estate_sources import stage_estate_sources

SOURCES = ("acquired_policy", "acquired_coverage", "acquired_crosswalk", "billing")


@pytest.fixture
def ingested(workspace: Path, tmp_path: Path) -> tuple[Settings, dict[str, str]]:
    settings, _, ids = stage_estate_sources(tmp_path, workspace, SOURCES)
    return settings, ids


def _stored(settings: Settings) -> tuple[int, list[tuple[str, str | None]]]:
    with open_store(settings).connect() as conn:
        sets = conn.execute(select(func.count()).select_from(RelationshipSetRow)).scalar_one()
        entries = conn.execute(
            select(AuditEntry.operation, AuditEntry.status)  # type: ignore[call-overload]
            .where(AuditEntry.operation == "confirm_relationships")
            .order_by(AuditEntry.id)
        ).all()
    return sets, [tuple(e) for e in entries]


def test_confirm_and_edit_relationships(ingested: tuple[Settings, dict[str, str]]) -> None:
    settings, ids = ingested
    every = list(ids.values())

    async def run() -> None:
        async with memory_session(build_server(settings)) as session:
            tools = {t.name: t for t in (await session.list_tools()).tools}
            assert not tools["confirm_relationships"].annotations.readOnlyHint
            first = await session.call_tool("confirm_relationships", {"source_ids": every})
            assert not first.isError, first.content
            body = first.structuredContent
            assert (body["status"], body["version"]) == ("confirmed", 1)
            pairs = {(r["parent_name"], r["child_name"]) for r in body["relationships"]}
            assert ("acquired_policy", "acquired_coverage") in pairs
            # Billing serves four policy systems: the acquired book alone holds too little of
            # it for discovery to propose the link, so the person states it, via the crosswalk.
            assert not any(child == "billing" for _, child in pairs)
            xw = {
                "source": "acquired_crosswalk",
                "from_key": "GROUP_POLICY_NO",
                "to_key": "LEGACY_POLICY_NO",
            }
            edit = {
                "parent": "acquired_policy",
                "parent_key": "policy_number",
                "child": "billing",
                "child_key": "PolicyNo",
                "key_transform": "crosswalk",
                "crosswalk": xw,
            }
            edited = await session.call_tool(
                "confirm_relationships", {"source_ids": every, "relationships": [edit]}
            )
            assert not edited.isError, edited.content
            (rel,) = edited.structuredContent["relationships"]
            assert edited.structuredContent["version"] == 2
            assert rel["evidence"]["edited"] == "yes"
            assert rel["key_transform"]["kind"] == "crosswalk"
            assert rel["key_transform"]["crosswalk"]["source_name"] == "acquired_crosswalk"
            assert 0.1 < rel["match_rate"] < 0.6 and rel["matched"] > 0

            # Bad edits: keys matching nothing as written, a crosswalk without its transform.
            wrong = {**edit, "key_transform": "identity", "crosswalk": None}
            refused = await session.call_tool(
                "confirm_relationships", {"source_ids": every, "relationships": [wrong]}
            )
            assert refused.isError
            text = refused.content[0].text
            assert "billing.PolicyNo matches no key of acquired_policy.policy_number" in text
            assert "relationships[0]" in text
            half = {**edit, "key_transform": None}
            refused = await session.call_tool(
                "confirm_relationships", {"source_ids": every, "relationships": [half]}
            )
            assert refused.isError and "crosswalk" in refused.content[0].text

            # An assembly proposed now uses the latest confirmed version.
            spec = await session.call_tool("propose_assembly", {"root": ids["acquired_policy"]})
            assert not spec.isError, spec.content
            assert spec.structuredContent["relationships_version"] == 2
            (billing,) = [
                c for c in spec.structuredContent["components"] if c["source_name"] == "billing"
            ]
            assert billing["direction"] == "child"
            assert billing["relationship"]["key_transform"]["kind"] == "crosswalk"

    anyio.run(run)
    sets, entries = _stored(settings)
    assert sets == 2  # the refused edits stored nothing
    assert entries == [("confirm_relationships", "ok")] * 2  # intent and outcome, no failures
