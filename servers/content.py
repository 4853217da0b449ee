"""The content MCP server: ingest legacy files, list and profile sources, page records,
describe copybook layouts, search columns by meaning.

Run it with ``data-mash serve content`` (stdio) or ``--http HOST:PORT``.
"""

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from mcp.server.fastmcp import Context, FastMCP
from pydantic import Field, JsonValue

import tools.content.cobol.layout as copybooks
import tools.content.indexing as column_index
import tools.content.ingest as ingestion
from core.errors import InputError
from core.ids import SourceId
from core.settings import Settings
from servers.common import (
    IDEMPOTENT_WRITES,
    READ_ONLY,
    CapabilityServer,
    Cursor,
    Limit,
    ServerState,
    Tenant,
    page_bounds,
    run_blocking,
    user_errors,
)
from servers.prompts import register_prompts
from tools.content.contracts import (
    ColumnHits,
    CopybookLayout,
    IngestResult,
    RecordPage,
    SourceList,
    SourceProfileReport,
)
from tools.content.profiling import read_profile
from tools.content.sources import SourceRegistry
from tools.content.staging import staged_slice

Format = Literal["csv", "fixed_width", "cobol", "json", "jsonl", "xlsx", "xml", "parquet", "sqlite"]


def build_server(settings: Settings) -> FastMCP:
    """The content server for ``settings`` (nothing is opened until a tool needs it)."""
    state = ServerState(settings)
    server = CapabilityServer(
        name="data-mash-content",
        instructions="Ingest legacy policy files (mainframe copybook data, CSV, Excel, JSON, "
        "XML, Parquet, SQLite), then profile and search them. Paths must be under the "
        "server's allowed roots. Formats are never guessed: pass format and options.",
    )

    @server.tool(annotations=IDEMPOTENT_WRITES)
    @user_errors
    async def ingest_file(
        path: Annotated[str, Field(description="File to ingest, under an allowed root.")],
        format: Annotated[Format, Field(description="Reader to decode it with.")],
        ctx: Context,
        options: Annotated[
            dict[str, Any] | None,
            Field(
                description="Reader options, e.g. {'delimiter': ';', 'encoding': 'latin-1'} "
                "or {'copybook': 'POLMAST.cpy', 'encoding': 'cp037'}."
            ),
        ] = None,
        name: Annotated[str | None, Field(description="Source name (default: file name).")] = None,
        system: Annotated[str | None, Field(description="Legacy system it belongs to.")] = None,
        tenant: Tenant = None,
    ) -> IngestResult:
        """Decode a legacy file into a staged, profiled, audited source (idempotent)."""
        file = state.confine(path)
        opts = _confined_options(state, dict(options or {}), file)
        result = await run_blocking(
            ctx,
            lambda progress: ingestion.ingest_file(
                state.engine,
                settings,
                file,
                fmt=format,
                options=opts,
                name=name,
                system=system,
                tenant=state.tenant(tenant),
                progress=progress,
            ),
            with_progress=True,
        )
        return result

    @server.tool(annotations=READ_ONLY)
    @user_errors
    async def list_sources(
        limit: Limit = 50, cursor: Cursor = None, tenant: Tenant = None
    ) -> SourceList:
        """List ingested sources with record counts and quality scores."""
        found = SourceRegistry(state.engine, tenant=state.tenant(tenant)).list()
        start, end, page = page_bounds(cursor, limit, len(found))
        return SourceList(sources=[s.summary() for s in found[start:end]], **page.model_dump())

    @server.tool(annotations=READ_ONLY)
    @user_errors
    async def profile_source(
        source_id: SourceId,
        tenant: Tenant = None,
    ) -> SourceProfileReport:
        """Profile of a source: per column type, nulls, distinct, pattern, quality, issues."""
        return _profile(state, source_id, tenant)

    @server.tool(annotations=READ_ONLY)
    @user_errors
    async def sample_records(
        source_id: SourceId,
        limit: Annotated[int, Field(ge=1, le=100, description="Records per page.")] = 20,
        cursor: Cursor = None,
        tenant: Tenant = None,
    ) -> RecordPage:
        """Decoded records of a source, a page at a time."""
        info = SourceRegistry(state.engine, tenant=state.tenant(tenant)).get(source_id)
        start, end, page = page_bounds(cursor, limit, info.records)
        rows = staged_slice(info.records_path, offset=start, limit=end - start).to_pylist()
        return RecordPage(source_id=source_id, records=_jsonable(rows), **page.model_dump())

    @server.tool(annotations=READ_ONLY)
    @user_errors
    async def describe_layout(
        copybook: Annotated[
            str,
            Field(description="Copybook path (under an allowed root) or the copybook text itself."),
        ],
    ) -> CopybookLayout:
        """Field layout of a COBOL copybook: offsets, lengths, types, OCCURS, REDEFINES."""
        looks_like_text = "\n" in copybook or " PIC " in copybook.upper()
        source: Any = copybook if looks_like_text else state.confine(copybook)
        return CopybookLayout.model_validate(copybooks.describe_layout(source))

    @server.tool(annotations=READ_ONLY)
    @user_errors
    async def search_columns(
        query: Annotated[
            str,
            Field(
                min_length=2,
                description="What the column means, e.g. "
                "'premium amount' or 'policy effective date'.",
            ),
        ],
        ctx: Context,
        limit: Annotated[int, Field(ge=1, le=50, description="Maximum hits.")] = 10,
        source_id: Annotated[SourceId | None, Field(description="Only this source.")] = None,
        tenant: Tenant = None,
    ) -> ColumnHits:
        """Find columns of every ingested source by meaning (semantic search)."""
        hits = await run_blocking(
            ctx,
            lambda: column_index.search_columns(
                settings, query, tenant=state.tenant(tenant), limit=limit, source_id=source_id
            ),
        )
        return ColumnHits(query=query, hits=hits)

    @server.resource(
        "profile://{tenant}/{source_id}",
        mime_type="application/json",
        description="The profile of an ingested source.",
    )
    def source_profile(tenant: str, source_id: str) -> str:
        return _profile(state, source_id, tenant).model_dump_json()

    register_prompts(server, "content")
    return server


#: Reader options that name files: each goes through the same confinement as ``path``.
PATH_OPTIONS = ("copybook", "copybooks", "code_page_file")


def _confined_options(state: ServerState, options: dict[str, Any], data: Path) -> dict[str, Any]:
    """``options`` with every file they name confined to the server's allowed roots.

    A relative copybook is looked for beside the data file first (as the reader would), then
    under the first root; either way the resolved path must lie under an allowed root.
    """
    for key in PATH_OPTIONS:
        value = options.get(key)
        if value is None:
            continue
        values = value if isinstance(value, list) else [value]
        confined = []
        for item in values:
            if not isinstance(item, str | Path):
                raise InputError(
                    f"option {key} must be a file path", where=f"option {key}", fix="pass a path"
                )
            near = data.parent / item
            chosen = near if not Path(item).is_absolute() and near.is_file() else Path(item)
            confined.append(str(state.confine(str(chosen))))
        options[key] = confined if isinstance(value, list) else confined[0]
    return options


def _profile(state: ServerState, source_id: str, tenant: str | None) -> SourceProfileReport:
    info = SourceRegistry(state.engine, tenant=state.tenant(tenant)).get(source_id)
    return read_profile(info)


def _jsonable(rows: list[dict[str, Any]]) -> list[dict[str, JsonValue]]:
    return json.loads(json.dumps(rows, default=str))
