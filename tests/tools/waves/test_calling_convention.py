"""tools.waves has one calling convention: ``function(context, the_id, *, options)``."""

from __future__ import annotations

import inspect

import pytest

from tools import waves

FUNCTIONS = [
    name
    for name in waves.__all__
    if inspect.isfunction(getattr(waves, name)) and not name[0].isupper()
]


def test_the_package_exports_its_operations() -> None:
    assert {"run_wave", "rollback_wave", "get_wave_status", "override_gate", "gc"} <= set(FUNCTIONS)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_context_first_then_one_id_then_keyword_only(name: str) -> None:
    params = list(inspect.signature(getattr(waves, name)).parameters.values())
    assert params[0].name == "context" and params[0].annotation == "WaveContext", name
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    # The context and at most one subject (a wave, plan or policy id, or a list of policy ids).
    assert len(positional) <= 2, f"{name}: options must be keyword-only"
    assert not any(p.name == "tenant" for p in params), f"{name}: the tenant is in the context"
