"""Discovery's whole-policy steps: relationships, crosswalks and survivorship, each approved by
the person before the tool it guards, then the assembly run.

relate -> review_relationships (<-> edit_relationship) -> confirm_relationships
  -> propose_assembly -> review_crosswalks -> review_survivorship (each <-> edit_assembly)
  -> approve_assembly -> run_assembly -> (propose_rules)

They run after the focus source's mapping is approved, when more than one source was ingested
and the canonical server offers ``discover_relationships``; the focus source is the root (one
row per policy). Only reads happen before each ``interrupt()``: discover_relationships reads,
and propose_assembly stores a draft that nothing uses until the person approves it. A
relationship the person states (``link``) is stored at once as the next confirmed version
(measured on the data, audited), and approving stores the set shown when it is still a proposal.
A crosswalk value or survivorship rule the person changes (``crosswalk``, ``rule``) is stored as
the draft assembly's next version (audited) before the review is shown again.
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
from agents.mcp_client import CapabilityMissing, ToolFailed
from core.errors import InputError
from core.statuses import JourneyStatus, RelationshipsStatus
from tools.assembly.contracts import (
    AssemblyRunResult,
    AssemblySpec,
    CrosswalkKeys,
    RelateResult,
    Relationship,
    RelationshipEdit,
)

RELATE: Final = "relate"
REVIEW_RELATIONSHIPS: Final = "review_relationships"
EDIT_RELATIONSHIP: Final = "edit_relationship"
CONFIRM_RELATIONSHIPS: Final = "confirm_relationships"
PROPOSE_ASSEMBLY: Final = "propose_assembly"
REVIEW_CROSSWALKS: Final = "review_crosswalks"
REVIEW_SURVIVORSHIP: Final = "review_survivorship"
EDIT_ASSEMBLY: Final = "edit_assembly"
APPROVE_ASSEMBLY: Final = "approve_assembly"
RUN_ASSEMBLY: Final = "run_assembly"
#: Where the journey goes once the whole-policy steps are done or skipped.
NEXT: Final = "propose_rules"

REVIEW_RELATIONSHIPS_PROMPT = (
    "These relationships join the other sources to {root}'s policies. Approve them to assemble "
    "whole policies (coverages, payments, letters, claims from every system), state one that "
    "is missing or wrong (link PARENT.KEY CHILD.KEY TRANSFORM), or continue without assembling."
)
REVIEW_CROSSWALKS_PROMPT = (
    "Review the code crosswalks: each legacy value and the canonical value proposed for it. "
    "Values left unmapped quarantine exactly the records that hold them. Approve them, or "
    "change one (crosswalk SOURCE.COLUMN VALUE CANONICAL)?"
)
REVIEW_SURVIVORSHIP_PROMPT = (
    "Review the survivorship rules: which source wins when two systems hold the same field "
    "(disagreements are kept as conflicts). Approve them and run the assembly, or change one "
    "(rule FIELD RULE SOURCE...)?"
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
    rows = relationship_rows(found)
    notes = [
        relationship_table(
            f"Relationships among {len(ids)} sources ({len(mine)} with {_root_name(state)})", rows
        )
    ]
    update = {"relationships": rows, "relationship_set": found.model_dump(mode="json")}
    if not mine:
        notes.append(
            text_note(
                f"No source relates to {_root_name(state)}: nothing to assemble around it.",
                kind="warning",
            )
        )
        return Command(goto=NEXT, update={**update, "notes": notes})
    return Command(goto=REVIEW_RELATIONSHIPS, update={**update, "notes": notes})


def relationship_rows(found: RelateResult) -> list[dict[str, str]]:
    """What the person reviews of each relationship (the state's ``relationships``)."""
    return [
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


def relationship_table(title: str, rows: list[dict[str, str]]) -> dict[str, Any]:
    return table_note(
        title,
        ["parent key", "child key", "keys match", "match", "orphans", "confidence"],
        [list(r.values()) for r in rows],
    )


async def review_relationships(state: State, runtime: Ctx) -> Command[Any]:
    """Approval point before propose_assembly."""
    actions = ["approve", "link", "continue", "ask", "stop"]
    q = question(
        REVIEW_RELATIONSHIPS,
        REVIEW_RELATIONSHIPS_PROMPT.format(root=_root_name(state)),
        actions,
        choices=[
            {"action": "approve", "label": "approve the relationships and propose the assembly"},
            {"action": "link", "label": ACTION_LABELS["link"]},
            _continue_choice(),
            {"action": "ask", "label": ACTION_LABELS["ask"]},
            {"action": "stop", "label": ACTION_LABELS["stop"]},
        ],
    )
    answer = ask(q)
    if detour := question_or(answer, REVIEW_RELATIONSHIPS):
        return detour
    if answer["action"] == "stop":
        return Command(goto=END, update={"status": JourneyStatus.STOPPED.value})
    if answer["action"] == "continue":
        return Command(
            goto=NEXT,
            update={"notes": [text_note("Continuing without assembling whole policies.")]},
        )
    if answer["action"] == "link":
        return Command(goto=EDIT_RELATIONSHIP, update={"pending_edit": answer})
    return Command(goto=CONFIRM_RELATIONSHIPS)


def _side(state: State, text: str, what: str) -> tuple[str, str]:
    """``SOURCE.COLUMN`` as (source name, column): the longest source name it starts with."""
    names = sorted((s["name"] for s in state["sources"]), key=len, reverse=True)
    for name in names:
        if text.startswith(name + ".") and len(text) > len(name) + 1:
            return name, text[len(name) + 1 :]
    raise InputError(
        f"{what} '{text}' names no ingested source",
        where=f"link {what}",
        fix="write SOURCE.COLUMN with a source of this journey: " + ", ".join(sorted(names)),
    )


def _edit_of(state: State, answer: dict[str, Any]) -> RelationshipEdit:
    """The relationship a ``link`` answer states (InputError when it does not parse)."""
    parent, parent_key = _side(state, str(answer["parent"]), "parent")
    child, child_key = _side(state, str(answer["child"]), "child")
    kind, _, rest = str(answer["transform"]).partition(":")
    crosswalk = None
    if kind == "crosswalk":
        parts = rest.split(":")
        if len(parts) != 3 or not all(parts):
            raise InputError(
                f"crosswalk needs SOURCE:FROM_KEY:TO_KEY, got '{rest}'",
                where="link transform",
                fix="e.g. crosswalk:acquired_crosswalk:GROUP_POLICY_NO:LEGACY_POLICY_NO",
            )
        crosswalk = CrosswalkKeys(source=parts[0], from_key=parts[1], to_key=parts[2])
    if kind not in ("identity", "number", "crosswalk"):
        raise InputError(
            f"unknown key transform '{kind}'",
            where="link transform",
            fix="use identity, number or crosswalk:SOURCE:FROM_KEY:TO_KEY",
        )
    return RelationshipEdit(
        parent=parent,
        parent_key=parent_key,
        child=child,
        child_key=child_key,
        key_transform=kind,  # type: ignore[arg-type]
        crosswalk=crosswalk,
    )


def _as_edit(r: Relationship) -> RelationshipEdit:
    xw = r.key_transform.crosswalk if r.key_transform else None
    kind = r.key_transform.kind if r.key_transform else "identity"
    return RelationshipEdit(
        parent=r.parent,
        parent_key=r.parent_key,
        child=r.child,
        child_key=r.child_key,
        key_transform=kind,
        crosswalk=CrosswalkKeys(source=xw.source, from_key=xw.from_key, to_key=xw.to_key)
        if xw
        else None,
    )


async def edit_relationship(state: State, runtime: Ctx) -> Command[Any]:
    """Store the set with the person's relationship in it (replacing the one it corrects: the
    same child key to the same parent source) as the next confirmed version, then review it."""
    answer = state["pending_edit"]
    current = RelateResult.model_validate(state["relationship_set"])
    try:
        edit = _edit_of(state, answer)
    except InputError as exc:
        note = text_note(exc.message, kind="warning")
        return Command(goto=REVIEW_RELATIONSHIPS, update={"pending_edit": None, "notes": [note]})
    by_name = {s["name"]: s["source_id"] for s in state["sources"]}
    replaced = (by_name[edit.parent], by_name[edit.child], edit.child_key)
    kept = [
        _as_edit(r) for r in current.relationships if (r.parent, r.child, r.child_key) != replaced
    ]
    args = {
        "source_ids": current.sources,
        "relationships": [e.model_dump(mode="json") for e in [*kept, edit]],
    }
    try:
        stored = await runtime.context.hub.call_as(
            "confirm_relationships", args, RelateResult, server="canonical"
        )
    except ToolFailed as exc:  # the stated keys match nothing: nothing stored, review again
        note = text_note(f"Relationship not stored: {exc.message}", kind="warning")
        return Command(goto=REVIEW_RELATIONSHIPS, update={"pending_edit": None, "notes": [note]})
    except CapabilityMissing as exc:
        return blocked(EDIT_RELATIONSHIP, exc, "canonical", back=REVIEW_RELATIONSHIPS)
    rows = relationship_rows(stored)
    text = (
        f"Stored relationships version {stored.version}: {answer['parent']} -> "
        f"{answer['child']} ({edit.key_transform})."
    )
    return Command(
        goto=REVIEW_RELATIONSHIPS,
        update={
            "pending_edit": None,
            "relationships": rows,
            "relationship_set": stored.model_dump(mode="json"),
            "notes": [
                text_note(text),
                relationship_table(f"Relationships, version {stored.version}", rows),
            ],
        },
    )


async def confirm_relationships(state: State, runtime: Ctx) -> Command[Any]:
    """Store the approved set as a confirmed version (it already is after an edit)."""
    current = RelateResult.model_validate(state["relationship_set"])
    if current.status == RelationshipsStatus.CONFIRMED:
        return Command(goto=PROPOSE_ASSEMBLY)
    try:
        stored = await runtime.context.hub.call_as(
            "confirm_relationships",
            {"source_ids": current.sources},
            RelateResult,
            server="canonical",
        )
    except ToolErrors as exc:
        return blocked(CONFIRM_RELATIONSHIPS, exc, "canonical", back=REVIEW_RELATIONSHIPS)
    return Command(
        goto=PROPOSE_ASSEMBLY,
        update={
            "relationship_set": stored.model_dump(mode="json"),
            "notes": [text_note(f"Relationships confirmed (version {stored.version}).")],
        },
    )


async def propose_assembly(state: State, runtime: Ctx) -> Command[Any]:
    """Propose the assembly around the focus source (a draft: nothing uses it until approved),
    on the relationship version the person confirmed (other sources of the workspace, ingested
    outside this journey, are no candidates)."""
    confirmed = RelateResult.model_validate(state["relationship_set"])
    args: dict[str, Any] = {"root": state["focus_source"]}
    if confirmed.status == RelationshipsStatus.CONFIRMED and confirmed.version is not None:
        args["relationships_version"] = confirmed.version
    try:
        spec = await runtime.context.hub.call_as(
            "propose_assembly", args, AssemblySpec, server="canonical"
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
            v.canonical
            or (f"(needs a person: the data points to {v.suggested})" if v.suggested else None)
            or "(unmapped: records quarantined)",
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


def _review(
    state: State, step: str, prompt: str, table: dict[str, Any], edit: str
) -> dict[str, Any]:
    q = question(
        step,
        prompt,
        ["approve", edit, "continue", "ask", "stop"],
        choices=[
            {"action": "approve", "label": "approve"},
            {"action": edit, "label": ACTION_LABELS[edit]},
            _continue_choice(),
            {"action": "ask", "label": ACTION_LABELS["ask"]},
            {"action": "stop", "label": ACTION_LABELS["stop"]},
        ],
        details=[table],
    )
    return ask(q)


def _leave(answer: dict[str, Any]) -> Command[Any] | None:
    if answer["action"] == "stop":
        return Command(goto=END, update={"status": JourneyStatus.STOPPED.value})
    if answer["action"] == "continue":
        note = "Continuing without assembling whole policies (the draft assembly stays unused)."
        return Command(goto=NEXT, update={"notes": [text_note(note)]})
    return None


async def review_crosswalks(state: State, runtime: Ctx) -> Command[Any]:
    """Approval point for the code crosswalks (before approve_assembly freezes them)."""
    spec = AssemblySpec.model_validate(state["assembly"])
    answer = _review(
        state, REVIEW_CROSSWALKS, REVIEW_CROSSWALKS_PROMPT, crosswalk_table(spec), "crosswalk"
    )
    if detour := question_or(answer, REVIEW_CROSSWALKS):
        return detour
    if left := _leave(answer):
        return left
    if answer["action"] == "crosswalk":
        return Command(goto=EDIT_ASSEMBLY, update={"pending_edit": answer})
    unmapped = sum(1 for x in spec.crosswalks for v in x.values if v.canonical is None)
    text = f"Crosswalks approved ({unmapped} values left unmapped quarantine their records)."
    return Command(goto=REVIEW_SURVIVORSHIP, update={"notes": [text_note(text)]})


async def review_survivorship(state: State, runtime: Ctx) -> Command[Any]:
    """Approval point for the survivorship rules, before approve_assembly and run_assembly."""
    spec = AssemblySpec.model_validate(state["assembly"])
    answer = _review(
        state, REVIEW_SURVIVORSHIP, REVIEW_SURVIVORSHIP_PROMPT, survivorship_table(spec), "rule"
    )
    if detour := question_or(answer, REVIEW_SURVIVORSHIP):
        return detour
    if left := _leave(answer):
        return left
    if answer["action"] == "rule":
        return Command(goto=EDIT_ASSEMBLY, update={"pending_edit": answer})
    return Command(goto=APPROVE_ASSEMBLY)


UNMAPPED = ("unmapped", "none", "null", "-")


def _crosswalk_edit(spec: AssemblySpec, answer: dict[str, Any]) -> dict[str, Any]:
    """A ``crosswalk`` answer as the tool's edit (InputError: no such crosswalk column)."""
    named = str(answer["column"])
    xw = next((x for x in spec.crosswalks if f"{x.source_name}.{x.column}" == named), None)
    if xw is None:
        known = ", ".join(f"{x.source_name}.{x.column}" for x in spec.crosswalks) or "none"
        raise InputError(
            f"no crosswalk {named} in this assembly",
            where="crosswalk SOURCE.COLUMN",
            fix=f"name one of: {known}",
        )
    target = str(answer["target"]).strip()
    canonical = None if target.lower() in UNMAPPED else target
    return {
        "source": xw.source_name,
        "column": xw.column,
        "value": str(answer["value"]),
        "canonical": canonical,
    }


def _rule(answer: dict[str, Any]) -> dict[str, Any]:
    """A ``rule`` answer (``RULE SOURCE... [date=COLUMN] [tolerance=X]``) as a rule object."""
    words = str(answer["value"]).split()
    rule: dict[str, Any] = {"field": answer["field"], "rule": words[0], "sources": []}
    for word in words[1:]:
        key, eq, rest = word.partition("=")
        if eq and key in ("date", "tolerance"):
            rule["date_column" if key == "date" else "tolerance"] = rest
        else:
            rule["sources"].append(word.rstrip(","))
    return rule


async def edit_assembly(state: State, runtime: Ctx) -> Command[Any]:
    """Store the person's crosswalk value or survivorship rule as the draft's next version
    (audited), then show the review again; a refused edit changes nothing."""
    answer = state["pending_edit"]
    spec = AssemblySpec.model_validate(state["assembly"])
    back = REVIEW_CROSSWALKS if answer["action"] == "crosswalk" else REVIEW_SURVIVORSHIP
    args: dict[str, Any] = {"assembly_id": spec.assembly_id}
    try:
        if answer["action"] == "crosswalk":
            args["crosswalk_edits"] = [_crosswalk_edit(spec, answer)]
        else:
            args["survivorship"] = [_rule(answer)]
        edited = await runtime.context.hub.call_as(
            "edit_assembly", args, AssemblySpec, server="canonical"
        )
    except (InputError, ToolFailed) as exc:
        note = text_note(f"Not changed: {exc.message}", kind="warning")
        return Command(goto=back, update={"pending_edit": None, "notes": [note]})
    except CapabilityMissing as exc:
        return blocked(EDIT_ASSEMBLY, exc, "canonical", back=back)
    if answer["action"] == "crosswalk":
        edit = args["crosswalk_edits"][0]
        text = (
            f"{edit['source']}.{edit['column']} '{edit['value']}' -> "
            f"{edit['canonical'] or 'unmapped (its records are quarantined)'}"
        )
        table = crosswalk_table(edited)
    else:
        text = f"{answer['field']}: {answer['value']}"
        table = survivorship_table(edited)
    return Command(
        goto=back,
        update={
            "pending_edit": None,
            "assembly": edited.model_dump(mode="json"),
            "notes": [
                text_note(f"Assembly {spec.assembly_id} version {edited.version}: {text}."),
                table,
            ],
        },
    )


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
