"""MCP client wiring for journeys: one session per server for the life of a journey.

Built-in servers are started over stdio as ``data-mash serve NAME`` (the same servers an IDE
uses). Extra servers come from a config file in the IDE format::

    {"mcpServers": {"name": {"command": "...", "args": ["..."], "env": {"K": "V"}}}}

An entry named like a built-in replaces it (how tests and plugins swap a server). A server that
fails to start is recorded with its reason and the others keep working; a journey step whose tool
is missing reports that capability as missing instead of inventing a result.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections.abc import Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import anyio
from langchain_core.tools import BaseTool
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import TextContent
from pydantic import BaseModel, ValidationError

from core.errors import ConfigError, DataMashError, InputError
from core.settings import Settings
from tools.content.source_config import load_source_config

BUILTIN_SERVERS = ("content", "canonical", "routing", "waves", "governance", "sync")
Contract = TypeVar("Contract", bound=BaseModel)
START_TIMEOUT_S = 60.0

#: What the front end hears: (event, tool or server, detail). Events: "start", "progress",
#: "done", "error" for tool calls (detail: progress done/total, or the error text) and
#: "server_failed" when a server cannot start (detail: error).
ToolEvents = Callable[[str, str, dict[str, Any]], None]


class CapabilityMissing(Exception):
    """A journey step needs a tool that no connected server provides (or cannot call it)."""

    def __init__(self, tool: str, reason: str) -> None:
        self.tool = tool
        self.reason = reason
        super().__init__(f"{tool}: {reason}")


class ToolFailed(Exception):
    """A tool ran and reported an error (isError): a user-fixable problem, shown as is."""

    def __init__(self, tool: str, message: str) -> None:
        self.tool = tool
        self.message = message
        super().__init__(f"{tool} failed: {message}")


@dataclass(frozen=True)
class ServerSpec:
    """How to start (or reach) one MCP server."""

    name: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    url: str | None = None
    builtin: bool = False


def builtin_specs(settings: Settings) -> tuple[list[ServerSpec], dict[str, str]]:
    """Specs of the built-in servers installed in this version, and why the others are absent."""
    env = server_env(settings)
    specs, absent = [], {}
    for name in BUILTIN_SERVERS:
        if importlib.util.find_spec(f"servers.{name}") is None:
            absent[name] = f"the {name} server is not available in this version"
            continue
        specs.append(
            ServerSpec(
                name=name,
                command=sys.executable,
                args=("-m", "cli.main", "serve", name),
                env=env,
                builtin=True,
            )
        )
    return specs, absent


def with_named_folders(settings: Settings, inputs: Mapping[str, Any] | None) -> Settings:
    """``settings`` whose allowed roots also hold the folders of the files a journey names.

    The servers a journey starts may read only the workspace and the folders the user named:
    here, the folder of each ``files[].path`` and of the ``source_config`` (and its entries),
    never the current directory by default.
    """
    folders: list[Path] = []
    for item in (inputs or {}).get("files") or []:
        if isinstance(item, Mapping) and item.get("path"):
            folders.append(Path(str(item["path"])).expanduser().resolve().parent)
    config = (inputs or {}).get("source_config")
    if config:
        folders.append(Path(str(config)).expanduser().resolve().parent)
        try:
            loaded = load_source_config(config, check_files=False, check_options=False)
            folders.extend(Path(entry.path).parent for entry in loaded.sources)
        except DataMashError:
            pass  # the journey reports a bad config itself, at its ingest step
    named = [f for f in dict.fromkeys(folders) if f != Path(f.anchor)]
    if not named:
        return settings
    roots = list(dict.fromkeys([*settings.allowed_roots, *named]))
    return settings.model_copy(update={"allowed_roots": roots})


def server_env(settings: Settings) -> dict[str, str]:
    """The settings a built-in server must share with the journey (never a secret: those
    are inherited from the environment, not written anywhere)."""
    env = {
        "DATA_MASH_HOME": str(Path(settings.home).resolve()),
        "DATA_MASH_TENANT": settings.tenant,
        "DATA_MASH_EMBEDDING_PROVIDER": settings.embedding_provider,
        "DATA_MASH_BATCH_SIZE": str(settings.batch_size),
    }
    if settings.db_url:
        env["DATA_MASH_DB_URL"] = settings.db_url
    if settings.allowed_roots:
        env["DATA_MASH_ALLOWED_ROOTS"] = json.dumps([str(p) for p in settings.allowed_roots])
    return env


def load_server_config(path: Path | str) -> list[ServerSpec]:
    """Read extra servers from an IDE-format config file; errors name file, key and problem."""
    file = Path(path)
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            "MCP server config not found",
            where=str(file),
            fix="pass an existing file with --servers",
        ) from None
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"not valid JSON: {exc.msg}",
            where=f"{file}:{exc.lineno}:{exc.colno}",
            fix='expected {"mcpServers": {"name": {"command": ..., "args": [...]}}}',
        ) from None
    servers = raw.get("mcpServers") if isinstance(raw, dict) else None
    if not isinstance(servers, dict):
        raise ConfigError(
            "missing key 'mcpServers' (an object of servers)",
            where=str(file),
            fix='expected {"mcpServers": {"name": {"command": ..., "args": [...]}}}',
        )
    return [_spec_from_entry(file, name, entry) for name, entry in servers.items()]


def _spec_from_entry(file: Path, name: str, entry: Any) -> ServerSpec:
    where = f"{file}: mcpServers.{name}"
    if not isinstance(entry, dict):
        raise ConfigError("must be an object with 'command' (or 'url')", where=where)
    unknown = set(entry) - {"command", "args", "env", "url", "type", "transport", "cwd"}
    if unknown:
        raise ConfigError(
            f"unknown key(s) {sorted(unknown)}", where=where, fix="allowed: command, args, env, url"
        )
    command, url = entry.get("command"), entry.get("url")
    if not (isinstance(command, str) and command) and not (isinstance(url, str) and url):
        raise ConfigError("needs 'command' (a string) or 'url'", where=f"{where}.command")
    args = entry.get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise ConfigError("must be a list of strings", where=f"{where}.args")
    env = entry.get("env", {})
    if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
        raise ConfigError("must be an object of string values", where=f"{where}.env")
    return ServerSpec(
        name=name,
        command=command,
        args=tuple(args),
        env=dict(env),
        url=url,
        builtin=name in BUILTIN_SERVERS,
    )


def merge_specs(builtins: list[ServerSpec], extras: list[ServerSpec]) -> list[ServerSpec]:
    """Extras replace built-ins of the same name; the rest are added after them."""
    by_name = {s.name: s for s in builtins}
    for spec in extras:
        replaced = by_name.get(spec.name)
        if replaced is not None:  # a stand-in for a built-in sees the same workspace
            spec = ServerSpec(
                name=spec.name,
                command=spec.command,
                args=spec.args,
                env={**replaced.env, **spec.env},
                url=spec.url,
                builtin=True,
            )
        by_name[spec.name] = spec
    return list(by_name.values())


@dataclass
class ToolRoute:
    server: str
    session: ClientSession
    schema: dict[str, Any]


class McpHub:
    """Sessions to several MCP servers, one per server, and their tools by name.

    Use as ``async with McpHub(specs, log_dir=...) as hub``. A server starts on first use; its
    session lives in its own task until the hub closes, so a slow or broken server cannot take
    the others down.
    """

    def __init__(
        self,
        specs: list[ServerSpec],
        *,
        log_dir: Path,
        absent: dict[str, str] | None = None,
        events: ToolEvents | None = None,
        start_timeout: float = START_TIMEOUT_S,
    ) -> None:
        self.specs = specs
        self.log_dir = log_dir
        self.failed: dict[str, str] = dict(absent or {})
        self.events = events
        self.start_timeout = start_timeout
        self.routes: dict[str, ToolRoute] = {}
        self.sessions: dict[str, ClientSession] = {}
        self._stack = AsyncExitStack()
        self._stop = anyio.Event()
        self._tools: list[BaseTool] | None = None
        self._scopes: dict[str, anyio.CancelScope] = {}
        self._started: set[str] = set()
        self._lock = anyio.Lock()
        self._rank = {spec.name: i for i, spec in enumerate(specs)}
        self._group: Any = None

    async def __aenter__(self) -> McpHub:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._group = await self._stack.enter_async_context(anyio.create_task_group())
        self._stack.push_async_callback(self._signal_stop)
        return self

    async def start(self, names: list[str] | None = None) -> None:
        """Start the named servers (default: all) that have not been started, concurrently.

        Servers start on first use: a journey step starts the one it needs, a free-form
        question starts them all (the model must see every tool). Once started, a server's
        session lives until the hub closes.
        """
        async with self._lock:
            wanted = [
                s
                for s in self.specs
                if (names is None or s.name in names) and s.name not in self._started
            ]
            ready = {spec.name: anyio.Event() for spec in wanted}
            for spec in wanted:
                self._started.add(spec.name)
                self._group.start_soon(self._hold, spec, ready[spec.name])
            with anyio.move_on_after(self.start_timeout):
                for event in ready.values():
                    await event.wait()
            for spec in wanted:
                if spec.name in self.sessions:
                    await self._index_tools(spec.name, self.sessions[spec.name])
                elif spec.name not in self.failed:
                    self.failed[spec.name] = f"did not start within {self.start_timeout:.0f} s"
                    self._scopes[spec.name].cancel()
                if spec.name in self.failed:
                    self._emit("server_failed", spec.name, {"error": self.failed[spec.name]})
            if wanted:
                self._tools = None

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    async def _signal_stop(self) -> None:
        self._stop.set()

    async def _hold(self, spec: ServerSpec, ready: anyio.Event) -> None:
        """Keep one server's session open until the hub closes; record why if it cannot."""
        log_path = self.log_dir / f"{spec.name}.log"
        with anyio.CancelScope() as scope:
            self._scopes[spec.name] = scope
            try:
                with log_path.open("a", encoding="utf-8") as errlog:
                    async with _open_session(spec, errlog) as session:
                        await session.initialize()
                        self.sessions[spec.name] = session
                        ready.set()
                        await self._stop.wait()
            except Exception as exc:  # noqa: BLE001  (one broken server must not stop others)
                self.failed[spec.name] = _start_failure(exc, log_path)
            finally:
                ready.set()

    async def _index_tools(self, server: str, session: ClientSession) -> None:
        try:
            listed = await session.list_tools()
        except Exception as exc:  # noqa: BLE001
            self.failed[server] = f"tools/list failed: {exc}"
            return
        for tool in listed.tools:
            # Where two servers offer a name, the one listed first (built-ins) keeps it.
            known = self.routes.get(tool.name)
            if known is None or self._rank[server] < self._rank[known.server]:
                self.routes[tool.name] = ToolRoute(server, session, tool.inputSchema or {})

    def has(self, tool: str) -> bool:
        return tool in self.routes

    def status(self) -> dict[str, Any]:
        """Connected servers with their tools, servers missing or failed, and not started."""
        tools: dict[str, list[str]] = {name: [] for name in self.sessions}
        for name, route in self.routes.items():
            tools.setdefault(route.server, []).append(name)
        waiting = [s.name for s in self.specs if s.name not in self._started]
        return {"connected": tools, "failed": dict(self.failed), "not_started": waiting}

    def missing_reason(self, tool: str, server: str | None = None) -> str:
        if server and server in self.failed:
            return f"the {server} server is unavailable: {self.failed[server]}"
        return "no connected MCP server offers this tool"

    async def call(
        self, tool: str, arguments: dict[str, Any], *, server: str | None = None
    ) -> dict[str, Any]:
        """Call ``tool`` with the arguments its schema accepts; return its structured result.

        Candidate arguments the tool does not declare are dropped, so journeys tolerate small
        signature differences between servers; a required argument no candidate fills raises
        CapabilityMissing naming it.
        """
        if tool not in self.routes and server in self._rank:
            await self.start([server])
        if tool not in self.routes:
            await self.start()
        route = self.routes.get(tool)
        if route is None:
            raise CapabilityMissing(tool, self.missing_reason(tool, server))
        args = fit_arguments(tool, route.schema, arguments)
        self._emit("start", tool, {"server": route.server, "arguments": args})

        # Parameter names as mcp's ProgressFnT protocol spells them.
        async def progress(progress: float, total: float | None, message: str | None) -> None:
            self._emit("progress", tool, {"done": progress, "total": total, "message": message})

        try:
            result = await route.session.call_tool(tool, args, progress_callback=progress)
        except Exception as exc:  # noqa: BLE001  (a transport failure: the server went away)
            self._emit("error", tool, {"error": str(exc)})
            raise CapabilityMissing(
                tool, f"the {route.server} server stopped responding: {exc or type(exc).__name__}"
            ) from None
        if result.isError:
            text = " ".join(c.text for c in result.content if isinstance(c, TextContent))
            self._emit("error", tool, {"error": text})
            raise ToolFailed(tool, text or "the tool reported an error")
        data = structured(result)
        self._emit("done", tool, {"server": route.server})
        return data

    async def call_as(
        self,
        tool: str,
        arguments: dict[str, Any],
        contract: type[Contract],
        *,
        server: str | None = None,
    ) -> Contract:
        """Call ``tool`` and validate its structured result into ``contract``, the model the
        built-in server returns (tools/<capability>/contracts.py): no key is guessed.

        Raises:
            ToolFailed: the result does not match the contract (a server of another version or
                a stand-in that returns something else), naming the first mismatching field.
        """
        data = await self.call(tool, arguments, server=server)
        try:
            return contract.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(the result)"
            raise ToolFailed(
                tool,
                f"its result does not match the {contract.__name__} contract at {where}: "
                f"{first['msg']} ({exc.error_count()} problem(s))",
            ) from None

    def _emit(self, event: str, tool: str, detail: dict[str, Any]) -> None:
        if self.events is not None:
            self.events(event, tool, detail)

    async def langchain_tools(self) -> list[BaseTool]:
        """Every connected tool as a LangChain tool bound to the hub's open sessions."""
        await self.start()
        if self._tools is None:
            # Imported here: loaded only for the free-form chat.
            from langchain_mcp_adapters.tools import load_mcp_tools  # noqa: PLC0415

            found: list[BaseTool] = []
            seen: set[str] = set()
            for name, session in sorted(
                self.sessions.items(), key=lambda item: self._rank[item[0]]
            ):
                for tool in await load_mcp_tools(session, server_name=name):
                    if tool.name not in seen:
                        seen.add(tool.name)
                        found.append(tool)
            self._tools = found
        return self._tools


def fit_arguments(tool: str, schema: dict[str, Any], candidates: dict[str, Any]) -> dict[str, Any]:
    """Keep the candidates ``schema`` declares; fail clearly on a required one that is missing."""
    props = schema.get("properties")
    if not isinstance(props, dict):
        return {k: v for k, v in candidates.items() if v is not None}
    args = {k: v for k, v in candidates.items() if k in props and v is not None}
    missing = [r for r in schema.get("required", []) if r not in args]
    if missing:
        raise CapabilityMissing(
            tool,
            f"needs argument(s) {missing} that this journey step does "
            f"not supply (it offered {sorted(candidates)})",
        )
    return args


def structured(result: Any) -> dict[str, Any]:
    """A tool result as a dict: structured content (unwrapped), else the text parsed as JSON."""
    data = result.structuredContent
    if data is None:
        text = "".join(c.text for c in result.content if isinstance(c, TextContent))
        try:
            data = json.loads(text) if text else {}
        except json.JSONDecodeError:
            data = {"text": text}
    if isinstance(data, dict) and set(data) == {"result"}:
        data = data["result"]
    return data if isinstance(data, dict) else {"result": data}


@asynccontextmanager
async def _open_session(spec: ServerSpec, errlog: Any) -> Any:
    if spec.url:
        async with streamable_http_client(spec.url) as (read, write, _):
            async with ClientSession(read, write) as session:
                yield session
        return
    if not spec.command:
        raise InputError(f"server '{spec.name}' has neither command nor url")
    params = StdioServerParameters(
        command=spec.command, args=list(spec.args), env={**os.environ, **spec.env}, cwd=os.getcwd()
    )
    async with stdio_client(params, errlog=errlog) as (read, write):
        async with ClientSession(read, write) as session:
            yield session


def _start_failure(exc: BaseException, log_path: Path) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    reason = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
    try:
        tail = [line for line in log_path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        tail = []
    if tail:
        reason += f" (last server output: {tail[-1][:300]})"
    return reason
