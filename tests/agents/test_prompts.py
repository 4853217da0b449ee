"""prompts/*.md: templates for the journeys, and MCP prompts on the servers that expose them."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from mcp.server.fastmcp import FastMCP

from core.errors import ConfigError
from servers.prompts import parse_prompt_file, prompt_files, prompt_text, register_prompts
from tests.servers.clients import memory_session


def test_every_prompt_file_parses_and_other_templates_are_left_alone() -> None:
    found = prompt_files()
    assert {
        "data_mash_assistant",
        "discover_sources",
        "review_mapping",
        "plan_migration",
        "explain_profile",
        "explain_wave_failure",
    } <= set(found)
    assert "rerank_mapping" not in found  # no front matter: owned by the canonical matcher
    assert "$records records" in found["explain_profile"].body


def test_templates_fill_placeholders() -> None:
    text = prompt_text(
        "explain_mapping",
        mapping_id="m1",
        source="billing",
        mapped=3,
        unmapped=1,
        low=1,
        threshold=0.7,
        low_fields="A -> b (0.5)",
    )
    assert text.startswith("Proposed mapping m1 for billing: 3 source columns mapped")


def test_servers_expose_their_prompts(tmp_path: Path) -> None:
    server = FastMCP(name="t")
    assert register_prompts(server, "canonical") >= 3

    async def run() -> None:
        async with memory_session(server) as session:
            listed = {p.name: p for p in (await session.list_prompts()).prompts}
            assert {"review_mapping", "discover_sources", "data_mash_assistant"} <= set(listed)
            assert "plan_migration" not in listed  # a waves prompt
            assert [a.name for a in listed["review_mapping"].arguments] == ["mapping_id"]
            got = await session.get_prompt("review_mapping", {"mapping_id": "map_7"})
            assert "Review mapping map_7 with me" in got.messages[0].content.text

    anyio.run(run)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("---\nname: x\n---\nbody", "needs 'name' and 'description'"),
        ("---\nname: [x\n---\nbody", "not valid YAML"),
        ("---\nname: x\ndescription: d\narguments: [3]\n---\nbody", "arguments"),
    ],
)
def test_a_bad_front_matter_names_the_file(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "p.md"
    path.write_text(text)
    with pytest.raises(ConfigError, match=problem) as caught:
        parse_prompt_file(path)
    assert str(path) in caught.value.message
