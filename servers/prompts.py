"""Prompt templates from ``prompts/*.md``, shared by the journeys and exposed as MCP prompts.

Each file starts with a YAML front matter block::

    ---
    name: review_mapping
    description: Walk through a proposed canonical mapping field by field.
    servers: [canonical]          # MCP servers that expose it as a prompt ([] = journeys only)
    arguments:
      - {name: mapping_id, description: The mapping to review, required: true}
    ---
    Body text with $placeholders (string.Template syntax; $$ is a literal dollar).

A server's ``build_server`` calls ``register_prompts(server, "canonical")``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from string import Template
from typing import Any

import yaml
from mcp.server.fastmcp import FastMCP
from mcp.server.fastmcp.prompts.base import Prompt, PromptArgument

from core.errors import ConfigError

PROMPTS_DIR = Path(__file__).resolve().parents[1] / "prompts"


@dataclass(frozen=True)
class PromptFile:
    """One prompt template and where it is exposed."""

    name: str
    description: str
    body: str
    path: Path
    servers: tuple[str, ...] = ()
    arguments: tuple[dict[str, Any], ...] = field(default=())

    def render(self, **values: Any) -> str:
        """The body with ``$name`` placeholders filled (unknown ones are left as they are)."""
        return Template(self.body).safe_substitute({k: str(v) for k, v in values.items()})


def parse_prompt_file(path: Path) -> PromptFile:
    """Read one prompt file; a bad front matter names the file and the problem."""
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---\n") or "\n---\n" not in text[4:]:
        raise ConfigError("missing YAML front matter between '---' lines", where=str(path))
    head, body = text[4:].split("\n---\n", 1)
    try:
        meta = yaml.safe_load(head) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"front matter is not valid YAML: {exc}", where=str(path)) from None
    if not isinstance(meta, dict) or not meta.get("name") or not meta.get("description"):
        raise ConfigError("front matter needs 'name' and 'description'", where=str(path))
    args = meta.get("arguments") or []
    if not isinstance(args, list) or not all(isinstance(a, dict) and a.get("name") for a in args):
        raise ConfigError(
            "'arguments' must be a list of {name, description, required}",
            where=f"{path}: arguments",
        )
    return PromptFile(
        name=str(meta["name"]),
        description=str(meta["description"]),
        body=body.strip() + "\n",
        path=path,
        servers=tuple(meta.get("servers") or ()),
        arguments=tuple(args),
    )


@cache
def prompt_files(folder: Path = PROMPTS_DIR) -> dict[str, PromptFile]:
    """Every prompt file in ``folder`` by name."""
    found = {}
    for path in sorted(folder.glob("*.md")):
        # Templates without front matter (e.g. rerank_mapping.md) belong to domain code.
        if not path.read_text(encoding="utf-8").startswith("---\n"):
            continue
        prompt = parse_prompt_file(path)
        found[prompt.name] = prompt
    return found


def prompt_text(template: str, /, **values: Any) -> str:
    """Render the prompt template named ``template`` with ``values``."""
    found = prompt_files().get(template)
    if found is None:
        raise ConfigError(f"no prompt template '{template}'", where=str(PROMPTS_DIR))
    return found.render(**values)


def register_prompts(server: FastMCP, server_name: str, *, folder: Path = PROMPTS_DIR) -> int:
    """Expose the prompt files meant for ``server_name`` as MCP prompts; return how many."""
    count = 0
    for prompt in prompt_files(folder).values():
        if server_name not in prompt.servers:
            continue

        def render(_prompt: PromptFile = prompt, **values: Any) -> str:
            return _prompt.render(**values)

        server.add_prompt(
            Prompt(
                name=prompt.name,
                description=prompt.description,
                fn=render,
                arguments=[
                    PromptArgument(
                        name=a["name"],
                        description=a.get("description"),
                        required=bool(a.get("required", False)),
                    )
                    for a in prompt.arguments
                ],
            )
        )
        count += 1
    return count
