"""Every built-in server exposes the prompts in prompts/ that name it, over a real session."""

from __future__ import annotations

import importlib
from pathlib import Path

import anyio
import pytest

from core.settings import Settings
from tests.servers.clients import memory_session

EXPECTED = {
    "content": {"data_mash_assistant", "discover_sources"},
    "canonical": {"data_mash_assistant", "review_mapping"},
    "routing": {"data_mash_assistant"},
    "waves": {"data_mash_assistant", "plan_migration"},
    "governance": {"data_mash_assistant"},
    "sync": {"data_mash_assistant"},
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_server_lists_and_renders_its_prompts(name: str, workspace: Path) -> None:
    server = importlib.import_module(f"servers.{name}").build_server(Settings(home=workspace))

    async def run() -> None:
        async with memory_session(server) as session:
            prompts = {p.name for p in (await session.list_prompts()).prompts}
            assert prompts >= EXPECTED[name]
            rendered = await session.get_prompt("data_mash_assistant", {"journey": "discovery"})
            assert "data-mash" in rendered.messages[0].content.text

    anyio.run(run)
