"""What every journey shares: its runtime context, notes for the person, questions and answers,
and the two nodes every graph has (a blocked step, a free-form question).

A question is the value of an ``interrupt()``: the step name, a prompt, the actions it accepts
(numbered for the wizard) and the details to show. An answer is ``{"action": ..., params}`` or
one of the short text forms ``parse_answer`` reads ("2", "approve", "edit COL target", ...).
"""

from __future__ import annotations

import operator
import shlex
from dataclasses import dataclass
from typing import Annotated, Any, Final, TypedDict

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.graph import END
from langgraph.graph.message import add_messages
from langgraph.runtime import Runtime
from langgraph.types import Command, interrupt

from agents.freeform import answer_question
from agents.llm import LlmAccess
from agents.mcp_client import CapabilityMissing, McpHub, ToolFailed
from core.errors import InputError
from core.settings import Settings
from core.statuses import JourneyStatus
from servers.prompts import prompt_text

BLOCKED: Final = "blocked"
ANSWER_QUESTION: Final = "answer_question"

#: Parameters each action takes, in the order the short text form gives them.
ACTION_PARAMS: dict[str, tuple[str, ...]] = {
    "approve": (),
    "run": (),
    "retry": (),
    "back": (),
    "stop": (),
    "continue": (),
    "rollback": (),
    "reject_all": (),
    "edit": ("field", "target"),
    "constant": ("target", "value"),
    "confirm": ("field",),
    "reject": ("field",),
    "override": ("gate", "reason"),
    "choose": ("value",),
    "ask": ("text",),
    "link": ("parent", "child", "transform"),
    "crosswalk": ("column", "value", "target"),
    "rule": ("field", "value"),
}
ACTION_LABELS = {
    "approve": "approve",
    "run": "run the wave",
    "retry": "retry the step",
    "back": "go back and change what the step used",
    "stop": "stop here",
    "continue": "continue",
    "rollback": "roll the wave back",
    "edit": "edit a field: edit COLUMN canonical.target [date FORMAT | money DECIMALS | "
    "code TABLE | JSON transform]",
    "constant": "fill a field with one value for every record: constant canonical.target VALUE",
    "confirm": "confirm a field: confirm COLUMN",
    "reject": "reject a field (leave it unmapped): reject COLUMN",
    "override": "override a failed gate: override GATE REASON",
    "choose": "choose one: choose VALUE",
    "ask": "ask a question: ask TEXT (or ? TEXT)",
    "link": "state a relationship: link PARENT.KEY CHILD.KEY identity|number|"
    "crosswalk:SOURCE:FROM_KEY:TO_KEY",
    "crosswalk": "map a code: crosswalk SOURCE.COLUMN VALUE CANONICAL (or unmapped)",
    "rule": "set a field's survivorship: rule FIELD source_priority|most_recent|"
    "first_non_null|must_agree SOURCE... [date=COLUMN] [tolerance=X]",
}


@dataclass
class JourneyContext:
    """What nodes need at run time and must not be checkpointed: sessions, the LLM, settings."""

    hub: McpHub
    llm: LlmAccess
    settings: Settings
    thread_id: str


class JourneyState(TypedDict, total=False):
    """The checkpointed keys every journey has (plain JSON values and messages only); each
    journey's state adds its own."""

    journey: str
    # a JourneyStatus's value, stored as the plain string: the checkpointer revives only the
    # types it was told to trust
    status: str
    inputs: dict[str, Any]
    notes: Annotated[list[dict[str, Any]], operator.add]
    messages: Annotated[list[AnyMessage], add_messages]
    pending_question: str | None
    return_to: str | None
    blocked: dict[str, Any] | None


Ctx = Runtime[JourneyContext]
"""What a node receives besides the state."""
State = dict[str, Any]
"""A node's view of the state (the TypedDicts are for the graph's channels)."""
ToolErrors = (CapabilityMissing, ToolFailed)
"""What a tool call raises that a node turns into a blocked step."""


class AnswerError(InputError):
    """An answer that does not fit the question it was given to."""

    def __init__(self, step: str, problem: str, *, fix: str | None = None) -> None:
        super().__init__(problem, where=f"step '{step}'", fix=fix)
        self.step = step


# --- notes: what the person is shown, in order --------------------------------------------


def text_note(text: str, *, title: str | None = None, kind: str = "text") -> dict[str, Any]:
    return {"kind": kind, "title": title, "text": text}


def table_note(title: str, columns: list[str], rows: list[list[Any]]) -> dict[str, Any]:
    return {
        "kind": "table",
        "title": title,
        "columns": columns,
        "rows": [["" if v is None else str(v) for v in row] for row in rows],
    }


# --- questions and answers ----------------------------------------------------------------


def question(
    step: str,
    prompt: str,
    actions: list[str],
    *,
    choices: list[dict[str, Any]] | None = None,
    fields: list[str] | None = None,
    gates: list[str] | None = None,
    values: list[str] | None = None,
    details: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """An interrupt payload. ``choices`` are the numbered options; by default one per action."""
    numbered = (
        choices
        if choices is not None
        else [{"action": a, "label": ACTION_LABELS.get(a, a)} for a in actions]
    )
    for n, choice in enumerate(numbered, start=1):
        choice["n"] = n
    return {
        "step": step,
        "prompt": prompt,
        "actions": actions,
        "choices": numbered,
        "fields": fields,
        "gates": gates,
        "values": values,
        "details": details or [],
    }


def parse_answer(
    q: dict[str, Any], raw: Any, *, free_text_as_question: bool = False
) -> dict[str, Any]:
    """Read ``raw`` as an answer to ``q``; raise AnswerError naming the step if it does not fit."""
    step = q["step"]
    if isinstance(raw, int) or (isinstance(raw, str) and raw.strip().isdigit()):
        n = int(raw)
        for choice in q["choices"]:
            if choice["n"] == n:
                answer = {k: v for k, v in choice.items() if k not in ("n", "label")}
                return _checked(q, answer)
        raise AnswerError(step, f"there is no choice {n}", fix=f"choose 1-{len(q['choices'])}")
    if isinstance(raw, dict):
        return _checked(q, dict(raw))
    if not isinstance(raw, str) or not raw.strip():
        raise AnswerError(step, f"an answer must be text, a number or a mapping, not {raw!r}")
    text = raw.strip()
    if text.startswith("?"):
        return _checked(q, {"action": "ask", "text": text[1:].strip()})
    words = text.split(maxsplit=1)
    action, rest = words[0].lower(), words[1] if len(words) > 1 else ""
    if action not in ACTION_PARAMS:
        if free_text_as_question and "ask" in q["actions"]:
            return _checked(q, {"action": "ask", "text": text})
        raise AnswerError(
            step,
            f"'{text}' is not an answer to this question",
            fix=f"answer one of: {', '.join(q['actions'])} (or a choice number)",
        )
    params = ACTION_PARAMS[action]
    if not params:
        values: list[str] = []
    elif params[-1] in ("reason", "text", "target", "value"):
        # The last parameter takes the rest of the line (a reason or a question has spaces).
        head = rest.split(maxsplit=len(params) - 1) if len(params) > 1 else [rest]
        values = [v for v in head if v]
    else:
        values = shlex.split(rest)
    return _checked(q, {"action": action, **dict(zip(params, values, strict=False))})


def _checked(q: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
    step, action = q["step"], answer.get("action")
    if action not in q["actions"]:
        raise AnswerError(
            step,
            f"'{action}' is not possible here",
            fix=f"answer one of: {', '.join(q['actions'])}",
        )
    for param in ACTION_PARAMS.get(str(action), ()):
        value = answer.get(param)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise AnswerError(
                step, f"'{action}' needs {param}", fix=ACTION_LABELS.get(str(action), action)
            )
    allowed = {"field": q.get("fields"), "gate": q.get("gates"), "value": q.get("values")}
    for param, options in allowed.items():
        if param in answer and options is not None and answer[param] not in options:
            shown = ", ".join(options[:12]) + (" ..." if len(options) > 12 else "")
            raise AnswerError(
                step,
                f"{param} '{answer[param]}' is not one of this step's {param}s",
                fix=f"choose one of: {shown}",
            )
    return answer


def ask(q: dict[str, Any]) -> dict[str, Any]:
    """``interrupt()`` with ``q`` until an answer fits it (scripts are validated before resume)."""
    raw = interrupt(q)
    return parse_answer(q, raw)


# --- steps that call tools ----------------------------------------------------------------


def blocked(
    node: str,
    exc: Exception,
    server: str,
    *,
    notes: list[dict[str, Any]] | None = None,
    back: str | None = None,
) -> Command[Any]:
    """Go to the blocked step after ``node`` hit a missing capability or a failed tool.

    ``back`` names the step where the person decided what failed (e.g. the mapping review):
    when a tool refused its input, retrying the same input is the same dead end, so going back
    there is offered too.
    """
    if isinstance(exc, CapabilityMissing):
        info = {"kind": "missing", "tool": exc.tool, "server": server, "reason": exc.reason}
        text = f"Capability missing: {exc.tool} ({exc.reason}). This step did not run."
    elif isinstance(exc, ToolFailed):
        info = {"kind": "failed", "tool": exc.tool, "server": server, "reason": exc.message}
        text = f"{exc.tool} failed: {exc.message}"
    else:
        raise exc
    info["node"] = node
    if back is not None and isinstance(exc, ToolFailed):
        info["back"] = back
    return Command(
        goto=BLOCKED,
        update={"blocked": info, "notes": [*(notes or []), text_note(text, kind="warning")]},
    )


async def blocked_node(state: dict[str, Any], runtime: Runtime[JourneyContext]) -> Command[Any]:
    """Ask whether to retry a step that could not run, or stop (the thread can resume later)."""
    info = state["blocked"]
    what = "is not available" if info["kind"] == "missing" else "failed"
    back = info.get("back")
    actions = ["retry", "back", "stop", "ask"] if back else ["retry", "stop", "ask"]
    choices = [
        {
            "action": a,
            "label": f"go back to '{back}' and change what it decided"
            if a == "back"
            else ACTION_LABELS[a],
        }
        for a in actions
    ]
    q = question(
        BLOCKED,
        f"Step '{info['node']}' could not run: {info['tool']} {what} "
        f"({info['reason']}). "
        + (
            f"Go back to '{back}' to change its input (retrying the same input fails the same "
            "way), retry it once the input is fixed elsewhere, or stop."
            if back
            else f"Retry it (e.g. once the {info['server']} server is installed or the input "
            "is fixed), or stop."
        ),
        actions,
        choices=choices,
    )
    answer = ask(q)
    if answer["action"] == "ask":
        return _to_question(answer, BLOCKED)
    if answer["action"] == "retry":
        return Command(goto=info["node"], update={"blocked": None})
    if answer["action"] == "back" and back:
        return Command(
            goto=back,
            update={
                "blocked": None,
                "notes": [text_note(f"Back to '{back}': {info['tool']} said: {info['reason']}")],
            },
        )
    return Command(
        goto=END,
        update={
            "status": JourneyStatus.STOPPED.value,
            "notes": [
                text_note(
                    f"Stopped at step '{info['node']}': {info['tool']} {what}. "
                    "Resume this thread to retry."
                )
            ],
        },
    )


def _to_question(answer: dict[str, Any], return_to: str) -> Command[Any]:
    return Command(
        goto=ANSWER_QUESTION, update={"pending_question": answer["text"], "return_to": return_to}
    )


def question_or(answer: dict[str, Any], return_to: str) -> Command[Any] | None:
    """The detour to answer a free-form question, when the answer is one."""
    return _to_question(answer, return_to) if answer["action"] == "ask" else None


async def answer_question_node(
    state: dict[str, Any], runtime: Runtime[JourneyContext]
) -> Command[Any]:
    """Answer a free-form question with the LLM and the MCP tools, then go back to the step."""

    ctx = runtime.context
    system = prompt_text(
        "data_mash_assistant",
        journey=state.get("journey", ""),
        step=state.get("return_to", ""),
        context=summary_of(state),
    )
    new = await answer_question(
        ctx.llm,
        ctx.hub,
        state["pending_question"],
        system=system,
        history=state.get("messages", []),
        thread_id=ctx.thread_id,
    )
    reply = new[-1].content if new and isinstance(new[-1], AIMessage) else ""
    return Command(
        goto=state["return_to"],
        update={
            "messages": new,
            "pending_question": None,
            "notes": [text_note(str(reply), title="Answer", kind="answer")],
        },
    )


def summary_of(state: dict[str, Any]) -> str:
    """A few facts of the journey so far, for the LLM's system prompt."""
    keys = ("sources", "focus_source", "mapping_id", "rule_set", "plan_id", "current_wave")
    parts = []
    for key in keys:
        value = state.get(key)
        if value:
            parts.append(f"{key}={value if not isinstance(value, list) else len(value)}")
    return ", ".join(parts) or "nothing yet"


def human(text: str) -> HumanMessage:
    return HumanMessage(content=text)
