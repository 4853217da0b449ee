"""Discovery's whole-policy steps: relationships, crosswalks and survivorship, each approved by
the person before the tool it guards, then the assembly run.

relate -> review_relationships -> propose_assembly -> review_crosswalks -> review_survivorship
  -> approve_assembly -> run_assembly -> (propose_rules)

They run after the focus source's mapping is approved, when more than one source was ingested
and the canonical server offers ``discover_relationships``; the focus source is the root (one
row per policy). Only reads happen before each ``interrupt()``: discover_relationships reads,
and propose_assembly stores a draft that nothing uses until the person approves it.
"""

from __future__ import annotations

from typing import Any, Final

from langgraph.graph import END
from langgraph.types import Command

from agents.journey import (
    ACTION_LABELS,
    Ctx,
    State,
    ToolErrors,
    ask,
    blocked,
    question,
    question_or,
    table_note,
    text_note,
)
from tools.assembly.contracts import AssemblyRunResult, AssemblySpec, RelateResult

RELATE: Final = "relate"
REVIEW_RELATIONSHIPS: Final = "review_relationships"
PROPOSE_ASSEMBLY: Final = "propose_assembly"
REVIEW_CROSSWALKS: Final = "review_crosswalks"
REVIEW_SURVIVORSHIP: Final = "review_survivorship"
APPROVE_ASSEMBLY: Final = "approve_assembly"
RUN_ASSEMBLY: Final = "run_assembly"
#: Where the journey goes once the whole-policy steps are done or skipped.
NEXT: Final = "propose_rules"

REVIEW_RELATIONSHIPS_PROMPT = (
    "These relationships join the other sources to {root}'s policies. Approve them to assemble "
    "whole policies (coverages, payments, letters, claims from every system), or continue "
    "without assembling."
)
REVIEW_CROSSWALKS_PROMPT = (
    "Review the code crosswalks: each legacy value and the canonical value proposed for it. "
    "Values left unmapped quarantine exactly the records that hold them. Approve them?"
)
REVIEW_SURVIVORSHIP_PROMPT = (
    "Review the survivorship rules: which source wins when two systems hold the same field "
    "(disagreements are kept as conflicts). Approve them and run the assembly?"
)
MAX_ROWS = 40


def wants_assembly(state: State, runtime: Ctx) -> bool:
    """Whether the whole-policy steps apply: several sources and a server that relates them."""
    return len(state.get("sources") or []) > 1 and runtime.context.hub.has("discover_relationships")


def _root_name(state: State) -> str:
    focus = state.get("focus_source")
    return next((s["name"] for s in state["sources"] if s["source_id"] == focus), str(focus))


def _continue_choice() -> dict[str, Any]:
    return {"action": "continue", "label": "continue without assembling whole policies"}


async def relate(state: State, runtime: Ctx) -> Command[Any]:
    """Discover how the ingested sources relate (reads only)."""
    ids = [s["source_id"] for s in state["sources"]]
    try:
        found = await runtime.context.hub.call_as(
            "discover_relationships", {"source_ids": ids}, RelateResult, server="canonical"
        )
    except ToolErrors as exc:
        return blocked(RELATE, exc, "canonical")
    focus = state["focus_source"]
    mine = [r for r in found.relationships if focus in (r.parent, r.child)]
    rows = [
        {
            "parent": f"{r.parent_name}.{r.parent_key}",
            "child": f"{r.child_name}.{r.child_key}",
            "keys": r.key_transform.description if r.key_transform else "as written",
            "match": f"{r.match_rate:.1%}",
            "orphans": f"{r.orphans} {', '.join(r.orphan_sample[:3])}".strip(),
            "confidence": f"{r.confidence:.2f}",
        }
        for r in found.relationships
    ]
    notes = [
        table_note(
            f"Relationships among {len(ids)} sources ({len(mine)} with {_root_name(state)})",
            ["parent key", "child key", "keys match", "match", "orphans", "confidence"],
            [list(r.values()) for r in rows],
        )
    ]
    if not mine:
        notes.append(
            text_note(
                f"No source relates to {_root_name(state)}: nothing to assemble around it.",
                kind="warning",
            )
        )
        return Command(goto=NEXT, update={"relationships": rows, "notes": notes})
    return Command(goto=REVIEW_RELATIONSHIPS, update={"relationships": rows, "notes": notes})


async def review_relationships(state: State, runtime: Ctx) -> Command[Any]:
    """Approval point before propose_assembly."""
    actions = ["approve", "continue", "ask", "stop"]
    q = question(
        REVIEW_RELATIONSHIPS,
        REVIEW_RELATIONSHIPS_PROMPT.format(root=_root_name(state)),
        actions,
        choices=[
            {"action": "approve", "label": "approve the relationships and propose the assembly"},
            _continue_choice(),
            {"action": "ask", "label": ACTION_LABELS["ask"]},
            {"action": "stop", "label": ACTION_LABELS["stop"]},
        ],
    )
    answer = ask(q)
    if detour := question_or(answer, REVIEW_RELATIONSHIPS):
        return detour
    if answer["action"] == "stop":
        return Command(goto=END, update={"status": "stopped"})
    if answer["action"] == "continue":
        return Command(
            goto=NEXT,
            update={"notes": [text_note("Continuing without assembling whole policies.")]},
        )
    return Command(goto=PROPOSE_ASSEMBLY)


async def propose_assembly(state: State, runtime: Ctx) -> Command[Any]:
    """Propose the assembly around the focus source (a draft: nothing uses it until approved)."""
    try:
        spec = await runtime.context.hub.call_as(
            "propose_assembly", {"root": state["focus_source"]}, AssemblySpec, server="canonical"
        )
    except ToolErrors as exc:
        return blocked(PROPOSE_ASSEMBLY, exc, "canonical", back=REVIEW_RELATIONSHIPS)
    components = [
        [c.source_name, c.direction, ", ".join(c.lists) or "-", len(c.scalars), c.mapping_status]
        for c in spec.components
    ]
    return Command(
        goto=REVIEW_CROSSWALKS,
        update={
            "assembly": spec.model_dump(mode="json"),
            "notes": [
                table_note(
                    f"Assembly {spec.assembly_id} around {spec.root_name}: components",
                    ["source", "joins", "lists it fills", "fields", "mapping"],
                    components,
                )
            ],
        },
    )


def crosswalk_table(spec: AssemblySpec) -> dict[str, Any]:
    rows = [
        [
            f"{x.source_name}.{x.column}",
            x.field,
            v.value,
            v.count,
            v.canonical or "(unmapped: records quarantined)",
            f"{v.confidence:.2f}",
        ]
        for x in spec.crosswalks
        for v in x.values
    ]
    return table_note(
        f"Code crosswalks ({len(rows)} values)",
        ["column", "canonical field", "value", "records", "canonical value", "confidence"],
        rows[:MAX_ROWS],
    )


def survivorship_table(spec: AssemblySpec) -> dict[str, Any]:
    return table_note(
        f"Survivorship rules ({len(spec.survivorship)} fields several systems hold)",
        ["field", "rule", "sources (first wins)", "date column", "tolerance"],
        [
            [r.field, r.rule, " > ".join(r.sources), r.date_column or "-", r.tolerance]
            for r in spec.survivorship
        ][:MAX_ROWS],
    )


def _review(state: State, step: str, prompt: str, table: dict[str, Any]) -> dict[str, Any]:
    q = question(
        step,
        prompt,
        ["approve", "continue", "ask", "stop"],
        choices=[
            {"action": "approve", "label": "approve"},
            _continue_choice(),
            {"action": "ask", "label": ACTION_LABELS["ask"]},
            {"action": "stop", "label": ACTION_LABELS["stop"]},
        ],
        details=[table],
    )
    return ask(q)


def _leave(answer: dict[str, Any]) -> Command[Any] | None:
    if answer["action"] == "stop":
        return Command(goto=END, update={"status": "stopped"})
    if answer["action"] == "continue":
        note = "Continuing without assembling whole policies (the draft assembly stays unused)."
        return Command(goto=NEXT, update={"notes": [text_note(note)]})
    return None


async def review_crosswalks(state: State, runtime: Ctx) -> Command[Any]:
    """Approval point for the code crosswalks (before approve_assembly freezes them)."""
    spec = AssemblySpec.model_validate(state["assembly"])
    answer = _review(state, REVIEW_CROSSWALKS, REVIEW_CROSSWALKS_PROMPT, crosswalk_table(spec))
    if detour := question_or(answer, REVIEW_CROSSWALKS):
        return detour
    if left := _leave(answer):
        return left
    unmapped = sum(1 for x in spec.crosswalks for v in x.values if v.canonical is None)
    text = f"Crosswalks approved ({unmapped} values left unmapped quarantine their records)."
    return Command(goto=REVIEW_SURVIVORSHIP, update={"notes": [text_note(text)]})


async def review_survivorship(state: State, runtime: Ctx) -> Command[Any]:
    """Approval point for the survivorship rules, before approve_assembly and run_assembly."""
    spec = AssemblySpec.model_validate(state["assembly"])
    answer = _review(
        state, REVIEW_SURVIVORSHIP, REVIEW_SURVIVORSHIP_PROMPT, survivorship_table(spec)
    )
    if detour := question_or(answer, REVIEW_SURVIVORSHIP):
        return detour
    if left := _leave(answer):
        return left
    return Command(goto=APPROVE_ASSEMBLY)


async def approve_assembly(state: State, runtime: Ctx) -> Command[Any]:
    assembly_id = state["assembly"]["assembly_id"]
    try:
        spec = await runtime.context.hub.call_as(
            "approve_assembly", {"assembly_id": assembly_id}, AssemblySpec, server="canonical"
        )
    except ToolErrors as exc:
        return blocked(APPROVE_ASSEMBLY, exc, "canonical", back=REVIEW_SURVIVORSHIP)
    return Command(
        goto=RUN_ASSEMBLY,
        update={
            "assembly": spec.model_dump(mode="json"),
            "notes": [text_note(f"Assembly {assembly_id} approved (frozen).")],
        },
    )


async def run_assembly(state: State, runtime: Ctx) -> Command[Any]:
    """Assemble one canonical document per policy (batched, resumable: a retry continues)."""
    assembly_id = state["assembly"]["assembly_id"]
    try:
        result = await runtime.context.hub.call_as(
            "run_assembly", {"assembly_id": assembly_id}, AssemblyRunResult, server="canonical"
        )
    except ToolErrors as exc:
        return blocked(RUN_ASSEMBLY, exc, "canonical")
    notes = [
        text_note(
            f"Assembled {result.policies} policies of {_root_name(state)}: {result.complete} "
            f"complete, {result.partial} partial, {result.quarantined} quarantined; "
            f"{result.orphans} orphan records, {result.conflicts} conflicts, "
            f"{result.duplicates} duplicates. Plan waves of whole policies with: "
            f"data-mash generate-plan --assembly {assembly_id} --target new_platform"
        ),
        table_note(
            "Completeness per source",
            ["source", "kind", "policies", "records held", "arrived", "invalid", "orphans"],
            [
                [
                    c.source,
                    c.kind,
                    c.policies_held,
                    c.records_held,
                    c.records_arrived,
                    c.quarantined_records,
                    c.orphans,
                ]
                for c in result.components
            ],
        ),
    ]
    reasons = [*result.quarantined_reasons[:3], *result.partial_reasons[:3]]
    if reasons:
        notes.append(
            table_note(
                "Why records were left out (top reasons)",
                ["source", "field", "records", "reason"],
                [[r.source or "root", r.path, r.records, r.message] for r in reasons],
            )
        )
    return Command(
        goto=NEXT,
        update={"assembly_run": result.model_dump(mode="json"), "notes": notes},
    )
