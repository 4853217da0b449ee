"""data-mash.yaml: a misspelt key or broken YAML is one line naming the file, line and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.main import main
from core.errors import ConfigError
from core.settings import Settings


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("DATA_MASH_HOME", "DATA_MASH_DB_URL", "DATA_MASH_TENANT"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "data-mash.yaml"
    monkeypatch.setenv("DATA_MASH_CONFIG", str(path))
    return path


def test_known_keys_are_read(config: Path, tmp_path: Path) -> None:
    config.write_text(f"home: {tmp_path / 'ws'}\ntenant: acme\n")
    settings = Settings()
    assert settings.home == tmp_path / "ws" and settings.tenant == "acme"


def test_unknown_key_names_it_and_the_known_ones(config: Path) -> None:
    config.write_text("tenant: acme\nDATA_MASH_HOME: /tmp/elsewhere\n")
    with pytest.raises(ConfigError) as caught:
        Settings()
    message = caught.value.message
    assert "'DATA_MASH_HOME'" in message and f"{config}: line 2" in message
    assert "home" in message and "batch_size" in message


def test_malformed_yaml_names_file_and_line_on_the_cli(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config.write_text("tenant: acme\nhome: [unclosed\nbatch_size: 100\n")
    assert main(["sources"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"data-mash: error: {config}: line ") and "invalid YAML" in err
    assert "internal error" not in err and err.count("\n") == 1


def test_unknown_key_on_the_cli_is_a_user_error(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config.write_text("DATA_MASH_HOME: /tmp/elsewhere\n")
    assert main(["sources"]) == 1
    err = capsys.readouterr().err
    assert "unknown setting 'DATA_MASH_HOME'" in err and "internal error" not in err
