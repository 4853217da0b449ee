"""The root ``data-mash`` Typer application. Its commands live in ``cli.commands`` modules,
each imported on first use (``LazyGroup``), so ``--help`` and every command load only what they
need."""

from __future__ import annotations

import importlib
from difflib import get_close_matches
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Literal

import typer
import typer.main
from typer import _click  # the click typer 0.29 vendors: its commands are these
from typer.core import TyperGroup

from cli.command_index import COMMANDS
from cli.context import AppState, JsonOption, TenantOption
from core.errors import ConfigError
from core.logs import bind_correlation_id, configure_logging, get_logger, resolve_level

HELP = """data-mash: move insurance policies out of legacy policy-admin systems, safely.

Typical journey:

  data-mash demo                         generate the sample estate and run it end to end

  data-mash ingest FILE --format csv     stage a legacy file  (see: data-mash ingest --help)

  data-mash profile SOURCE_ID            what is in it, and how clean it is

  data-mash map-to-canonical SOURCE_ID   propose a mapping to the canonical policy model

  data-mash relate SOURCE_ID SOURCE_ID   how the systems' records of one policy join up

  data-mash assembly propose --root SOURCE_ID   then approve and run: whole policies

  data-mash generate-plan --assembly ASSEMBLY_ID --target new_platform   plan waves

  data-mash wave run WAVE_ID             migrate one wave (resumable; roll back with rollback)

  data-mash sync status                  after a wave: legacy and new kept in step

  data-mash replay --since 1h            what happened, from the write-ahead audit log

Every command takes --json (one JSON document on stdout) and --tenant. Exit codes: 0 success,
1 a problem with your input or environment (one line on stderr says what and how to fix it),
2 a usage error. Settings come from DATA_MASH_* variables or data-mash.yaml; the workspace is
DATA_MASH_HOME (default ./.data-mash).
"""

LogFormat = Literal["console", "json"]


def command_app() -> typer.Typer:
    """The Typer a command module registers its commands (and groups) on."""
    return typer.Typer(rich_markup_mode=None, pretty_exceptions_enable=False, add_completion=False)


def load_command(name: str) -> _click.Command:
    """Import the module of command ``name`` (see ``cli.command_index``) and build it."""
    module = importlib.import_module(f"cli.commands.{COMMANDS[name][0]}")
    built = typer.main.get_command(module.app)  # a group, or the module's one command
    if isinstance(built, TyperGroup):
        found = built.commands.get(name)
    else:
        found = built if built.name == name else None
    if found is None:
        raise LookupError(f"cli.commands.{COMMANDS[name][0]} defines no command '{name}'")
    return found


class LazyGroup(TyperGroup):
    """The root group, lazy: click's documented pattern for loading subcommands on first use
    (https://click.palletsprojects.com/en/stable/complex/#lazily-loading-subcommands). The
    listing in ``--help`` comes from the index; a command's module is imported when it runs
    (or its own ``--help`` is asked for)."""

    def list_commands(self, ctx: _click.Context) -> list[str]:
        return [*super().list_commands(ctx), *(n for n in COMMANDS if n not in self.commands)]

    def get_command(self, ctx: _click.Context, cmd_name: str) -> _click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            self.add_command(load_command(cmd_name), cmd_name)
        return super().get_command(ctx, cmd_name)

    def resolve_command(
        self, ctx: _click.Context, args: list[str]
    ) -> tuple[str | None, _click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except _click.exceptions.UsageError as exc:
            # Typer suggests from the commands loaded so far; the index knows them all.
            matches = get_close_matches(args[0], list(COMMANDS)) if args else []
            if matches and "Did you mean" not in exc.message:
                names = ", ".join(repr(m) for m in matches)
                exc.message = f"{exc.message.rstrip('.')}. Did you mean {names}?"
            raise

    def format_commands(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        # TyperGroup.format_commands, with the help of a command not loaded yet from the index.
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = []
        for name in names:
            loaded = self.commands.get(name)
            if loaded is None:
                rows.append((name, _click.utils.make_default_short_help(COMMANDS[name][1], limit)))
            elif not loaded.hidden:
                rows.append((name, loaded.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


app = typer.Typer(
    name="data-mash",
    cls=LazyGroup,
    help=HELP,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        try:
            typer.echo(f"data-mash {version('data-mash')}")
        except PackageNotFoundError:
            typer.echo("data-mash (not installed)")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    json_out: JsonOption = False,
    tenant: TenantOption = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    log_format: Annotated[
        LogFormat | None,
        typer.Option(
            "--log-format",
            envvar="DATA_MASH_LOG_FORMAT",
            help="Log lines on stderr: console (default) or json (one object per line).",
            show_default=False,
        ),
    ] = None,
    verbose: Annotated[
        int, typer.Option("-v", "--verbose", count=True, help="More log lines (-vv: debug).")
    ] = 0,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Log errors only.")] = False,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            "--metrics-port",
            envvar="DATA_MASH_METRICS_PORT",
            min=1,
            max=65535,
            help="Expose Prometheus metrics at http://127.0.0.1:PORT/metrics while the command "
            "runs (for long runs: wave run, ingest).",
            show_default=False,
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    # JSON lines are for machines that collect them: INFO by default; a person on a console
    # sees warnings and up unless they ask (-v, DATA_MASH_LOG_LEVEL).
    fmt = log_format or "console"
    configure_logging(
        fmt=fmt, level=resolve_level(verbose, quiet, default="INFO" if fmt == "json" else "WARNING")
    )
    correlation_id = bind_correlation_id()
    get_logger(__name__).info(
        "command_started", command=ctx.invoked_subcommand, correlation_id=correlation_id
    )
    if metrics_port:
        # Only with --metrics-port: the Prometheus client and the store's metric hooks (which
        # load the health checks and the domain they probe, ~5 s of imports) would otherwise be
        # paid by every command and every --help.
        from core.metrics import serve_metrics  # noqa: PLC0415
        from tools.health.store_metrics import install_store_metrics  # noqa: PLC0415

        install_store_metrics()

        try:
            server = serve_metrics(metrics_port)
        except OSError as exc:
            raise ConfigError(
                f"cannot listen on 127.0.0.1:{metrics_port}: {exc.strerror}",
                where="--metrics-port",
                fix="pick a free port",
            ) from None
        # Closing callbacks run last-registered first: stop serving, then close the socket.
        ctx.call_on_close(server.server_close)
        ctx.call_on_close(server.shutdown)
    ctx.obj = AppState(
        json=json_out,
        tenant=tenant,
        debug=debug,
        log_format=log_format,
        verbose=verbose,
        quiet=quiet,
    )
