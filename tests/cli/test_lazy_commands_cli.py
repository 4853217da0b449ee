"""The root group loads a command's module on first use: `--help` lists every command from the
index in `cli.commands` without importing one, and a command imports only its own module."""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main
from typer.core import TyperGroup

import cli.commands
from cli.app import load_command
from cli.command_index import COMMANDS
from cli.main import main

REPO = Path(__file__).resolve().parents[2]
LOADED = """
import json, sys
from cli.main import main
code = main(sys.argv[1:])
ours = ("cli.commands.", "tools", "agents", "evals", "servers", "api", "knowledge")
print(json.dumps([code, sorted(m for m in sys.modules if m.startswith(ours))]), file=sys.stderr)
"""


def _loaded(*args: str) -> tuple[int, list[str]]:
    """Run data-mash in a fresh interpreter; its exit code and the project modules it loaded."""
    done = subprocess.run(
        [sys.executable, "-c", LOADED, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    code, modules = json.loads(done.stderr.strip().splitlines()[-1])
    return code, modules


def test_help_lists_every_command_without_importing_one() -> None:
    code, modules = _loaded("--help")
    assert code == 0
    assert modules == [], "data-mash --help imported command or domain modules"


def test_a_command_imports_its_module_only() -> None:
    code, modules = _loaded("sources", "--help")
    assert code == 0
    assert [m for m in modules if m.startswith("cli.commands.")] == ["cli.commands.content"]
    assert not [m for m in modules if m.startswith(("agents", "evals", "servers", "api"))]


def test_a_mistyped_command_gets_a_suggestion(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["wavez"]) == 2
    assert "No such command 'wavez'. Did you mean 'wave'?" in capsys.readouterr().err


@pytest.mark.parametrize("name", list(COMMANDS))
def test_the_index_shows_each_commands_own_help(name: str) -> None:
    command = load_command(name)
    assert command.get_short_help_str(10**6) == COMMANDS[name][1]


def test_every_command_of_every_module_is_in_the_index() -> None:
    defined: dict[str, str] = {}
    for info in pkgutil.iter_modules(cli.commands.__path__):
        module = importlib.import_module(f"cli.commands.{info.name}")
        if not hasattr(module, "app"):
            continue  # helpers (demo_whole, serve_api)
        built = typer.main.get_command(module.app)
        names = list(built.commands) if isinstance(built, TyperGroup) else [built.name]
        defined.update({str(n): info.name for n in names})
    assert defined == {name: module for name, (module, _) in COMMANDS.items()}
