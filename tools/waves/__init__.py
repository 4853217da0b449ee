"""Migration waves: plans, quality gates, the saga that runs a wave, the policy tracker, retention.

Plain Python over the store; MCP servers (servers/waves.py, servers/governance.py) and the CLI
(cli/commands/waves.py) are thin layers over these functions. One calling convention: a
:class:`WaveContext` (store, settings, tenant, collaborators) first, then the id the function is
about, then keyword-only options: ``run_wave(context, wave_id, *, cancel=...)``.
"""

from tools.waves.context import WaveContext
from tools.waves.contracts import GateReport, GateResult, Plan, PlanCriteria, WaveStatus
from tools.waves.gates.check import check_gates, latest_gate_report, override_gate
from tools.waves.milestones import reconcile_wave
from tools.waves.plans import generate_plan, get_plan, move_policies, reschedule_wave
from tools.waves.retention import GcResult, gc
from tools.waves.run import GateBlocked, rollback_wave, run_wave
from tools.waves.saga import Milestone, StepContext, WaveCancelled
from tools.waves.state import get_wave_status
from tools.waves.statuses import MILESTONES, MilestoneName, WaveState
from tools.waves.tracker import PolicyReport, lineage, locate_policy

__all__ = [
    "MILESTONES",
    "GateBlocked",
    "GateReport",
    "GateResult",
    "GcResult",
    "Milestone",
    "MilestoneName",
    "Plan",
    "PlanCriteria",
    "PolicyReport",
    "StepContext",
    "WaveCancelled",
    "WaveContext",
    "WaveState",
    "WaveStatus",
    "check_gates",
    "gc",
    "generate_plan",
    "get_plan",
    "get_wave_status",
    "latest_gate_report",
    "lineage",
    "locate_policy",
    "move_policies",
    "override_gate",
    "reconcile_wave",
    "reschedule_wave",
    "rollback_wave",
    "run_wave",
]
