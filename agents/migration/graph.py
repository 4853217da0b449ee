"""The migration journey as a LangGraph graph.

plan -> next_wave -> check_gates -> approve_wave (interrupt) [-> override_gate -> check_gates]
  -> run_wave (live progress) -> reconcile -> keep_in_step -> after_wave (interrupt)
  -> next_wave ...
  run or reconcile failed -> explain_failure -> after_failure (interrupt: retry, rollback,
  continue, stop)

``keep_in_step`` ("after wave N, keep in step") records the wave's owners in the sync ledger and
lets sync follow what the wave migrated (``adopt_wave``, idempotent per wave run), then shows
how far legacy and new are apart; without a sync server it says so and the journey goes on.
``approve_wave`` guards run_wave and override_wave_gate, ``after_failure`` guards rollback_wave
and a retried run_wave; only idempotent
work (gate checks, reads) runs before an interrupt.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from agents.journey import (
    ANSWER_QUESTION,
    BLOCKED,
    Ctx,
    JourneyContext,
    State,
    ToolErrors,
    answer_question_node,
    ask,
    blocked,
    blocked_node,
    question,
    question_or,
    table_note,
    text_note,
)
from agents.migration import prompts
from agents.migration.configuration import MigrationInputs
from agents.migration.state import MigrationState
from core.statuses import JourneyStatus
from tools.sync.contracts import SyncStatus, WaveAdoption
from tools.waves.contracts import (
    GateOverride,
    GateReport,
    Plan,
    WaveReconciliation,
    WaveStatus,
)
from tools.waves.statuses import WaveState

JOURNEY = "migration"
# Node names, Final so that Command[Literal[...]] checks each goto against its node's edges.
PLAN: Final = "plan"
NEXT_WAVE: Final = "next_wave"
CHECK_GATES: Final = "check_gates"
APPROVE_WAVE: Final = "approve_wave"
RUN_WAVE: Final = "run_wave"
RECONCILE: Final = "reconcile"
KEEP_IN_STEP: Final = "keep_in_step"
AFTER_WAVE: Final = "after_wave"
EXPLAIN_FAILURE: Final = "explain_failure"
AFTER_FAILURE: Final = "after_failure"
ROLLBACK: Final = "rollback"
OVERRIDE_GATE: Final = "override_gate"


def _inputs(state: State) -> MigrationInputs:
    return MigrationInputs.model_validate(state["inputs"])


async def plan(state: State, runtime: Ctx) -> Command[Literal["next_wave", "blocked"]]:
    inputs = _inputs(state)
    try:
        found = await runtime.context.hub.call_as(
            "plan_waves",
            {
                "source_ids": inputs.source_ids,
                "mapping_id": inputs.mapping_id,
                "rule_set": inputs.rule_set,
                "target": inputs.target,
                "canonical": inputs.canonical,
            },
            Plan,
            server="waves",
        )
    except ToolErrors as exc:
        return blocked(PLAN, exc, "waves")
    rows = [[w.wave_id, w.number, w.policy_count, w.status, w.label] for w in found.waves]
    return Command(
        goto=NEXT_WAVE,
        update={
            "plan_id": found.plan_id,
            "waves": [w.model_dump(mode="json") for w in found.waves],
            "done_waves": [],
            "wave_results": {},
            "reconciliations": {},
            "notes": [
                table_note(
                    f"Plan {found.plan_id}: {len(found.waves)} waves",
                    ["wave", "number", "policies", "status", "what"],
                    rows,
                )
            ],
        },
    )


async def next_wave(state: State, runtime: Ctx) -> Command[Any]:
    remaining = [
        w
        for w in prompts.planned_waves(state["waves"])
        if w.wave_id not in state["done_waves"] and w.status != WaveState.COMPLETED
    ]
    if not remaining:
        return Command(
            goto=END,
            update={
                "status": JourneyStatus.DONE.value,
                "current_wave": None,
                "notes": [
                    text_note(f"Migration finished: {len(state['done_waves'])} wave(s) handled.")
                ],
            },
        )
    return Command(goto=CHECK_GATES, update={"current_wave": remaining[0].wave_id})


async def check_gates(state: State, runtime: Ctx) -> Command[Literal["approve_wave", "blocked"]]:
    wave = state["current_wave"]
    try:
        found = await runtime.context.hub.call_as(
            "check_gates", {"wave_id": wave}, GateReport, server="waves"
        )
    except ToolErrors as exc:
        return blocked(CHECK_GATES, exc, "waves")
    gates: list[dict[str, Any]] = [
        {
            "name": g.gate,
            "passed": g.passed or g.overridden,
            "overridden": g.overridden,
            "detail": g.detail,
            "failing": g.failing,
            "examples": g.sample,
        }
        for g in found.results
    ]
    rows = [
        [
            g["name"],
            "overridden" if g["overridden"] else "pass" if g["passed"] else "FAIL",
            g["failing"],
            g["detail"],
            ", ".join(str(e) for e in g["examples"][:5]),
        ]
        for g in gates
    ]
    return Command(
        goto=APPROVE_WAVE,
        update={
            "gates": gates,
            "notes": [
                table_note(
                    f"Quality gates of wave {wave}",
                    ["gate", "result", "failing", "detail", "examples"],
                    rows,
                )
            ],
        },
    )


async def approve_wave(state: State, runtime: Ctx) -> Command[Any]:
    """Approval point before run_wave; failed gates need an override with a reason."""
    wave = state["current_wave"]
    failing = [g["name"] for g in state["gates"] if not g["passed"]]
    if failing:
        q = question(
            APPROVE_WAVE,
            prompts.APPROVE_WAVE_FAILED.format(wave=wave, gates=", ".join(failing)),
            ["override", "ask", "stop"],
            gates=failing,
        )
    else:
        q = question(APPROVE_WAVE, prompts.APPROVE_WAVE.format(wave=wave), ["run", "ask", "stop"])
    answer = ask(q)
    if detour := question_or(answer, APPROVE_WAVE):
        return detour
    if answer["action"] == "stop":
        return Command(
            goto=END,
            update={
                "status": JourneyStatus.STOPPED.value,
                "notes": [
                    text_note(f"Stopped before running wave {wave}; nothing was migrated in it.")
                ],
            },
        )
    if answer["action"] == "override":
        return Command(
            goto=OVERRIDE_GATE,
            update={"pending_override": {"gate": answer["gate"], "reason": answer["reason"]}},
        )
    return Command(goto=RUN_WAVE)


async def override_gate(state: State, runtime: Ctx) -> Command[Any]:
    """Record the person's override (with its reason, audited by the server), re-check gates."""
    wave, override = state["current_wave"], state["pending_override"]
    try:
        await runtime.context.hub.call_as(
            "override_wave_gate", {"wave_id": wave, **override}, GateOverride, server="waves"
        )
    except ToolErrors as exc:
        return blocked(OVERRIDE_GATE, exc, "waves")
    return Command(
        goto=CHECK_GATES,
        update={
            "pending_override": None,
            "notes": [
                text_note(
                    f"Gate {override['gate']} overridden for wave {wave}: {override['reason']}"
                )
            ],
        },
    )


async def run_wave(state: State, runtime: Ctx) -> Command[Any]:
    """Run the approved wave; the hub reports its progress live to the front end."""
    wave = state["current_wave"]
    try:
        result = await runtime.context.hub.call_as(
            "run_wave", {"wave_id": wave}, WaveStatus, server="waves"
        )
    except ToolErrors as exc:
        return blocked(RUN_WAVE, exc, "waves")
    steps = prompts.steps_of(result)
    update = {
        "wave_results": {**state.get("wave_results", {}), wave: result.model_dump(mode="json")},
        "notes": [
            table_note(
                f"Wave {wave}: {result.status} ({result.migrated} migrated, "
                f"{result.failed} failed)",
                ["step", "status", "error"],
                [[s["name"], s["status"], s["error"]] for s in steps],
            )
        ],
    }
    return Command(goto=RECONCILE if prompts.succeeded(result) else EXPLAIN_FAILURE, update=update)


async def reconcile(state: State, runtime: Ctx) -> Command[Any]:
    wave = state["current_wave"]
    try:
        found = await runtime.context.hub.call_as(
            "reconcile_wave", {"wave_id": wave}, WaveReconciliation, server="waves"
        )
    except ToolErrors as exc:
        return blocked(RECONCILE, exc, "waves")
    rows = prompts.reconciliation_rows(found)
    update = {
        "reconciliations": {
            **state.get("reconciliations", {}),
            wave: found.model_dump(mode="json"),
        },
        "notes": [
            table_note(f"Reconciliation of wave {wave}", ["check", "source", "target", "ok"], rows)
        ],
    }
    return Command(goto=KEEP_IN_STEP if found.passed else EXPLAIN_FAILURE, update=update)


async def keep_in_step(state: State, runtime: Ctx) -> Command[Literal["after_wave"]]:
    """After wave N, keep in step: its owners and migrated policies become sync's start."""
    wave = state["current_wave"]
    hub = runtime.context.hub
    try:
        adopted = await hub.call_as("adopt_wave", {"wave_id": wave}, WaveAdoption, server="sync")
        status = await hub.call_as("sync_status", {}, SyncStatus, server="sync")
    except ToolErrors as exc:
        note = text_note(prompts.KEEP_IN_STEP_SKIPPED.format(wave=wave, why=exc), kind="warning")
        return Command(goto=AFTER_WAVE, update={"notes": [note]})
    update = {
        "in_step": {**state.get("in_step", {}), wave: adopted.model_dump(mode="json")},
        "notes": [
            table_note(
                prompts.keep_in_step_title(wave, adopted),
                ["owner", "policies"],
                [[owner, count] for owner, count in sorted(status.ledger.items())],
            ),
            text_note(prompts.keep_in_step_next(status)),
        ],
    }
    return Command(goto=AFTER_WAVE, update=update)


async def after_wave(state: State, runtime: Ctx) -> Command[Any]:
    wave = state["current_wave"]
    done = [*state["done_waves"], wave]
    rest = [w.wave_id for w in prompts.planned_waves(state["waves"]) if w.wave_id not in done]
    if not rest:
        return Command(goto=NEXT_WAVE, update={"done_waves": done})
    answer = ask(
        question(
            AFTER_WAVE,
            prompts.AFTER_WAVE.format(wave=wave, next=rest[0]),
            ["continue", "ask", "stop"],
        )
    )
    if detour := question_or(answer, AFTER_WAVE):
        return detour
    if answer["action"] == "stop":
        return Command(goto=END, update={"status": JourneyStatus.STOPPED.value, "done_waves": done})
    return Command(goto=NEXT_WAVE, update={"done_waves": done})


async def explain_failure(state: State, runtime: Ctx) -> Command[Literal["after_failure"]]:
    wave = state["current_wave"]
    reconciliation = state.get("reconciliations", {}).get(wave)
    text = prompts.explain_failure(
        wave,
        WaveStatus.model_validate(state["wave_results"][wave]),
        WaveReconciliation.model_validate(reconciliation) if reconciliation else None,
    )
    return Command(goto=AFTER_FAILURE, update={"notes": [text_note(text, kind="warning")]})


async def after_failure(state: State, runtime: Ctx) -> Command[Any]:
    """Approval point before rollback_wave or a retry of run_wave."""
    wave = state["current_wave"]
    answer = ask(
        question(
            AFTER_FAILURE,
            prompts.AFTER_FAILURE.format(wave=wave),
            ["retry", "rollback", "continue", "ask", "stop"],
        )
    )
    if detour := question_or(answer, AFTER_FAILURE):
        return detour
    if answer["action"] == "retry":
        return Command(goto=RUN_WAVE)
    if answer["action"] == "rollback":
        return Command(goto=ROLLBACK)
    if answer["action"] == "continue":
        return Command(goto=NEXT_WAVE, update={"done_waves": [*state["done_waves"], wave]})
    return Command(goto=END, update={"status": JourneyStatus.STOPPED.value})


async def rollback(state: State, runtime: Ctx) -> Command[Any]:
    wave = state["current_wave"]
    try:
        found = await runtime.context.hub.call_as(
            "rollback_wave", {"wave_id": wave}, WaveStatus, server="waves"
        )
    except ToolErrors as exc:
        return blocked(ROLLBACK, exc, "waves")
    steps = prompts.steps_of(found)
    return Command(
        goto=AFTER_FAILURE,
        update={
            "notes": [
                table_note(
                    f"Wave {wave} rolled back: {found.status}",
                    ["step", "status", "error"],
                    [[s["name"], s["status"], s["error"]] for s in steps],
                )
            ]
        },
    )


def build_migration_graph(
    *, checkpointer: BaseCheckpointSaver[Any]
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The migration journey, compiled with ``checkpointer`` (run it with a thread_id)."""
    builder = StateGraph(MigrationState, context_schema=JourneyContext)
    nodes: list[tuple[str, Any]] = [  # (a node is typed on the journey's plain-dict state)
        (PLAN, plan),
        (NEXT_WAVE, next_wave),
        (CHECK_GATES, check_gates),
        (APPROVE_WAVE, approve_wave),
        (OVERRIDE_GATE, override_gate),
        (RUN_WAVE, run_wave),
        (RECONCILE, reconcile),
        (KEEP_IN_STEP, keep_in_step),
        (AFTER_WAVE, after_wave),
        (EXPLAIN_FAILURE, explain_failure),
        (AFTER_FAILURE, after_failure),
        (ROLLBACK, rollback),
        (BLOCKED, blocked_node),
        (ANSWER_QUESTION, answer_question_node),
    ]
    for name, node in nodes:
        builder.add_node(name, node)
    builder.add_edge(START, PLAN)
    return builder.compile(checkpointer=checkpointer, name=JOURNEY)
