"""What every command receives: settings read once at the edge, output mode, tenant."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from sqlalchemy import Engine

from core.errors import ConfigError
from core.ids import check_tenant
from core.logs import get_logger, register_secret
from core.settings import Settings

JsonOption = Annotated[
    bool, typer.Option("--json", help="Print one JSON document on stdout and nothing else.")
]
TenantOption = Annotated[
    str | None,
    typer.Option(
        "--tenant",
        help="Tenant to act for (default: DATA_MASH_TENANT or 'default').",
        show_default=False,
    ),
]

PolicyIdArgument = Annotated[str, typer.Argument(help="The policy id, as in the legacy system.")]


def load_settings(**overrides: object) -> Settings:
    """Read Settings, turning a bad environment or data-mash.yaml into one clear line."""
    try:
        settings = Settings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first["loc"]) or "settings"
        raise ConfigError(
            first["msg"],
            where=f"DATA_MASH_{name.upper()}",
            fix="fix the environment variable or data-mash.yaml",
        ) from None
    for secret in settings.secret_values():
        register_secret(secret)
    get_logger(__name__).debug("settings_loaded", **settings.redacted())
    return settings


@dataclass
class AppState:
    """Per-invocation state shared by the root callback and the command."""

    json: bool = False
    tenant: str | None = None
    debug: bool = False
    log_format: str | None = None  # as asked on the command line (None: each door's default)
    verbose: int = 0
    quiet: bool = False
    _settings: Settings | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            if self.tenant is not None:  # name the option the user typed, not an env variable
                check_tenant(self.tenant, where="--tenant")
            self._settings = load_settings(tenant=self.tenant)
        return self._settings

    @cached_property
    def engine(self) -> Engine:
        # The store (SQLModel tables, migrations) loads when a command first needs it, not for
        # --help or a usage error.
        from core.store import open_store  # noqa: PLC0415

        return open_store(self.settings)

    @property
    def console(self) -> Console:
        return Console(stderr=self.json)


def state_for(ctx: typer.Context, json_out: bool = False, tenant: str | None = None) -> AppState:
    """The invocation's state, with command-level --json/--tenant taking precedence."""
    root = ctx.find_root()
    state: AppState = root.obj if isinstance(root.obj, AppState) else AppState()
    root.obj = state
    if json_out:
        state.json = True
    if tenant:
        if state._settings is not None and state.tenant != tenant:
            state._settings = None
        state.tenant = tenant
    return state
