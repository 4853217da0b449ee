"""Target registry: built-in names, unknown names, bad configs."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import InputError
from tools.waves.targets import known_targets, make_target, target_for
from tools.waves.targets.new_platform import NewPlatformTarget

BUILT_INS = {"new_platform", "legacy_batch", "coexistence_bridge", "data_quality_queue"}


def test_built_ins_are_known_and_load() -> None:
    assert BUILT_INS <= set(known_targets())
    for name in BUILT_INS:
        assert target_for(name).name == name
    assert target_for(" New_Platform ") is NewPlatformTarget


def test_unknown_target_lists_the_known_ones() -> None:
    with pytest.raises(InputError) as err:
        target_for("mainframe_tape")
    assert "mainframe_tape" in err.value.message
    assert all(name in err.value.message for name in BUILT_INS)


@pytest.mark.parametrize(
    ("name", "config", "expected"),
    [
        ("new_platform", {}, "url setting is missing"),
        ("new_platform", {"url": "mysql://u@h/db"}, "unsupported database 'mysql'"),
        ("new_platform", {"url": "sqlite://"}, "in-memory"),
        ("new_platform", {"url": "not a url"}, "not a database URL"),
        ("new_platform", {"url": "sqlite:////tmp/x.sqlite", "table": "drop table;"}, "identifier"),
        ("data_quality_queue", {"url": "postgresql+asyncpg://u@h/db"}, "not installed"),
        ("legacy_batch", {}, "dir setting is missing"),
        ("legacy_batch", {"dir": "/tmp/x", "layout": "xml"}, "unknown layout"),
        ("legacy_batch", {"dir": "/tmp/x", "encoding": "klingon"}, "unknown encoding"),
        ("legacy_batch", {"dir": "/tmp/x", "widths": {"nope": 3}}, "widths"),
        ("coexistence_bridge", {"dir": ""}, "dir setting is missing"),
    ],
)
def test_bad_config_is_refused_with_a_clear_message(name: str, config: dict, expected: str) -> None:
    with pytest.raises(InputError) as err:
        make_target(name, config)
    assert expected in err.value.message
    assert f"target {name}" in err.value.message


def test_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InputError, match="is a file"):
        make_target("coexistence_bridge", {"dir": str(blocker)})


def test_config_must_be_a_mapping() -> None:
    with pytest.raises(InputError, match="mapping"):
        make_target("new_platform", ["sqlite:///x"])  # type: ignore[arg-type]
