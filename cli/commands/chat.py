"""``data-mash chat``, ``data-mash journey run|list`` and ``data-mash mcp-config``.

The chat drives the LangGraph journeys in a terminal: tool progress live, tables for profiles
and mappings, numbered choices, inline edit of a field mapping. Without an LLM the same journeys
run as a guided wizard. ``journey run`` answers the questions from a YAML script instead.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Annotated, Any

import anyio
import typer
from rich.console import Console
from rich.markdown import Markdown
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

from agents.checkpoint import list_threads, open_checkpointer
from agents.contracts import JourneyRunReport, JourneyThreadList, McpClientConfigs
from agents.llm import WIZARD_NOTE, probe_endpoint
from agents.mcp_client import builtin_specs, with_named_folders
from agents.runner import open_journey
from agents.script import run_script
from cli.app import command_app
from cli.commands.content import _parse_options
from cli.context import JsonOption, TenantOption, state_for
from cli.output import emit, table
from core.errors import InputError
from core.paths import allowed_roots

app = command_app()

journey_app = typer.Typer(
    name="journey", help="Run journeys from scripts; list journey threads.", no_args_is_help=True
)
app.add_typer(journey_app)

ServersOption = Annotated[
    Path | None,
    typer.Option(
        "--servers",
        help='Extra MCP servers, IDE format: {"mcpServers": {"name": {"command": ..., '
        '"args": [...], "env": {...}}}}. A built-in name replaces that server.',
    ),
]


class ChatView:
    """Renders notes, tool progress, questions and streamed answers on a terminal."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress: Progress | None = None
        self.tasks: dict[str, Any] = {}
        self.streamed = False

    def note(self, note: dict[str, Any]) -> None:
        if note["kind"] == "table":
            self.console.print(table(note["title"], note["columns"], note["rows"]))
        elif note["kind"] == "answer" and self.streamed:
            self.console.print()
            self.streamed = False
        elif note["kind"] == "warning":
            self.console.print(f"[yellow]{note['text']}[/yellow]")
        else:
            # Templates break lines on purpose: keep them (Markdown would join them).
            self.console.print(Markdown(note["text"].replace("\n", "  \n")))

    def tool(self, event: str, tool: str, detail: dict[str, Any]) -> None:
        if event == "server_failed":
            self.console.print(
                f"[yellow]MCP server {tool} unavailable: {detail['error']}[/yellow]",
                highlight=False,
            )
        elif event == "start":
            if self.progress is None:
                self.progress = Progress(
                    SpinnerColumn(),
                    TextColumn("{task.description}"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    console=self.console,
                    transient=True,
                )
                self.progress.start()
            self.tasks[tool] = self.progress.add_task(f"{tool} ({detail['server']})", total=None)
        elif event == "progress" and self.progress and tool in self.tasks:
            self.progress.update(self.tasks[tool], completed=detail["done"], total=detail["total"])
        elif event in ("done", "error") and self.progress and tool in self.tasks:
            self.progress.remove_task(self.tasks.pop(tool))
            if not self.tasks:
                self.progress.stop()
                self.progress = None
            mark = "[green]✓[/green]" if event == "done" else "[red]✗[/red]"
            self.console.print(f"{mark} {tool}", highlight=False)

    def text(self, chunk: str) -> None:
        self.streamed = True
        self.console.print(chunk, end="", highlight=False, markup=False)

    def ask(self, q: dict[str, Any]) -> Any:
        for detail in q.get("details") or []:
            self.note(detail)
        self.console.print(f"\n[bold]{q['prompt']}[/bold]")
        for choice in q["choices"]:
            self.console.print(f"  {choice['n']}. {choice['label']}")
        raw = self.console.input("[bold cyan]> [/bold cyan]").strip()
        return self._inline_edit(q, raw)

    def _inline_edit(self, q: dict[str, Any], raw: str) -> Any:
        """'edit' (or its number) without arguments: ask for the column, then the target,
        offering the current target as the default."""
        chosen = next((c for c in q["choices"] if raw == str(c["n"])), None)
        action = chosen["action"] if chosen else raw.lower()
        if action not in ("edit", "confirm", "reject", "override") or (not chosen and " " in raw):
            return raw
        names = q.get("fields") if action != "override" else q.get("gates")
        self.console.print(
            f"  {'gates' if action == 'override' else 'columns'}: {', '.join(names or [])}"
        )
        first = self.console.input("  gate: " if action == "override" else "  column: ").strip()
        if action == "override":
            return {
                "action": action,
                "gate": first,
                "reason": self.console.input("  reason: ").strip(),
            }
        if action != "edit":
            return {"action": action, "field": first}
        current = _current_target(q, first)
        target = self.console.input(f"  canonical target [{current or ''}]: ").strip()
        return {"action": "edit", "field": first, "target": target or current}


def _current_target(q: dict[str, Any], column: str) -> str | None:
    for detail in q.get("details") or []:
        if detail.get("kind") == "table" and detail["columns"][:2] == [
            "source",
            "canonical target",
        ]:
            for row in detail["rows"]:
                if row[0] == column:
                    return row[1] or None
    return None


def _new_inputs(
    console: Console,
    journey: str,
    file: Path | None,
    fmt: str | None,
    options: list[str],
    source_config: Path | None,
    source_ids: list[str],
) -> dict[str, Any]:
    """Inputs of a new journey from the options, asking for what is missing."""
    if journey == "migration":
        ids = source_ids or [
            s.strip()
            for s in console.input("Source ids to migrate (comma separated): ").split(",")
            if s.strip()
        ]
        return {"source_ids": ids}
    if source_config:
        return {"source_config": str(source_config.resolve())}
    if file is None:
        answer = console.input("Legacy file or source config (.yaml) to discover: ").strip()
        if not answer:
            raise InputError(
                "no file given", fix="pass --file PATH --format F or --source-config Y"
            )
        file = Path(answer)
        if file.suffix in (".yaml", ".yml"):
            return {"source_config": str(file.resolve())}
    if fmt is None:
        fmt = console.input(
            "Format (csv, fixed_width, cobol, json, jsonl, xlsx, xml, parquet, sqlite): "
        ).strip()
        raw = console.input("Reader options KEY=VALUE, space separated (empty: none): ").split()
        options = [*options, *raw]
    return {
        "files": [
            {"path": str(file.resolve()), "format": fmt, "options": _parse_options(options, fmt)}
        ]
    }


@app.command()
def chat(
    ctx: typer.Context,
    thread: Annotated[
        str | None, typer.Option("--thread", help="Resume this journey thread.")
    ] = None,
    journey: Annotated[
        str | None,
        typer.Option("--journey", help="discovery (default for a new thread) or migration."),
    ] = None,
    file: Annotated[Path | None, typer.Option("--file", help="Legacy file to discover.")] = None,
    fmt: Annotated[str | None, typer.Option("--format", "-f", help="Its reader format.")] = None,
    option: Annotated[
        list[str] | None, typer.Option("--option", help="Reader option KEY=VALUE (repeatable).")
    ] = None,
    source_config: Annotated[
        Path | None, typer.Option("--source-config", help="A source config YAML.")
    ] = None,
    source_id: Annotated[
        list[str] | None, typer.Option("--source-id", help="Mapped source to migrate (repeatable).")
    ] = None,
    servers: ServersOption = None,
    tenant: TenantOption = None,
) -> None:
    """Chat through a journey: guided discovery or a migration, with approvals.

    Every step is checkpointed in the workspace; close the terminal and resume with
    --thread. Free-form questions between steps need an OpenAI-compatible LLM
    (OPENAI_BASE_URL, OPENAI_API_KEY, DATA_MASH_MODEL); without one it is a guided wizard.

    Example: data-mash chat --file billing.csv --format csv --option delimiter=';'
    """

    state = state_for(ctx, False, tenant)
    named: dict[str, Any] = {"source_config": str(source_config) if source_config else None}
    if file is not None:
        named["files"] = [{"path": str(file)}]
    settings = with_named_folders(state.settings, named)  # the servers may read what you name
    console = Console()
    view = ChatView(console)
    off_reason = probe_endpoint(settings)
    console.print(
        f"[dim]LLM: {settings.model} at {settings.openai_base_url or 'api.openai.com'}[/dim]"
        if settings.llm_configured and off_reason is None
        else f"[dim]{off_reason or WIZARD_NOTE}[/dim]"
    )

    async def run() -> None:
        async with open_journey(
            settings,
            journey=None if thread else (journey or "discovery"),
            thread_id=thread,
            mode="resume" if thread else "new",
            server_config=servers,
            events=view.tool,
            on_note=view.note,
            on_text=view.text,
        ) as session:
            session.context.llm.off_reason = off_reason
            console.print(
                f"[dim]Journey {session.journey}, thread {session.thread_id} "
                f"(resume with: data-mash chat --thread {session.thread_id})[/dim]"
            )
            if thread:
                outcome = await session.resume()
            else:
                inputs = _new_inputs(
                    console,
                    session.journey,
                    file,
                    fmt,
                    option or [],
                    source_config,
                    source_id or [],
                )
                outcome = await session.start(inputs)
            while outcome.question is not None:
                try:
                    raw = view.ask(outcome.question)
                except (EOFError, KeyboardInterrupt):
                    console.print(
                        f"\nSaved. Resume with: data-mash chat --thread {session.thread_id}"
                    )
                    return
                try:
                    outcome = await session.answer(raw, free_text_as_question=True)
                except InputError as exc:
                    console.print(f"[red]{exc.message}[/red]")
            console.print(f"[bold]Journey {outcome.status}.[/bold]")

    anyio.run(run)


@journey_app.command("run")
def journey_run(
    ctx: typer.Context,
    script: Annotated[Path, typer.Argument(help="YAML script: journey, inputs, answers.")],
    servers: ServersOption = None,
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """Run a journey non-interactively, answering its questions from a script.

    An answer that does not fit the question at its step is an error naming the step.
    With `thread:` set, an existing thread is resumed (and new answers continue it).

    Example: data-mash journey run evals/scripts/discovery.yaml --json
    """

    state = state_for(ctx, json_out, tenant)
    notes: list[dict[str, Any]] = []
    console = Console(stderr=True) if state.json else Console()
    view = ChatView(console)

    def on_note(note: dict[str, Any]) -> None:
        notes.append(note)
        if not state.json:
            view.note(note)

    outcome = anyio.run(
        lambda: run_script(
            state.settings,
            script,
            server_config=servers,
            on_note=on_note,
            events=None if state.json else view.tool,
        )
    )
    data = JourneyRunReport.model_validate({**outcome.to_json(), "notes": notes})
    emit(
        state,
        data,
        lambda c: c.print(
            f"[bold]Journey {outcome.status}[/bold] (thread {outcome.thread_id})"
            + (f", waiting at step {outcome.question['step']}" if outcome.question else "")
        ),
    )


@journey_app.command("list")
def journey_list(
    ctx: typer.Context, json_out: JsonOption = False, tenant: TenantOption = None
) -> None:
    """List journey threads in the workspace (newest first)."""

    state = state_for(ctx, json_out, tenant)

    async def collect() -> list[dict[str, Any]]:
        async with open_checkpointer(state.settings) as saver:
            return await list_threads(saver)

    threads = anyio.run(collect)
    emit(
        state,
        JourneyThreadList.model_validate({"threads": threads}),
        lambda c: c.print(
            table(
                "Journey threads",
                ["thread", "journey", "status", "updated"],
                [
                    [t["thread_id"], t["journey"], t["status"], t["updated_at"][:19]]
                    for t in threads
                ],
            )
        ),
    )


@app.command("mcp-config")
def mcp_config(
    ctx: typer.Context,
    client: Annotated[str, typer.Option(help="claude, cursor, vscode or all.")] = "all",
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """Print the config that lets Claude Desktop, Cursor or VS Code use the data-mash servers."""

    state = state_for(ctx, json_out, tenant)
    if client not in ("claude", "cursor", "vscode", "all"):
        raise InputError(f"--client '{client}' is not known", fix="claude, cursor, vscode or all")
    specs, _ = builtin_specs(state.settings)
    exe = shutil.which("data-mash")
    command, prefix = (exe, []) if exe else (sys.executable, ["-m", "cli.main"])
    # The roots are written out, not left to the server's default: an IDE starts servers in a
    # working directory of its choosing, and that must not widen what the tools may read.
    roots = allowed_roots(state.settings.allowed_roots, state.settings.home)
    env = {
        "DATA_MASH_HOME": str(Path(state.settings.home).resolve()),
        "DATA_MASH_ALLOWED_ROOTS": json.dumps([str(root) for root in roots]),
    }
    entries = {
        f"data-mash-{s.name}": {"command": command, "args": [*prefix, "serve", s.name], "env": env}
        for s in specs
    }
    configs = {
        "claude": {"file": "claude_desktop_config.json", "config": {"mcpServers": entries}},
        "cursor": {"file": ".cursor/mcp.json", "config": {"mcpServers": entries}},
        "vscode": {
            "file": ".vscode/mcp.json",
            "config": {
                "servers": {name: {"type": "stdio", **entry} for name, entry in entries.items()}
            },
        },
    }
    chosen = configs if client == "all" else {client: configs[client]}

    def render(console: Console) -> None:
        for name, item in chosen.items():
            console.print(f"[bold]{name}[/bold]: add to {item['file']}")
            console.print_json(json.dumps(item["config"]))

    emit(state, McpClientConfigs.model_validate(chosen), render)
