"""One vocabulary for migration targets: canonical names, accepted aliases, refused unknowns."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from core.errors import InputError
from core.targets import TARGET_ALIASES, TargetName, canonical_target, same_target, target_help
from tools.routing import load_rule_set
from tools.waves.targets.registry import BUILTIN_TARGETS

ROOT = Path(__file__).resolve().parents[2]


def test_the_entry_points_and_the_builtin_fallbacks_are_the_one_list() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    registered = pyproject["project"]["entry-points"]["data_mash.targets"]
    assert set(registered) == {t.value for t in TargetName} == set(BUILTIN_TARGETS)


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("new_platform", "new_platform"),
        ("NewPlatformAPI", "new_platform"),
        ("newplatformapi", "new_platform"),
        ("LegacyBatch", "legacy_batch"),
        ("CoexistenceBridge", "coexistence_bridge"),
        ("DataQualityQueue", "data_quality_queue"),
    ],
)
def test_every_alias_resolves_to_its_canonical_name(spelling: str, canonical: str) -> None:
    assert canonical_target(spelling) == canonical
    assert same_target(spelling, canonical)


def test_an_unknown_name_is_refused_with_the_list() -> None:
    with pytest.raises(InputError, match="no migration target 'Nowhere'") as caught:
        canonical_target("Nowhere", where="--to")
    assert caught.value.where == "--to"
    for target in TargetName:
        assert target.value in caught.value.message
        assert all(alias in caught.value.message for alias in TARGET_ALIASES[target])


def test_help_shows_canonical_names_with_their_aliases() -> None:
    assert "new_platform (NewPlatformAPI, NewPlatform)" in target_help()


def test_rules_accept_aliases_and_store_canonical_names() -> None:
    rules = load_rule_set(
        'routing_rules:\n  version: "1"\n  rules:\n'
        "    - {name: a, condition: {field: wave, operator: equals, value: 0}, "
        "target: NewPlatformAPI, priority: 1}\n"
        "    - {name: b, condition: true, target: legacy_batch, priority: 2}\n"
    )
    assert [r.target for r in rules.rules] == ["new_platform", "legacy_batch"]


def test_rules_refuse_an_unknown_target_naming_the_rule_and_line() -> None:
    with pytest.raises(InputError, match=r"line 4: rule 'a': unknown target 'Mars'.*new_platform"):
        load_rule_set(
            'routing_rules:\n  version: "1"\n  rules:\n'
            "    - {name: a, condition: true, target: Mars, priority: 1}\n"
        )
