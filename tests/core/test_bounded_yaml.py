"""Hostile YAML anywhere data-mash reads YAML: one located error, never a hang or a crash.

Routing rules (library, CLI and MCP), source configs and data-mash.yaml share one bounded loader
(core.bounded_yaml): an alias bomb, a NUL or \\x0b, a 1000-deep list and a 5,000-digit integer
each give a message with a line, and legitimate anchors/aliases still load.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from cli.main import main
from core.bounded_yaml import YamlLimitError, load_bounded
from core.errors import ConfigError, InputError
from tools.content.source_config import load_source_config
from tools.routing import validate_rule_set

RULES_HEAD = 'routing_rules:\n  version: "1"\n'


def alias_bomb() -> str:
    """The classic: nine levels of nine aliases, under 800 bytes, 9**9 values expanded."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, 9):
        prev, name = chr(96 + level), chr(97 + level)
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


HOSTILE = {
    "alias bomb": (RULES_HEAD + "  " + alias_bomb().replace("\n", "\n  "), "alias"),
    "NUL": (RULES_HEAD + "  rules:\n    - name: a\x00b\n", "control character '\\x00'"),
    "vertical tab": (RULES_HEAD + "  rules:\n    - name: a\x0bb\n", "control character '\\x0b'"),
    "1000-deep list": (RULES_HEAD + "  rules: " + "[" * 1000 + "]" * 1000 + "\n", "nested"),
    "5,000-digit integer": (
        RULES_HEAD + "  rules:\n    - name: x\n      priority: " + "9" * 5000 + "\n",
        "integer of 5,000 digits",
    ),
}


def test_the_alias_bomb_is_small() -> None:
    assert len(alias_bomb()) < 800


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_routing_yaml_is_one_located_error(case: str) -> None:
    text, message = HOSTILE[case]
    report = validate_rule_set(text)
    assert not report.ok
    [error] = report.errors
    assert message in error.message and error.line is not None and error.line >= 1


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_rules_validate_on_the_command_line(
    case: str, tmp_path: Path, workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, message = HOSTILE[case]
    rules = tmp_path / "rules.yaml"
    rules.write_text(text, encoding="utf-8")
    code = main(["rules", "validate", str(rules), "--json"])
    captured = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in captured.err and "internal error" not in captured.err
    [error] = json.loads(captured.out)["errors"]
    assert message in error["message"] and error["line"] >= 1


def test_anchors_and_aliases_within_bounds_still_load() -> None:
    data = load_bounded("base: &b {limit: 5, deductible: 1}\nauto: *b\nhome: *b\n")
    assert data["auto"] == data["home"] == {"limit": 5, "deductible": 1}


def test_bounds_are_located() -> None:
    with pytest.raises(YamlLimitError) as caught:
        load_bounded("a: 1\nb:\n  c: [" + "[" * 100 + "]" * 101 + "\n")
    assert caught.value.problem_mark is not None and caught.value.problem_mark.line == 2
    with pytest.raises(yaml.YAMLError):
        load_bounded(b"\xff\xfe not utf-8")


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_source_config_is_one_located_input_error(case: str, tmp_path: Path) -> None:
    text, message = HOSTILE[case]
    config = tmp_path / "sources.yaml"
    config.write_text(text.replace("routing_rules:", "version: 1\nx:"), encoding="utf-8")
    with pytest.raises(InputError, match="line") as caught:
        load_source_config(config)
    assert message.split(" ")[0].strip("'") in str(caught.value)


def test_binary_source_config_is_an_input_error(tmp_path: Path) -> None:
    config = tmp_path / "sources.yaml"
    config.write_bytes(b"version: 1\n\xff\xfe\x00garbage")
    with pytest.raises(InputError, match="UTF-8"):
        load_source_config(config)


def test_hostile_data_mash_yaml_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cli.context import load_settings

    config = tmp_path / "data-mash.yaml"
    config.write_text("tenant: acme\n" + alias_bomb(), encoding="utf-8")
    monkeypatch.setenv("DATA_MASH_CONFIG", str(config))
    with pytest.raises(ConfigError, match=r"line \d+, column \d+.*alias"):
        load_settings()
    config.write_text("tenant: acme\n", encoding="utf-8")
    assert load_settings().tenant == "acme"
