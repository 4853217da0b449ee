"""Finding gates by name: ``data_mash.gates`` entry points first, the built-in map as fallback
(so a source checkout whose package metadata is stale still has its built-ins)."""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

from core.errors import InputError
from tools.waves.contracts import PlanCriteria
from tools.waves.gates.base import WaveGate
from tools.waves.gates.builtin import BUILTIN_GATES

GATE_GROUP = "data_mash.gates"


def gate_classes() -> dict[str, type | EntryPoint]:
    """Gate name -> built-in class, or the plugin's entry point (loaded on use)."""
    found: dict[str, type | EntryPoint] = dict(BUILTIN_GATES)
    for ep in entry_points(group=GATE_GROUP):
        if ep.name not in BUILTIN_GATES or ep.value.split(":")[0] != "tools.waves.gates.builtin":
            found[ep.name] = ep
    return found


def load_gate(name: str, criteria: PlanCriteria, canonical: str = "policy_v1") -> WaveGate:
    """The gate ``name`` configured by ``criteria``.

    Raises:
        InputError: no gate of that name is installed.
    """
    classes = gate_classes()
    if name not in classes:
        raise InputError(
            f"no quality gate '{name}'",
            where="criteria.gates",
            fix=f"choose from: {', '.join(sorted(classes))}",
        )
    cls = classes[name]
    if not isinstance(cls, type):
        cls = cls.load()  # an entry point
    return cls(criteria, canonical)


def load_gates(criteria: PlanCriteria, canonical: str = "policy_v1") -> list[WaveGate]:
    return [load_gate(name, criteria, canonical) for name in criteria.gates]
