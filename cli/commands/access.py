"""``data-mash token create|list|revoke``: bearer tokens for the HTTP servers (MCP and REST)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from cli.app import command_app
from cli.context import JsonOption, TenantOption, state_for
from cli.output import emit, table
from tools.access import TokenList, TokenStore

app = command_app()

token_app = typer.Typer(
    help="Bearer tokens for the HTTP servers: one tenant and one role each, stored hashed.",
    no_args_is_help=True,
)
app.add_typer(token_app, name="token")


@token_app.command("create")
def token_create(
    ctx: typer.Context,
    role: Annotated[str, typer.Option("--role", help="viewer, operator or approver.")],
    label: Annotated[
        str | None, typer.Option("--label", help="What the token is for (shown in lists).")
    ] = None,
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """Create a token for one tenant and role. It is printed once: store it now.

    Example: data-mash token create --tenant acme --role operator --label "ci runner"
    """

    state = state_for(ctx, json_out, tenant)
    created = TokenStore(state.engine).create(state.settings.tenant, role, label=label)

    def render(console: Console) -> None:
        console.print(
            f"Token [bold]{created.token_id}[/bold] for tenant {created.tenant}, "
            f"role {created.role.value}. Shown once; only its hash is kept:"
        )
        console.print(created.token, soft_wrap=True, highlight=False)
        console.print("Send it as: Authorization: Bearer <token>")

    emit(state, created, render)


@token_app.command("list")
def token_list(
    ctx: typer.Context,
    all_tenants: Annotated[
        bool, typer.Option("--all-tenants", help="List every tenant's tokens.")
    ] = False,
    revoked: Annotated[bool, typer.Option("--revoked", help="Include revoked tokens.")] = False,
    json_out: JsonOption = False,
    tenant: TenantOption = None,
) -> None:
    """List tokens (ids, tenants, roles; never the secrets)."""

    state = state_for(ctx, json_out, tenant)
    tokens = TokenStore(state.engine).list(
        None if all_tenants else state.settings.tenant, include_revoked=revoked
    )
    result = TokenList(tokens=tokens)

    def render(console: Console) -> None:
        console.print(
            table(
                "Tokens",
                ["token_id", "tenant", "role", "label", "created", "revoked"],
                [
                    (
                        t.token_id,
                        t.tenant,
                        t.role.value,
                        t.label,
                        t.created_at.isoformat()[:19],
                        t.revoked_at.isoformat()[:19] if t.revoked_at else "",
                    )
                    for t in tokens
                ],
            )
        )

    emit(state, result, render)


@token_app.command("revoke")
def token_revoke(
    ctx: typer.Context,
    token_id: Annotated[str, typer.Argument(help="The token id (see: data-mash token list).")],
    json_out: JsonOption = False,
) -> None:
    """Revoke a token: its requests are refused (401) from now on."""

    state = state_for(ctx, json_out)
    info = TokenStore(state.engine).revoke(token_id)

    def render(console: Console) -> None:
        console.print(f"Token {info.token_id} (tenant {info.tenant}) is revoked.")

    emit(state, info, render)
