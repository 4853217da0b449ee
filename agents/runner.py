"""Run a journey: open its checkpointer, MCP sessions and LLM, start or resume a thread, and
stream what it shows the person until it asks something or ends.

Used by ``data-mash chat`` (interactive) and ``data-mash journey run`` (scripted answers).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langgraph.types import Command
from pydantic import BaseModel, ValidationError

from agents.checkpoint import open_checkpointer, require_thread, thread_journey
from agents.discovery import build_discovery_graph
from agents.discovery.configuration import DiscoveryInputs
from agents.journey import JourneyContext, parse_answer
from agents.llm import llm_access
from agents.mcp_client import (
    McpHub,
    ServerSpec,
    ToolEvents,
    builtin_specs,
    load_server_config,
    merge_specs,
)
from agents.migration import build_migration_graph
from agents.migration.configuration import MigrationInputs
from core.errors import InputError
from core.settings import Settings
from core.statuses import JourneyStatus

JOURNEYS = ("discovery", "migration")
INPUT_MODELS: dict[str, type[BaseModel]] = {
    "discovery": DiscoveryInputs,
    "migration": MigrationInputs,
}
NoteSink = Callable[[dict[str, Any]], None]
Mode = Literal["new", "resume", "auto"]


@dataclass
class Outcome:
    """Where a journey stands after a run: waiting for an answer, or ended."""

    thread_id: str
    journey: str
    status: JourneyStatus
    question: dict[str, Any] | None = None
    values: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        keep = {k: v for k, v in self.values.items() if k not in ("messages", "notes", "inputs")}
        return {
            "thread_id": self.thread_id,
            "journey": self.journey,
            "status": self.status,
            "question": self.question,
            "state": keep,
        }


def build_graph(journey: str, checkpointer: Any) -> Any:
    if journey == "discovery":
        return build_discovery_graph(checkpointer=checkpointer)
    if journey == "migration":
        return build_migration_graph(checkpointer=checkpointer)
    raise InputError(f"no journey '{journey}'", fix=f"choose one of: {', '.join(JOURNEYS)}")


def validate_inputs(
    journey: str, inputs: dict[str, Any], *, where: str = "inputs"
) -> dict[str, Any]:
    """Check a journey's inputs before a thread is created; errors name the key."""
    if journey not in INPUT_MODELS:
        raise InputError(f"no journey '{journey}'", fix=f"choose one of: {', '.join(JOURNEYS)}")
    try:
        return INPUT_MODELS[journey].model_validate(inputs).model_dump(mode="json")
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise InputError(
            first["msg"].removeprefix("Value error, "), where=f"{where}.{loc}" if loc else where
        ) from None


class JourneySession:
    """One open journey thread: start it, answer its questions, read where it stands."""

    def __init__(
        self, *, graph: Any, context: JourneyContext, journey: str, on_note: NoteSink | None = None
    ) -> None:
        self.graph = graph
        self.context = context
        self.journey = journey
        self.thread_id = context.thread_id
        self.on_note = on_note
        self.config = {"configurable": {"thread_id": self.thread_id}}

    async def start(self, inputs: dict[str, Any]) -> Outcome:
        checked = validate_inputs(self.journey, inputs)
        return await self._run(
            {
                "journey": self.journey,
                "status": JourneyStatus.RUNNING.value,
                "inputs": checked,
                "notes": [],
                "decisions": [],
            }
            if self.journey == "discovery"
            else {
                "journey": self.journey,
                "status": JourneyStatus.RUNNING.value,
                "inputs": checked,
                "notes": [],
            }
        )

    async def answer(self, raw: Any, *, free_text_as_question: bool = False) -> Outcome:
        """Resume with ``raw`` once it is checked against the pending question."""
        current = await self.outcome()
        if current.question is None:
            raise InputError(
                f"journey thread '{self.thread_id}' is not waiting for an answer "
                f"(it is {current.status})"
            )
        answer = parse_answer(current.question, raw, free_text_as_question=free_text_as_question)
        return await self._run(Command(resume=answer))

    async def resume(self) -> Outcome:
        """Continue a thread that stopped mid-step (e.g. the process died in a tool call)."""
        current = await self.outcome()
        if current.question is not None or current.status != JourneyStatus.RUNNING:
            return current
        return await self._run(None)

    async def outcome(self) -> Outcome:
        snapshot = await self.graph.aget_state(self.config)
        values = dict(snapshot.values or {})
        if snapshot.interrupts:
            return Outcome(
                self.thread_id,
                self.journey,
                JourneyStatus.WAITING,
                question=snapshot.interrupts[0].value,
                values=values,
            )
        status = JourneyStatus(values.get("status", JourneyStatus.RUNNING))
        if not snapshot.next and status == JourneyStatus.RUNNING:
            status = JourneyStatus.DONE
        return Outcome(self.thread_id, self.journey, status, values=values)

    async def _run(self, payload: Any) -> Outcome:
        async for chunk in self.graph.astream(
            payload, self.config, context=self.context, stream_mode="updates"
        ):
            for node, update in chunk.items():
                if node == "__interrupt__" or not isinstance(update, dict):
                    continue
                for note in update.get("notes") or []:
                    if self.on_note is not None:
                        self.on_note(note)
        return await self.outcome()


def server_specs(
    settings: Settings, server_config: Path | None, *, only: Sequence[str] | None = None
) -> tuple[list[ServerSpec], dict[str, str]]:
    """Built-in servers plus the extras of ``server_config`` (extras replace same names);
    with ``only``, just those servers (start-up is the slow part of opening a journey)."""
    specs, absent = builtin_specs(settings)
    if server_config is not None:
        extras = load_server_config(server_config)
        specs = merge_specs(specs, extras)
        for spec in extras:
            absent.pop(spec.name, None)
    if only is not None:
        unknown = set(only) - {s.name for s in specs} - set(absent)
        if unknown:
            raise InputError(
                f"no MCP server named {sorted(unknown)}",
                fix=f"known: {', '.join(sorted({s.name for s in specs}))}",
            )
        specs = [s for s in specs if s.name in only]
        absent = {k: v for k, v in absent.items() if k in only}
    return specs, absent


@asynccontextmanager
async def open_journey(
    settings: Settings,
    *,
    journey: str | None,
    thread_id: str | None,
    mode: Mode = "auto",
    server_config: Path | None = None,
    model: BaseChatModel | None = None,
    events: ToolEvents | None = None,
    on_note: NoteSink | None = None,
    on_text: Callable[[str], None] | None = None,
    log_dir: Path | None = None,
    only: Sequence[str] | None = None,
) -> AsyncIterator[JourneySession]:
    """Open a journey thread with its checkpointer, MCP sessions and LLM access.

    ``mode``: ``new`` needs an unused thread id (one is made up if None), ``resume`` needs an
    existing thread (NotFoundError otherwise), ``auto`` resumes if the thread exists.
    """
    specs, absent = server_specs(settings, server_config, only=only)
    async with open_checkpointer(settings) as saver:
        existing = await thread_journey(saver, thread_id) if thread_id else None
        if mode == "resume":
            existing = await require_thread(saver, thread_id or "", settings)
        if mode == "new" and existing:
            raise InputError(
                f"journey thread '{thread_id}' already exists",
                fix="resume it with --thread, or choose another id",
            )
        name = existing or journey
        if name is None:
            raise InputError("which journey?", fix=f"--journey {' or '.join(JOURNEYS)}")
        if journey and existing and journey != existing:
            raise InputError(f"thread '{thread_id}' is a {existing} journey, not {journey}")
        thread = thread_id or f"{name}-{uuid.uuid4().hex[:8]}"
        graph = build_graph(name, saver)
        async with McpHub(
            specs,
            absent=absent,
            events=events,
            log_dir=log_dir or Path(settings.home) / "logs" / "mcp",
        ) as hub:
            context = JourneyContext(
                hub=hub,
                llm=llm_access(settings, model=model, on_text=on_text),
                settings=settings,
                thread_id=thread,
            )
            yield JourneySession(graph=graph, context=context, journey=name, on_note=on_note)
