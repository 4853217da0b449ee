"""Every MCP tool of every built-in server returns a typed contract and carries one of the
shared annotation presets.

A tool whose result is an untyped object (no properties, or a bare ``dict[str, ...]`` at the top)
gives a client, an agent and the REST API nothing to rely on: they end up guessing keys. The walk
also goes into nested values; the free-form ones that remain (audit payloads, records whose keys
are a legacy file's own columns, the saga's per-step outcomes) are listed below with the reason.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.server.fastmcp import FastMCP
from pydantic import BaseModel

import servers
from core.settings import Settings
from servers.common import PRESETS

SERVERS_DIR = Path(servers.__file__).parent

#: Nested values that are free-form on purpose: (tool-independent) path -> why.
FREE_FORM = {
    "AuditRecord.payload": "the audited operation's own arguments, one shape per operation",
    "AuditRecord.outcome": "the audited operation's own result, one shape per operation",
    "StepState.outcome": "each saga milestone reports its own counts (tools/waves)",
    "WaveStatus.validation": "the validate milestone's report as stored by the saga (tools/waves)",
    "WaveStatus.gate_overrides": "gate -> override record, as stored by the saga (tools/waves)",
    "Plan.summary": "planner statistics, stored with the plan (tools/waves)",
    "PlanCriteria.target_config": "a target plugin's own configuration",
    "LineageStep.detail": "each lineage step's own facts (file, rule, batch...)",
}


class Loose(BaseModel):
    """A result with an untyped list inside (what the walk must catch)."""

    items: list[dict[str, Any]]


def server_modules() -> list[str]:
    """Every servers/*.py module that builds a server."""
    names = []
    for info in pkgutil.iter_modules([str(SERVERS_DIR)]):
        module = importlib.import_module(f"servers.{info.name}")
        if callable(getattr(module, "build_server", None)):
            names.append(info.name)
    return sorted(names)


def build(name: str, settings: Settings) -> FastMCP:
    return importlib.import_module(f"servers.{name}").build_server(settings)


def untyped(schema: Any, defs: dict[str, Any], where: str, owner: str) -> list[str]:
    """Paths under ``schema`` that are objects with no declared shape."""
    if not isinstance(schema, dict):
        return []
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in where.split("->"):  # recursive models: one pass is enough
            return []
        return untyped(defs.get(name, {}), defs, f"{where}->{name}", name)
    found: list[str] = []
    properties = schema.get("properties") or {}
    if schema.get("type") == "object" and not properties:
        extra = schema.get("additionalProperties")
        if extra in (None, True, {}):
            found.append(where)
        else:
            found += untyped(extra, defs, f"{where}{{}}", owner)
    for key, value in properties.items():
        label = f"{owner}.{key}"
        if label in FREE_FORM:
            continue
        found += untyped(value, defs, f"{where}.{key}", owner)
    if "items" in schema:
        found += untyped(schema["items"], defs, f"{where}[]", owner)
    for key in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(key, []):
            found += untyped(option, defs, where, owner)
    return found


def top_level_problem(schema: dict[str, Any] | None) -> str | None:
    """Why a tool's output schema is not a typed object, or None when it is."""
    if schema is None:
        return "no outputSchema (the tool returns unstructured content)"
    if schema.get("type") != "object":
        return f"output is {schema.get('type')!r}, not an object"
    properties = schema.get("properties") or {}
    if not properties:
        return "an object with no properties (dict[str, Any])"
    if set(properties) == {"result"}:
        wrapped = properties["result"]
        if wrapped.get("type") == "object" and not wrapped.get("properties"):
            return "a wrapped dict (additionalProperties only)"
    return None


@pytest.fixture(scope="module")
def tools(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Any]]:
    settings = Settings(home=tmp_path_factory.mktemp("home"))

    async def listing() -> dict[str, list[Any]]:
        return {name: await build(name, settings).list_tools() for name in server_modules()}

    return anyio.run(listing)


def test_every_server_module_is_walked(tools: dict[str, list[Any]]) -> None:
    assert set(tools) >= {"content", "canonical", "routing", "waves", "governance"}
    assert all(tools.values())


def test_every_tool_returns_a_typed_contract(tools: dict[str, list[Any]]) -> None:
    problems = []
    for server, listed in tools.items():
        for tool in listed:
            problem = top_level_problem(tool.outputSchema)
            if problem:
                problems.append(f"{server}.{tool.name}: {problem}")
                continue
            schema = tool.outputSchema
            for where in untyped(schema, schema.get("$defs", {}), "", schema.get("title", "")):
                problems.append(f"{server}.{tool.name}: untyped value at {where or 'top'}")
    assert not problems, "\n".join(problems)


def test_the_walk_catches_an_untyped_result(tmp_path: Path) -> None:
    """The check itself: a dict[str, Any] result, and a model with a dict[str, Any] list."""
    server = FastMCP(name="loose")

    @server.tool()
    async def raw() -> dict[str, Any]:
        return {}

    @server.tool()
    async def nested() -> Loose:
        return Loose(items=[])

    listed = {t.name: t for t in anyio.run(server.list_tools)}
    assert top_level_problem(listed["raw"].outputSchema) is not None
    schema = listed["nested"].outputSchema
    assert top_level_problem(schema) is None
    assert untyped(schema, schema.get("$defs", {}), "", "(result)") == [".items[]"]


def test_every_tool_uses_a_shared_annotation_preset(tools: dict[str, list[Any]]) -> None:
    presets = {name: preset.model_dump() for name, preset in PRESETS.items()}
    odd = [
        f"{server}.{tool.name}"
        for server, listed in tools.items()
        for tool in listed
        if tool.annotations is None or tool.annotations.model_dump() not in presets.values()
    ]
    assert not odd, f"tools without one of servers.common's presets {sorted(presets)}: {odd}"


@pytest.mark.parametrize("name", server_modules())
def test_no_server_defines_its_own_annotations(name: str) -> None:
    source = inspect.getsource(importlib.import_module(f"servers.{name}"))
    assert "ToolAnnotations(" not in source, f"servers/{name}.py: use servers.common's presets"


def _patterns(schema: dict[str, Any], defs: dict[str, Any]) -> list[str]:
    """Every string pattern an argument's schema declares (through null unions and lists)."""
    if "$ref" in schema:
        schema = defs.get(schema["$ref"].rsplit("/", 1)[-1], {})
    found = [schema["pattern"]] if "pattern" in schema else []
    for option in schema.get("anyOf", []):
        found += _patterns(option, defs)
    if isinstance(schema.get("items"), dict):
        found += _patterns(schema["items"], defs)
    return found


def test_every_id_and_tenant_argument_uses_the_constrained_id_types(
    tools: dict[str, list[Any]],
) -> None:
    """tenant, *_id and *_ids arguments are core.ids types: their pattern is in the schema,
    so a client sees the shape and a bad id is refused before any work."""
    from core.ids import ID_PATTERN, TENANT_PATTERN

    loose = []
    for server, listed in tools.items():
        for tool in listed:
            schema = tool.inputSchema
            for name, prop in (schema.get("properties") or {}).items():
                if name != "tenant" and not name.endswith(("_id", "_ids")):
                    continue
                wanted = TENANT_PATTERN if name == "tenant" else ID_PATTERN
                if wanted not in _patterns(prop, schema.get("$defs", {})):
                    loose.append(f"{server}.{tool.name}({name})")
    assert not loose, f"arguments not typed with core.ids: {loose}"
