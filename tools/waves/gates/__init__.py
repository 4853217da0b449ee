"""Quality gates: plugins under ``data_mash.gates``, checked before a wave runs."""

from tools.waves.gates.base import FailureTally, GateContext, RecordGate, WaveGate
from tools.waves.gates.builtin import BUILTIN_GATES
from tools.waves.gates.registry import load_gate, load_gates

__all__ = [
    "BUILTIN_GATES",
    "FailureTally",
    "GateContext",
    "RecordGate",
    "WaveGate",
    "load_gate",
    "load_gates",
]
