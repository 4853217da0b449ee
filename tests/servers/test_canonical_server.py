"""The canonical MCP server through a real client session, on a staged estate source."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest

from core.settings import Settings
from servers.canonical import build_server
from tests.servers.clients import memory_session
from tests.servers.estate_sources import stage_estate_sources


@pytest.fixture
def staged(workspace: Path, tmp_path: Path) -> tuple[Settings, str]:
    settings, _, ids = stage_estate_sources(tmp_path, workspace, ["acquired_policy"], policies=300)
    return settings, ids["acquired_policy"]


def test_model_tools_and_resources(workspace: Path) -> None:
    async def run() -> None:
        async with memory_session(build_server(Settings(home=workspace))) as session:
            tools = {t.name: t for t in (await session.list_tools()).tools}
            assert set(tools) == {
                "list_models",
                "get_model_schema",
                "suggest_mapping",
                "update_field_mapping",
                "approve_mapping",
                "validate_records",
                "map_to_canonical",
                "export_mapping",
                "assess_mapping_change",
                "discover_relationships",
                "confirm_relationships",
                "propose_assembly",
                "edit_assembly",
                "approve_assembly",
                "run_assembly",
                "get_policy",
                "list_conflicts",
            }
            assert tools["get_model_schema"].annotations.readOnlyHint
            models = (await session.call_tool("list_models", {})).structuredContent["models"]
            assert {m["version"] for m in models} >= {"policy_v1", "policy_v2"}
            schema = await session.read_resource("canonical://policy/v1")
            assert json.loads(schema.contents[0].text)["$id"] == "canonical://policy/v1"

    anyio.run(run)


def test_suggest_edit_approve_run(staged: tuple[Settings, str]) -> None:
    settings, source_id = staged

    async def run() -> None:
        async with memory_session(build_server(settings)) as session:
            proposal = await session.call_tool("suggest_mapping", {"source_id": source_id})
            assert not proposal.isError, proposal.content
            mapping_id = proposal.structuredContent["mapping_id"]
            targets = {m["source"]: m["target"] for m in proposal.structuredContent["mappings"]}
            assert targets["policy_number"] == "policy_core.policy_id"
            bad = await session.call_tool(
                "update_field_mapping",
                {
                    "mapping_id": mapping_id,
                    "target": "policy_core.no_such_field",
                    "source": "policy_number",
                },
            )
            assert bad.isError and "policy_core.no_such_field" in bad.content[0].text
            # Approve what the matcher is sure of; lower-confidence guesses stay unmapped.
            threshold = proposal.structuredContent["threshold"]
            approved = await session.call_tool(
                "approve_mapping", {"mapping_id": mapping_id, "min_confidence": threshold}
            )
            assert not approved.isError, approved.content
            assert approved.structuredContent["status"] == "approved"
            progress: list[float] = []

            async def on_progress(done: float, total: float | None, _msg: str | None) -> None:
                progress.append(done)

            result = await session.call_tool(
                "map_to_canonical", {"mapping_id": mapping_id}, progress_callback=on_progress
            )
            assert not result.isError, result.content
            assert progress
            # Records fail only where the estate injected problems (bad dates, premiums...).
            invalid, records = (
                result.structuredContent["invalid"],
                result.structuredContent["records"],
            )
            assert 0 < invalid < 0.1 * records
            spec = await session.read_resource(f"mapping://default/{mapping_id}")
            assert json.loads(spec.contents[0].text)["status"] == "approved"

    anyio.run(run)


def test_whole_policy_tools(workspace: Path, tmp_path: Path) -> None:
    settings, _, ids = stage_estate_sources(
        tmp_path, workspace, ("acquired_policy", "acquired_coverage")
    )

    async def run() -> None:
        async with memory_session(build_server(settings)) as session:
            found = await session.call_tool(
                "discover_relationships", {"source_ids": list(ids.values())}
            )
            (rel,) = found.structuredContent["relationships"]
            assert (rel["parent"], rel["child"]) == (
                ids["acquired_policy"],
                ids["acquired_coverage"],
            )
            assert rel["orphans"] > 0 and rel["key_transform"] is None
            alone = await session.call_tool("discover_relationships", {"source_ids": ["src_x"]})
            assert alone.isError
            bad_rule = {"field": "payments.outstanding_balance", "sources": ["ledger"]}
            refused = await session.call_tool(
                "propose_assembly", {"root": ids["acquired_policy"], "survivorship": [bad_rule]}
            )
            assert refused.isError and "survivorship[0]" in refused.content[0].text
            assert "source 'ledger' is not in this assembly" in refused.content[0].text
            rule = {
                "field": "policy_core.status",
                "rule": "first_non_null",
                "sources": ["acquired_coverage", "acquired_policy"],
            }
            ruled = await session.call_tool(
                "propose_assembly", {"root": ids["acquired_policy"], "survivorship": [rule]}
            )
            assert not ruled.isError, ruled.content
            first = ruled.structuredContent["survivorship"][0]
            assert (first["field"], first["rule"], first["sources"]) == (
                "policy_core.status",
                "first_non_null",
                ["acquired_coverage", "acquired_policy"],
            )
            spec = await session.call_tool("propose_assembly", {"root": ids["acquired_policy"]})
            content = spec.structuredContent
            assert [c["source_name"] for c in content["components"]] == ["acquired_coverage"]
            refused = await session.call_tool(
                "approve_assembly", {"assembly_id": content["assembly_id"]}
            )
            assert refused.isError and "is not approved" in refused.content[0].text
            mapping = await session.call_tool(
                "approve_mapping", {"mapping_id": content["root_mapping_id"]}
            )
            assert not mapping.isError, mapping.content
            xw = next(x for x in content["crosswalks"] if x["source_name"] == "acquired_coverage")
            edit = {"source": "acquired_coverage", "column": xw["column"]}
            edit |= {"value": xw["values"][0]["value"], "canonical": "spaceship"}
            refused = await session.call_tool(
                "approve_assembly",
                {"assembly_id": content["assembly_id"], "crosswalk_edits": [edit]},
            )
            assert refused.isError and "'spaceship' is not a value of" in refused.content[0].text
            assert "crosswalk_edits[0]" in refused.content[0].text
            approved = await session.call_tool(
                "approve_assembly", {"assembly_id": content["assembly_id"], "min_confidence": 0.5}
            )
            assert not approved.isError, approved.content
            frozen = approved.structuredContent
            assert (frozen["status"], frozen["min_confidence"]) == ("approved", 0.5)
            assert [c["source_name"] for c in frozen["components"]] == ["acquired_coverage"]
            again = await session.call_tool(
                "approve_assembly", {"assembly_id": content["assembly_id"]}
            )
            assert again.structuredContent == frozen  # idempotent: frozen once approved
            unknown = await session.call_tool("approve_assembly", {"assembly_id": "asm-nosuch"})
            assert unknown.isError and "asm-nosuch" in unknown.content[0].text

    anyio.run(run)


def test_assembly_run_tools(workspace: Path, tmp_path: Path) -> None:
    from tools.assembly.spec import approve_assembly, propose_assembly
    from tools.canonical.repository import approve_mapping

    settings, engine, ids = stage_estate_sources(
        tmp_path, workspace, ("agency_policies", "agency_agents", "endorsements", "policy_master")
    )
    draft = propose_assembly(engine, settings, ids["agency_policies"], None, tenant="default")
    approve_mapping(engine, draft.root_mapping_id, tenant="default")

    async def run() -> None:
        async with memory_session(build_server(settings)) as session:
            early = await session.call_tool("run_assembly", {"assembly_id": draft.assembly_id})
            assert early.isError and "is not approved" in early.content[0].text
            approve_assembly(engine, draft.assembly_id, tenant="default")
            progress: list[float] = []

            async def on_progress(done: float, total: float | None, _msg: str | None) -> None:
                progress.append(done)

            result = await session.call_tool(
                "run_assembly",
                {"assembly_id": draft.assembly_id, "batch_policies": 25},
                progress_callback=on_progress,
            )
            assert not result.isError, result.content
            counts = result.structuredContent
            assert (
                counts["policies"] == counts["complete"] + counts["partial"] + counts["quarantined"]
            )
            assert len(progress) == counts["batches"] > 1 and progress[-1] == counts["policies"]
            sources = {c["source"] for c in counts["components"]}
            assert sources == {"agency_policies", "agency_agents", "endorsements"}
            listed = await session.call_tool(
                "list_conflicts", {"assembly_id": draft.assembly_id, "limit": 5}
            )
            assert not listed.isError, listed.content
            assert listed.structuredContent["duplicates_total"] == counts["duplicates"]
            assert len(listed.structuredContent["conflicts"]) <= 5
            some = listed.structuredContent["duplicates"][0]["policy_id"]
            policy = await session.call_tool("get_policy", {"policy_id": some})
            assert not policy.isError, policy.content
            doc = policy.structuredContent
            assert doc["policy"]["policy_core"]["policy_id"] == some
            assert doc["assembly_id"] == draft.assembly_id
            assert {p["source"] for p in doc["provenance"]} >= {"agency_policies"}
            missing = await session.call_tool("get_policy", {"policy_id": "P999999999"})
            assert missing.isError and "P999999999" in missing.content[0].text
            bad = await session.call_tool("list_conflicts", {"assembly_id": "asm-nosuch"})
            assert bad.isError and "asm-nosuch" in bad.content[0].text

    anyio.run(run)
