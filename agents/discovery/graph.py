"""The guided discovery journey as a LangGraph graph.

ingest -> profile -> explain -> (choose_source) -> suggest_mapping -> review_mapping
  <-> apply_edit -> approve_mapping -> map_records -> [whole policies] -> propose_rules
  -> review_rules -> export

[whole policies], when several sources were ingested (:mod:`agents.discovery.assembly_steps`):
relate -> review_relationships (<-> edit_relationship) -> confirm_relationships
  -> propose_assembly -> review_crosswalks -> review_survivorship (each <-> edit_assembly)
  -> approve_assembly -> run_assembly

Approvals are ``interrupt()`` nodes placed before the tool calls they guard (review_mapping
guards update_field_mapping and approve_mapping; review_rules guards export_mapping); nothing but
idempotent reads happens before an interrupt, because a resumed node runs again from its start.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final, Literal

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from agents.discovery import assembly_steps as steps
from agents.discovery import prompts
from agents.discovery.configuration import DiscoveryInputs, SourceInput
from agents.discovery.state import DiscoveryState
from agents.journey import (
    ACTION_LABELS,
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
from agents.mcp_client import CapabilityMissing, ToolFailed
from core.errors import DataMashError
from core.statuses import JourneyStatus
from tools.canonical.contracts import ExportResult, MappingView, MapRunResult, SuggestedMapping
from tools.content.contracts import IngestResult, SourceProfileReport
from tools.content.source_config import load_source_config
from tools.routing.contracts import RouteResult, RuleSetInfo, RulesValidation

JOURNEY = "discovery"
# Node names, Final so that Command[Literal[...]] checks each goto against its node's edges.
INGEST: Final = "ingest"
PROFILE: Final = "profile"
EXPLAIN: Final = "explain"
CHOOSE_SOURCE: Final = "choose_source"
SUGGEST: Final = "suggest_mapping"
REVIEW: Final = "review_mapping"
APPLY_EDIT: Final = "apply_edit"
APPROVE: Final = "approve_mapping"
PROPOSE_RULES: Final = "propose_rules"
REVIEW_RULES: Final = "review_rules"
EXPORT: Final = "export"
MAP_RECORDS: Final = "map_records"


def _inputs(state: State) -> DiscoveryInputs:
    return DiscoveryInputs.model_validate(state["inputs"])


def _sources_to_ingest(inputs: DiscoveryInputs) -> list[SourceInput]:
    if inputs.source_config:
        config = load_source_config(inputs.source_config)
        return [
            SourceInput(
                path=str(s.path), format=s.format, options=s.options, name=s.name, system=s.system
            )
            for s in config.sources
        ]
    return inputs.files


async def ingest(state: State, runtime: Ctx) -> Command[Literal["profile", "blocked"]]:
    """Ingest every file (ingest_file is idempotent: a retry reuses what was staged)."""
    hub = runtime.context.hub
    sources = []
    try:
        for item in _sources_to_ingest(_inputs(state)):
            result = await hub.call_as(
                "ingest_file",
                {
                    "path": item.path,
                    "format": item.format,
                    "options": item.options or None,
                    "name": item.name,
                    "system": item.system,
                },
                IngestResult,
                server="content",
            )
            sources.append(
                result.model_dump(
                    mode="json",
                    include={
                        "source_id",
                        "name",
                        "system",
                        "records",
                        "bad_records",
                        "quality_score",
                        "reused",
                    },
                )
            )
    except ToolErrors as exc:
        return blocked(INGEST, exc, "content")
    except DataMashError as exc:  # a bad source config: same retry-or-stop as a bad file
        return blocked(INGEST, ToolFailed("ingest_file", exc.message), "content")
    rows = [
        [s["name"], s["system"], s["records"], s["bad_records"], s["quality_score"], s["source_id"]]
        for s in sources
    ]
    return Command(
        goto=PROFILE,
        update={
            "sources": sources,
            "notes": [
                table_note(
                    "Ingested",
                    ["source", "system", "records", "quarantined", "quality", "id"],
                    rows,
                )
            ],
        },
    )


async def profile(state: State, runtime: Ctx) -> Command[Literal["explain", "blocked"]]:
    profiles = {}
    try:
        for source in state["sources"]:
            found = await runtime.context.hub.call_as(
                "profile_source",
                {"source_id": source["source_id"]},
                SourceProfileReport,
                server="content",
            )
            profiles[source["source_id"]] = prompts.compact_profile(found)
    except ToolErrors as exc:
        return blocked(PROFILE, exc, "content")
    return Command(goto=EXPLAIN, update={"profiles": profiles})


async def explain(state: State, runtime: Ctx) -> Command[Literal["choose_source"]]:
    """Templated explanation of every source (the LLM is never needed for this)."""
    notes = []
    for source in state["sources"]:
        found = state["profiles"][source["source_id"]]
        notes.append(
            table_note(
                f"Profile of {source['name']}",
                ["column", "type", "empty", "distinct", "pattern", "quality", "examples"],
                [
                    [
                        c["name"],
                        c["type"],
                        _pct(c["null_rate"]),
                        c["distinct"],
                        c["pattern"],
                        c["quality"],
                        ", ".join(str(v) for v in c["top_values"]),
                    ]
                    for c in found["columns"]
                ],
            )
        )
        notes.append(text_note(prompts.explain_profile(source, found)))
    return Command(goto=CHOOSE_SOURCE, update={"notes": notes})


async def choose_source(state: State, runtime: Ctx) -> Command[Any]:
    """Pick the source to map: the one named in the inputs, the only one, or ask."""
    sources = state["sources"]
    wanted = _inputs(state).source
    if wanted or len(sources) == 1:
        match = [s for s in sources if wanted in (None, s["name"], s["source_id"])]
        if not match:
            return Command(
                goto=BLOCKED,
                update={
                    "blocked": {
                        "kind": "failed",
                        "tool": "choose_source",
                        "server": "content",
                        "node": CHOOSE_SOURCE,
                        "reason": f"no ingested source is named '{wanted}'",
                    }
                },
            )
        return Command(goto=SUGGEST, update={"focus_source": match[0]["source_id"]})
    names = [s["name"] for s in sources]
    q = question(
        CHOOSE_SOURCE,
        prompts.CHOOSE_SOURCE,
        ["choose", "ask", "stop"],
        values=names,
        choices=[
            *({"action": "choose", "value": n, "label": n} for n in names),
            {"action": "ask", "label": "ask a question: ? TEXT"},
            {"action": "stop", "label": "stop here"},
        ],
    )
    answer = ask(q)
    if detour := question_or(answer, CHOOSE_SOURCE):
        return detour
    if answer["action"] == "stop":
        return Command(goto=END, update={"status": JourneyStatus.STOPPED.value})
    chosen = next(s for s in sources if s["name"] == answer["value"])
    return Command(goto=SUGGEST, update={"focus_source": chosen["source_id"]})


async def suggest_mapping(
    state: State, runtime: Ctx
) -> Command[Literal["review_mapping", "blocked"]]:
    inputs = _inputs(state)
    try:
        found = await runtime.context.hub.call_as(
            "suggest_mapping",
            {"source_id": state["focus_source"], "canonical": inputs.canonical},
            SuggestedMapping,
            server="canonical",
        )
    except ToolErrors as exc:
        return blocked(SUGGEST, exc, "canonical")
    mapping_id = found.mapping_id
    source = _source(state, state["focus_source"])
    return Command(
        goto=REVIEW,
        update={
            "mapping_id": mapping_id,
            "mapping": found.model_dump(mode="json"),
            "notes": [
                text_note(
                    prompts.explain_mapping(
                        mapping_id, source["name"], found, inputs.review_threshold
                    )
                )
            ],
        },
    )


def _proposal(state: State) -> SuggestedMapping:
    """The proposal as suggest_mapping returned it (kept in the state as its JSON)."""
    return SuggestedMapping.model_validate(state["mapping"])


def _rows(state: State) -> list[dict[str, Any]]:
    """The proposal's fields with the person's decisions so far."""
    return prompts.field_rows(_proposal(state), state.get("decisions") or [])


def mapping_table(state: State) -> dict[str, Any]:
    rows = sorted(
        _rows(state),
        key=lambda r: r["confidence"] if isinstance(r["confidence"], int | float) else 2.0,
    )
    return table_note(
        f"Mapping {state['mapping_id']}",
        ["source", "canonical target", "confidence", "status", "evidence"],
        [
            [r["source"], r["target"], _conf(r["confidence"]), r["status"], r["evidence"]]
            for r in rows
        ],
    )


async def review_mapping(state: State, runtime: Ctx) -> Command[Any]:
    """Approval point before update_field_mapping / approve_mapping (reads only before it)."""
    columns = [r["source"] for r in _rows(state)]
    columns += [c for c in prompts.unmapped_of(_proposal(state)) if c not in columns]
    actions = ["approve", "edit", "constant", "confirm", "reject", "ask", "stop"]
    way_forward = state.get("way_forward") or []
    prompt = prompts.REVIEW_MAPPING
    choices = None
    if way_forward:
        # The last edit failed: offer what fixes it first, then the usual actions.
        prompt = prompts.REVIEW_AFTER_FAILED_EDIT
        choices = [dict(c) for c in way_forward] + [
            {"action": a, "label": ACTION_LABELS.get(a, a)} for a in actions
        ]
    q = question(
        REVIEW,
        prompt,
        actions,
        choices=choices,
        fields=columns,
        details=[mapping_table(state)],
    )
    answer = ask(q)
    if detour := question_or(answer, REVIEW):
        return detour
    if answer["action"] == "stop":
        return Command(
            goto=END,
            update={
                "status": JourneyStatus.STOPPED.value,
                "notes": [
                    text_note(
                        f"Stopped before approving mapping {state['mapping_id']}; "
                        "nothing was approved."
                    )
                ],
            },
        )
    if answer["action"] == "approve":
        return Command(goto=APPROVE, update={"way_forward": None})
    return Command(goto=APPLY_EDIT, update={"pending_edit": answer, "way_forward": None})


async def apply_edit(state: State, runtime: Ctx) -> Command[Any]:
    """Apply one confirmed, edited or rejected field, or a constant (runs only after the person
    answered).

    update_field_mapping is keyed by the canonical target: an edit maps COLUMN to the new
    target (with the transform given after it, if any), a confirmation re-states COLUMN's
    proposed target, a rejection unmaps that target, a constant fills the target with one value.
    When the server refuses, the person gets back to the review with the ways forward offered as
    choices (e.g. the same edit with the date format the profile found), never the same dead end.
    """
    edit = state["pending_edit"]
    action = edit["action"]
    if action == "constant":
        return await _apply_constant(state, runtime, edit["target"], edit["value"])
    column = edit["field"]
    current = next((r["target"] for r in _rows(state) if r["source"] == column), None)
    transform: list[dict[str, Any]] | None = None
    target = current
    if action == "edit":
        try:
            target, transform = prompts.target_and_transform(edit["target"])
        except ValueError as exc:
            return _back_to_review(f"{column}: not changed: {exc}")
    if target is None:
        return _back_to_review(
            f"{column} has no proposed target to {action}; use edit {column} TARGET."
        )
    status = {"edit": "edited", "confirm": "confirmed", "reject": "rejected"}[action]
    arguments: dict[str, Any] = {
        "mapping_id": state["mapping_id"],
        "target": target,
        "source": None if action == "reject" else column,
        "unmap": action == "reject",
    }
    if transform is not None:
        arguments["transform"] = transform
    try:
        result = await runtime.context.hub.call_as(
            "update_field_mapping", arguments, MappingView, server="canonical"
        )
    except ToolFailed as exc:  # e.g. numbers are not dates: back to the review, with a way out
        ways = prompts.ways_forward(
            column,
            target,
            exc.message,
            _profile_column(state, column),
            has_transform=bool(transform),
        )
        hint = "" if not ways else " Ways forward are offered first below."
        return _back_to_review(f"{column}: not changed: {exc.message}.{hint}", ways)
    except CapabilityMissing as exc:
        return blocked(APPLY_EDIT, exc, "canonical")
    # The journey's view is the proposal plus the decisions; the draft version follows the
    # server's answer (an edit of an approved mapping starts a new draft).
    mapping = {**state["mapping"], "version": result.version}
    decision: dict[str, Any] = {
        "field": column,
        "action": action,
        "target": None if action == "reject" else target,
    }
    if transform is not None:
        decision["transform"] = transform
    return Command(
        goto=REVIEW,
        update={
            "mapping": mapping,
            "decisions": [decision],
            "pending_edit": None,
            "notes": [
                text_note(
                    f"{column}: {status}"
                    + (f" -> {target}" if action != "reject" else f" (was {target})")
                    + (f" with {prompts.transform_text(transform)}" if transform else "")
                )
            ],
        },
    )


async def _apply_constant(state: State, runtime: Ctx, target: str, value: str) -> Command[Any]:
    """Fill ``target`` with one value for every record (a constant rule has no source column)."""
    try:
        result = await runtime.context.hub.call_as(
            "update_field_mapping",
            {
                "mapping_id": state["mapping_id"],
                "target": target,
                "unmap": True,  # no source column ...
                "transform": [{"kind": "constant", "value": value}],  # ... but a value
            },
            MappingView,
            server="canonical",
        )
    except ToolFailed as exc:
        return _back_to_review(f"{target}: not changed: {exc.message}")
    except CapabilityMissing as exc:
        return blocked(APPLY_EDIT, exc, "canonical")
    mapping = {**state["mapping"], "version": result.version}
    return Command(
        goto=REVIEW,
        update={
            "mapping": mapping,
            "decisions": [{"field": None, "action": "constant", "target": target, "value": value}],
            "pending_edit": None,
            "notes": [text_note(f"{target}: set to the constant {value!r} for every record")],
        },
    )


def _back_to_review(text: str, ways: list[dict[str, Any]] | None = None) -> Command[Any]:
    return Command(
        goto=REVIEW,
        update={
            "pending_edit": None,
            "way_forward": ways or None,
            "notes": [text_note(text, kind="warning")],
        },
    )


def _profile_column(state: State, column: str) -> dict[str, Any]:
    profile = (state.get("profiles") or {}).get(state.get("focus_source") or "") or {}
    return next((c for c in profile.get("columns", []) if c.get("name") == column), {})


async def approve_mapping(state: State, runtime: Ctx) -> Command[Any]:
    # Approval takes what the matcher is sure of (its calibrated auto-accept threshold) and what
    # the person confirmed or edited (confidence 1.0); unconfirmed guesses below it stay unmapped.
    arguments: dict[str, Any] = {"mapping_id": state["mapping_id"]}
    arguments["min_confidence"] = _proposal(state).threshold
    try:
        result = await runtime.context.hub.call_as(
            "approve_mapping", arguments, MappingView, server="canonical"
        )
    except ToolFailed as exc:  # e.g. mandatory fields unmapped: the person fixes the mapping
        return Command(
            goto=REVIEW,
            update={
                "notes": [
                    text_note(
                        f"Mapping {state['mapping_id']} was not approved: {exc.message}",
                        kind="warning",
                    )
                ]
            },
        )
    except CapabilityMissing as exc:
        return blocked(APPROVE, exc, "canonical")
    text = (
        f"Mapping {state['mapping_id']} approved (status {result.status}"
        f", version {result.version})."
    )
    approved = result.model_dump(mode="json", include={"mapping_id", "status", "version"})
    return Command(goto=MAP_RECORDS, update={"approved": approved, "notes": [text_note(text)]})


async def map_records(state: State, runtime: Ctx) -> Command[Any]:
    """Write the canonical records of the approved mapping (resumable), which routing reads."""
    try:
        result = await runtime.context.hub.call_as(
            "map_to_canonical",
            {"mapping_id": state["mapping_id"]},
            MapRunResult,
            server="canonical",
        )
    except ToolErrors as exc:  # a refusal is fixed in the mapping, not by running it again
        return blocked(MAP_RECORDS, exc, "canonical", back=REVIEW)
    text = (
        f"Canonical records written: records {result.records}, valid {result.valid}, "
        f"invalid {result.invalid} (quarantined with their field errors), batches "
        f"{result.batches} ({result.resumed_batches} already done)."
    )
    following = steps.RELATE if steps.wants_assembly(state, runtime) else PROPOSE_RULES
    return Command(goto=following, update={"notes": [text_note(text)]})


async def propose_rules(state: State, runtime: Ctx) -> Command[Any]:
    """Validate, store (same YAML: same version) and dry-run the proposed rule set."""
    inputs = _inputs(state)
    hub = runtime.context.hub
    path = Path(inputs.rules)
    try:
        rules_yaml = path.read_text(encoding="utf-8")
    except OSError as exc:
        return Command(
            goto=BLOCKED,
            update={
                "blocked": {
                    "kind": "failed",
                    "tool": "read rules",
                    "server": "routing",
                    "node": PROPOSE_RULES,
                    "reason": f"{path}: {exc.strerror}",
                }
            },
        )
    try:
        validation = await hub.call_as(
            "validate_rules", {"rules": rules_yaml}, RulesValidation, server="routing"
        )
        if not validation.ok:
            problems = [[p.line, p.rule, p.message] for p in validation.errors]
            return Command(
                goto=REVIEW_RULES,
                update={
                    "routing": {"valid": False},
                    "notes": [
                        table_note(
                            f"Rule set {path.name} is invalid",
                            ["line", "rule", "problem"],
                            problems,
                        )
                    ],
                },
            )
        ref = inputs.rule_set_name
        if hub.has("store_rule_set"):
            stored = await hub.call_as(
                "store_rule_set", {"rules": rules_yaml, "name": ref}, RuleSetInfo, server="routing"
            )
            ref = f"{stored.name}@{stored.version}"
        distribution = await hub.call_as(
            "routing_distribution",
            {"source_id": state["focus_source"], "rule_set": ref},
            RouteResult,
            server="routing",
        )
    except ToolErrors as exc:
        return blocked(PROPOSE_RULES, exc, "routing")
    rules_count = rules_yaml.count("- name:")
    notes = [
        text_note(prompts.explain_routing(ref, rules_count, str(path), validation, distribution))
    ]
    notes.append(
        table_note(
            "Dry run by target",
            ["target", "policies"],
            [[k, v] for k, v in sorted(distribution.by_target.items())],
        )
    )
    return Command(
        goto=REVIEW_RULES,
        update={
            "rule_set": ref,
            "notes": notes,
            "routing": {
                "valid": True,
                "validation": validation.model_dump(mode="json"),
                "distribution": distribution.model_dump(mode="json"),
            },
        },
    )


async def review_rules(state: State, runtime: Ctx) -> Command[Any]:
    """Approval point before export_mapping."""
    valid = bool((state.get("routing") or {}).get("valid"))
    q = (
        question(REVIEW_RULES, prompts.REVIEW_RULES, ["approve", "ask", "stop"])
        if valid
        else question(REVIEW_RULES, prompts.RULES_INVALID, ["retry", "ask", "stop"])
    )
    answer = ask(q)
    if detour := question_or(answer, REVIEW_RULES):
        return detour
    if answer["action"] == "retry":
        return Command(goto=PROPOSE_RULES)
    if answer["action"] == "stop":
        return Command(goto=END, update={"status": JourneyStatus.STOPPED.value})
    return Command(
        goto=EXPORT, update={"notes": [text_note(f"Rule set {state['rule_set']} approved.")]}
    )


async def export(state: State, runtime: Ctx) -> Command[Any]:
    formats = _inputs(state).export_formats
    try:
        result = await runtime.context.hub.call_as(
            "export_mapping",
            {"mapping_id": state["mapping_id"], "formats": formats},
            ExportResult,
            server="canonical",
        )
    except ToolErrors as exc:
        return blocked(EXPORT, exc, "canonical")
    files = [f.path for f in result.files]
    return Command(
        goto=END,
        update={
            "export": {**result.model_dump(mode="json"), "files": files},
            "status": JourneyStatus.DONE.value,
            "notes": [
                table_note("Exported", ["file"], [[f] for f in files]),
                text_note(
                    f"Discovery finished: mapping {state['mapping_id']} approved and exported, "
                    f"rule set {state['rule_set']} approved."
                ),
            ],
        },
    )


def _source(state: State, source_id: str) -> dict[str, Any]:
    return next(s for s in state["sources"] if s["source_id"] == source_id)


def _pct(value: Any) -> str:
    return f"{value:.0%}" if isinstance(value, int | float) else ""


def _conf(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, int | float) else "-"


def build_discovery_graph(
    *, checkpointer: BaseCheckpointSaver[Any]
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The discovery journey, compiled with ``checkpointer`` (run it with a thread_id)."""
    builder = StateGraph(DiscoveryState, context_schema=JourneyContext)
    nodes: list[tuple[str, Any]] = [  # (a node is typed on the journey's plain-dict state)
        (INGEST, ingest),
        (PROFILE, profile),
        (EXPLAIN, explain),
        (CHOOSE_SOURCE, choose_source),
        (SUGGEST, suggest_mapping),
        (REVIEW, review_mapping),
        (APPLY_EDIT, apply_edit),
        (APPROVE, approve_mapping),
        (MAP_RECORDS, map_records),
        (steps.RELATE, steps.relate),
        (steps.REVIEW_RELATIONSHIPS, steps.review_relationships),
        (steps.EDIT_RELATIONSHIP, steps.edit_relationship),
        (steps.CONFIRM_RELATIONSHIPS, steps.confirm_relationships),
        (steps.PROPOSE_ASSEMBLY, steps.propose_assembly),
        (steps.REVIEW_CROSSWALKS, steps.review_crosswalks),
        (steps.REVIEW_SURVIVORSHIP, steps.review_survivorship),
        (steps.EDIT_ASSEMBLY, steps.edit_assembly),
        (steps.APPROVE_ASSEMBLY, steps.approve_assembly),
        (steps.RUN_ASSEMBLY, steps.run_assembly),
        (PROPOSE_RULES, propose_rules),
        (REVIEW_RULES, review_rules),
        (EXPORT, export),
        (BLOCKED, blocked_node),
        (ANSWER_QUESTION, answer_question_node),
    ]
    for name, node in nodes:
        builder.add_node(name, node)
    builder.add_edge(START, INGEST)
    return builder.compile(checkpointer=checkpointer, name=JOURNEY)
