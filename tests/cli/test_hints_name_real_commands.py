"""Every command a hint, help text or error message names exists (issue 14, item 11).

The test reads the CLI's string literals and every error message and fix elsewhere for
``data-mash <command> [<subcommand>]`` and checks each against the real command tree; and it
reads the hints of errors
(``fix=``/``hint``, error constructors) and the prompt templates for MCP tool names
(``verb_object``) and checks each against the tools the real servers register.
"""

from __future__ import annotations

import ast
import asyncio
import functools
import importlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
import typer.main

from cli.main import app
from core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("cli", "core", "knowledge", "tools", "servers", "agents", "evals")
#: Words that follow "data-mash" in prose ("what data-mash would use"), never command names.
PROSE = {"would", "does", "sees", "installed", "process", "servers", "reads", "error", "console"}
COMMAND = re.compile(r"\bdata-mash ([a-z][a-z0-9-]*)(?: ([a-z][a-z0-9-]*))?")
#: MCP tool names are verb_object; these verbs start one (nouns such as policy_core do not).
VERBS = (
    "list approve suggest update validate export ingest search describe sample profile route "
    "reroute evaluate diff check override run rollback reconcile locate replay store assess get"
).split()
TOOL = re.compile(r"\b(?:" + "|".join(VERBS) + r")_[a-z]+(?:_[a-z]+)*\b")


def _strings(node: ast.AST) -> Iterator[str]:
    for child in ast.walk(node):
        if isinstance(child, ast.Constant) and isinstance(child.value, str):
            yield child.value
        elif isinstance(child, ast.JoinedStr):
            yield "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in child.values)


@functools.cache
def _sources() -> tuple[tuple[Path, ast.Module], ...]:
    """Every module of the packages, parsed once per run (several tests scan them)."""
    return tuple(
        (path, ast.parse(path.read_text(encoding="utf-8")))
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    )


def _hints(tree: ast.Module) -> Iterator[str]:
    """Text shown to a person or a model when something went wrong: error messages and fixes."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", "")
            if name.endswith("Error"):
                yield from _strings(node)
            for keyword in node.keywords:
                if keyword.arg in ("fix", "hint"):
                    yield from _strings(keyword.value)
        elif isinstance(node, ast.Assign):
            names = [getattr(t, "id", "") for t in node.targets]
            if any("hint" in n or n == "fix" for n in names):
                yield from _strings(node.value)


@functools.cache
def _command_tree() -> dict[str, set[str] | None]:
    root = typer.main.get_command(app)
    ctx = typer.Context(root)
    tree: dict[str, set[str] | None] = {}
    for name in root.list_commands(ctx):  # type: ignore[attr-defined]
        command = root.get_command(ctx, name)  # type: ignore[attr-defined]  # loads its module
        sub = getattr(command, "commands", None)
        tree[name] = set(sub) if sub is not None else None
    return tree


@pytest.fixture(scope="module")
def tool_names(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The tools the real servers register (built once for the module's tests)."""
    return _tool_names(tmp_path_factory.mktemp("servers"))


def _tool_names(tmp: Path) -> set[str]:
    names: set[str] = set()
    for path in sorted((ROOT / "servers").glob("*.py")):
        module = importlib.import_module(f"servers.{path.stem}")
        build = getattr(module, "build_server", None)
        if build is None:
            continue
        server = build(Settings(home=tmp, embedding_provider="none"))
        names.update(t.name for t in asyncio.run(server.list_tools()))
    return names


def test_every_named_command_exists() -> None:
    tree = _command_tree()
    wrong: list[str] = []
    seen = 0
    for path, module in _sources():
        # The CLI's own strings are all guidance (help, hints, printed next steps); elsewhere
        # only what reaches a person as an error or its fix counts (not docstrings or log text).
        in_cli = path.relative_to(ROOT).parts[0] == "cli"
        for text in _strings(module) if in_cli else _hints(module):
            for match in COMMAND.finditer(text):
                command, sub = match.groups()
                if command in PROSE:
                    continue
                seen += 1
                where = f"{path.relative_to(ROOT)}: {match.group(0)!r}"
                if command not in tree:
                    wrong.append(where)
                elif tree[command] is not None and sub and sub not in tree[command]:
                    wrong.append(where)
    assert seen > 30, "the scan found too few command names to be reading the code"
    assert not wrong, "hints name commands that do not exist:\n" + "\n".join(wrong)
    assert not PROSE & set(tree), "a prose word became a command name; drop it from PROSE"


def test_the_commands_issue_14_asked_for_exist() -> None:
    tree = _command_tree()
    for group, sub in (
        ("mapping", "list"),
        ("plan", "list"),
        ("wave", "list"),
        ("wave", "reconcile"),
        ("rules", "evaluate"),
        ("rules", "diff"),
    ):
        assert sub in (tree.get(group) or set()), f"data-mash {group} {sub}"
    for command in ("fields", "lineage", "search-columns"):
        assert command in tree


def test_every_tool_named_in_a_hint_or_prompt_exists(tool_names: set[str]) -> None:
    tools = tool_names
    assert {"suggest_mapping", "reconcile_wave", "lineage"} <= tools
    wrong: list[str] = []
    for path, module in _sources():
        for text in _hints(module):
            wrong += [
                f"{path.relative_to(ROOT)}: {t}" for t in TOOL.findall(text) if t not in tools
            ]
    for path in sorted((ROOT / "prompts").glob("*.md")):
        text = re.sub(r"\{\{[^}]*\}\}", "", path.read_text(encoding="utf-8"))  # placeholders
        wrong += [f"{path.relative_to(ROOT)}: {t}" for t in TOOL.findall(text) if t not in tools]
    assert not wrong, "hints name MCP tools that do not exist:\n" + "\n".join(sorted(set(wrong)))


@pytest.mark.parametrize("fix", ["list them with list_mappings", "see the data-mash nosuch list"])
def test_the_scan_catches_a_wrong_name(fix: str, tool_names: set[str]) -> None:
    tree, tools = _command_tree(), tool_names
    module = ast.parse(f"raise NotFoundError('no mapping', fix={fix!r})")
    names = [t for text in _hints(module) for t in TOOL.findall(text)]
    commands = [m.group(1) for text in _strings(module) for m in COMMAND.finditer(text)]
    assert any(n not in tools for n in names) or any(c not in tree for c in commands)
