"""Constrained identifier types shared by every door (CLI, MCP servers, REST API) and by tools.

A tenant names a folder in the workspace and a value in every table, so it is the one id whose
shape is a security boundary: letters, digits, ``-`` and ``_``, starting with a letter or digit,
at most 64 characters (the store's column width on SQLite and PostgreSQL alike). No ``/``, no
``..``, nothing absolute: :func:`tenant_path` can never leave the workspace.

The other ids are opaque strings of at most 64 characters (the store's column width) with no
control characters; their pattern is published in every tool's and route's JSON schema.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import Field, StringConstraints, TypeAdapter, ValidationError

from core.errors import InputError

ID_MAX_LENGTH = 64
TENANT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
_TENANT_RE = re.compile(TENANT_PATTERN)
# Printable, no whitespace at the ends, no path separators: ids show up in file names too.
ID_PATTERN = r"^[^\s/\\\x00-\x1f\x7f][^/\\\x00-\x1f\x7f]{0,63}$"

TenantId = Annotated[
    str,
    StringConstraints(pattern=TENANT_PATTERN, max_length=ID_MAX_LENGTH),
    Field(description="Tenant: letters, digits, '-' or '_', at most 64 characters."),
]


SourceId = Annotated[
    str,
    StringConstraints(pattern=ID_PATTERN, max_length=ID_MAX_LENGTH),
    Field(description="Source id, as listed by `data-mash sources` / list_sources."),
]
MappingId = Annotated[
    str,
    StringConstraints(pattern=ID_PATTERN, max_length=ID_MAX_LENGTH),
    Field(description="Mapping id, as listed by `data-mash mapping list`."),
]
PlanId = Annotated[
    str,
    StringConstraints(pattern=ID_PATTERN, max_length=ID_MAX_LENGTH),
    Field(description="Plan id, as listed by `data-mash plan list`."),
]
WaveId = Annotated[
    str,
    StringConstraints(pattern=ID_PATTERN, max_length=ID_MAX_LENGTH),
    Field(description="Wave id, as listed by `data-mash wave list`."),
]
PolicyId = Annotated[
    str,
    StringConstraints(pattern=ID_PATTERN, max_length=ID_MAX_LENGTH),
    Field(description="Policy id (the canonical policy_core.policy_id)."),
]
AssemblyId = Annotated[
    str,
    StringConstraints(pattern=ID_PATTERN, max_length=ID_MAX_LENGTH),
    Field(description="Assembly id (one whole-policy assembly of several sources)."),
]

_TENANT = TypeAdapter(TenantId)


def check_tenant(value: str, *, where: str = "tenant") -> str:
    """Return ``value`` if it is a valid tenant id; raise one clear InputError if not."""
    try:
        return _TENANT.validate_python(value)
    except ValidationError:
        shown = value if len(value) <= 80 else value[:77] + "..."
        raise InputError(
            f"'{shown}' is not a tenant id",
            where=where,
            fix="use 1-64 letters, digits, '-' or '_', starting with a letter or digit",
        ) from None


def is_tenant(value: str) -> bool:
    """True when ``value`` has a tenant id's shape."""
    return bool(_TENANT_RE.match(value))


def tenant_path(root: Path, tenant: str, *parts: str) -> Path:
    """A path under ``root / tenant``, refused if the tenant or any part would leave it.

    Every folder built from a tenant goes through here, so a crafted tenant or part (``..``,
    an absolute path, a separator) is refused with one message instead of writing elsewhere.
    """
    check_tenant(tenant)
    base = (root / tenant).resolve()
    path = base.joinpath(*parts).resolve()
    if path != base and not path.is_relative_to(base):
        raise InputError(
            f"'{'/'.join(parts)}' leaves the tenant's folder",
            where="path",
            fix="use a plain name without '..' or a leading '/'",
        )
    return path
