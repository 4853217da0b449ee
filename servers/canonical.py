"""The canonical MCP server: the canonical policy model, and mappings from sources onto it.

Propose a mapping (`suggest_mapping`), confirm/edit/reject fields (`update_field_mapping`),
approve, validate, run (`map_to_canonical`, with progress), export, and assess a change; and
whole policies: how sources relate (`discover_relationships`, stored by
`confirm_relationships`), which sources make one policy (`propose_assembly`, `edit_assembly`,
`approve_assembly`), the assembly run (`run_assembly`, with progress), one
assembled policy with provenance (`get_policy`) and a run's conflicts (`list_conflicts`).
Run it with ``data-mash serve canonical``.
"""

import json
from typing import Annotated, Any, Literal, TypeVar

from mcp.server.fastmcp import Context, FastMCP
from pydantic import Field

import tools.assembly.output as assembled
import tools.assembly.relationships as relationship_store
import tools.assembly.review as assembly_review
import tools.assembly.run as assembly_run
import tools.assembly.spec as assembly_spec
import tools.canonical as mappings
from core.errors import InputError
from core.ids import AssemblyId, MappingId, PolicyId, SourceId
from core.settings import Settings
from knowledge.canonical import fields, get_version, json_schema, list_versions
from servers.common import (
    IDEMPOTENT_WRITES,
    READ_ONLY,
    WRITES,
    CapabilityServer,
    Cursor,
    ServerState,
    Tenant,
    page_bounds,
    run_blocking,
    user_errors,
)
from servers.prompts import register_prompts
from tools.assembly.contracts import (
    AssemblyRunResult,
    AssemblySpec,
    ConflictList,
    CrosswalkEdit,
    PolicyDocument,
    RelateResult,
    RelationshipEdit,
    SurvivorshipRule,
)
from tools.canonical.contracts import (
    ChangeImpact,
    ExportResult,
    MappingView,
    MapRunResult,
    ModelList,
    ModelSchemaPage,
    ModelSummary,
    SuggestedMapping,
    ValidationReport,
)
from tools.canonical.spec import Step

Canonical = Annotated[str, Field(description="Canonical model version, e.g. policy_v1.")]
T = TypeVar("T")
ExportFormat = Literal["json", "yaml", "sql", "jsonl", "parquet"]
Transform = Annotated[
    list[Step] | None,
    Field(
        description="Transform steps, each an object with a `kind` (date, money, code, "
        "name_split, join, text, default, constant) and that kind's options, e.g. "
        "[{'kind': 'date', 'format': 'DD.MM.YYYY'}] or [{'kind': 'code', 'table': "
        "'policy_status'}]; [] removes every step."
    ),
]
SourceIds = Annotated[
    list[SourceId],
    Field(min_length=2, description="Two or more source ids from the content server."),
]
CrosswalkEdits = Annotated[
    list[CrosswalkEdit] | None,
    Field(
        description="Your decisions on crosswalk values: {source, column, value, "
        "canonical}; canonical null leaves the value unmapped (its records quarantined)."
    ),
]


def build_server(settings: Settings) -> FastMCP:
    """The canonical server for ``settings`` (nothing is opened until a tool needs it)."""
    state = ServerState(settings)
    server = CapabilityServer(
        name="data-mash-canonical",
        instructions="The canonical policy model (v1) and mappings from ingested legacy sources "
        "onto it. Typical flow: suggest_mapping -> review low-confidence fields -> "
        "update_field_mapping -> approve_mapping -> validate_records -> map_to_canonical -> "
        "export_mapping.",
    )

    @server.tool(annotations=READ_ONLY)
    @user_errors
    async def list_models() -> ModelList:
        """List the canonical model versions and their field counts."""
        return ModelList(
            models=[
                ModelSummary(
                    version=m.version,
                    title=m.title,
                    schema_id=m.schema_id,
                    fields=len(fields(m.version)),
                )
                for m in list_versions()
            ]
        )

    @server.tool(annotations=READ_ONLY)
    @user_errors
    async def get_model_schema(
        canonical: Canonical = "policy_v1",
        component: Annotated[
            str | None,
            Field(description="Only this component's fields, e.g. policy_core, payments."),
        ] = None,
        limit: Annotated[int, Field(ge=1, le=200, description="Fields per page.")] = 50,
        cursor: Cursor = None,
    ) -> ModelSchemaPage:
        """A canonical model's fields (path, type, mandatory, description), a page at a time.

        The full JSON Schema is the resource named in `resource` (about 100 KB).
        """
        return _schema_page(canonical, component, limit, cursor)

    @server.tool(annotations=WRITES)
    @user_errors
    async def suggest_mapping(
        source_id: SourceId,
        ctx: Context,
        canonical: Canonical = "policy_v1",
        tenant: Tenant = None,
    ) -> SuggestedMapping:
        """Propose a mapping of a source onto the canonical model, with confidence and evidence
        per field, stored as a draft."""
        # Imported here: the matcher (scipy, the glossary) loads only when a mapping is
        # suggested, not on every server start.
        from tools.canonical.suggest import suggest_mapping as suggest  # noqa: PLC0415

        result = await run_blocking(
            ctx,
            lambda: suggest(
                state.engine, settings, source_id, canonical=canonical, tenant=state.tenant(tenant)
            ),
        )
        return result

    @server.tool(annotations=WRITES)
    @user_errors
    async def update_field_mapping(
        mapping_id: MappingId,
        target: Annotated[str, Field(description="Canonical path, e.g. policy_core.status.")],
        source: Annotated[
            str | None, Field(description="Source column; null to leave the field unmapped.")
        ] = None,
        unmap: Annotated[bool, Field(description="Reject the field (leave it unmapped).")] = False,
        transform: Transform = None,
        tenant: Tenant = None,
    ) -> MappingView:
        """Confirm, edit or reject one field; an approved mapping gets a new draft version."""
        kwargs: dict[str, Any] = {}
        if unmap:
            kwargs["source"] = None
        elif source is not None:
            kwargs["source"] = source
        if transform is not None:
            kwargs["transform"] = [step.model_dump(mode="json") for step in transform]
        return MappingView.of(
            mappings.update_field_mapping(
                state.engine, mapping_id, target, tenant=state.tenant(tenant), **kwargs
            )
        )

    @server.tool(annotations=IDEMPOTENT_WRITES)
    @user_errors
    async def approve_mapping(
        mapping_id: MappingId,
        min_confidence: Annotated[
            float | None,
            Field(ge=0, le=1, description=("Fields below this confidence stay unmapped.")),
        ] = None,
        tenant: Tenant = None,
    ) -> MappingView:
        """Approve a mapping (refused, with the list, if mandatory fields are unmapped)."""
        return MappingView.of(
            mappings.approve_mapping(
                state.engine, mapping_id, tenant=state.tenant(tenant), min_confidence=min_confidence
            )
        )

    @server.tool(annotations=READ_ONLY)
    @user_errors
    async def validate_records(
        mapping_id: MappingId, ctx: Context, tenant: Tenant = None
    ) -> ValidationReport:
        """Validate every source record through a mapping; counts and errors, nothing written."""
        return await run_blocking(
            ctx,
            lambda: mappings.validate_records(
                state.engine, settings, mapping_id, tenant=state.tenant(tenant)
            ),
        )

    @server.tool(annotations=IDEMPOTENT_WRITES)
    @user_errors
    async def map_to_canonical(
        mapping_id: MappingId, ctx: Context, tenant: Tenant = None
    ) -> MapRunResult:
        """Run an approved mapping over its source: canonical records out, invalid records
        quarantined with every field error. Batched and resumable; reports progress."""
        return await run_blocking(
            ctx,
            lambda progress: mappings.map_to_canonical(
                state.engine, settings, mapping_id, tenant=state.tenant(tenant), progress=progress
            ),
            with_progress=True,
        )

    @server.tool(annotations=IDEMPOTENT_WRITES)
    @user_errors
    async def export_mapping(
        mapping_id: MappingId,
        ctx: Context,
        formats: Annotated[list[ExportFormat], Field(description="What to write.")] = [  # noqa: B006
            "json",
            "yaml",
            "sql",
            "jsonl",
            "parquet",
        ],
        overwrite: Annotated[bool, Field(description="Replace existing files.")] = False,
        tenant: Tenant = None,
    ) -> ExportResult:
        """Export the mapping spec and canonical records (with a checksummed manifest) into the
        workspace's exports folder."""
        folder = settings.path("exports", mapping_id)
        return await run_blocking(
            ctx,
            lambda: mappings.export_mapping(
                state.engine,
                settings,
                mapping_id,
                folder,
                formats=formats,
                tenant=state.tenant(tenant),
                overwrite=overwrite,
            ),
        )

    @server.tool(annotations=READ_ONLY)
    @user_errors
    async def discover_relationships(
        source_ids: SourceIds,
        ctx: Context,
        tenant: Tenant = None,
    ) -> RelateResult:
        """Discover how sources relate: which column of a child source refers to which parent
        key, with the key transform, match rate, orphans and a confidence (reads only)."""
        return await run_blocking(
            ctx,
            lambda: relationship_store.propose_relationships(
                state.engine, settings, source_ids, tenant=state.tenant(tenant)
            ),
        )

    @server.tool(annotations=WRITES)
    @user_errors
    async def confirm_relationships(
        source_ids: SourceIds,
        ctx: Context,
        relationships: Annotated[
            list[RelationshipEdit] | None,
            Field(
                description="Your relationships, stored instead of the proposals: {parent, "
                "parent_key, child, child_key, key_transform (identity, number, crosswalk or "
                "null), crosswalk ({source, from_key, to_key}, with key_transform crosswalk)}; "
                "sources by id or name. Each is measured on the data."
            ),
        ] = None,
        min_confidence: Annotated[
            float,
            Field(ge=0.0, le=1.0, description="Without relationships: keep proposals from here."),
        ] = 0.0,
        tenant: Tenant = None,
    ) -> RelateResult:
        """Confirm how sources relate: store the proposals (or your edited relationships) as the
        next version, audited; assemblies then use it. A relationship whose keys match nothing
        or a cycle is refused and nothing is stored."""
        return await run_blocking(
            ctx,
            lambda: relationship_store.confirm_relationships(
                state.engine,
                settings,
                source_ids,
                tenant=state.tenant(tenant),
                min_confidence=min_confidence,
                edits=relationships,
            ),
        )

    @server.tool(annotations=WRITES)
    @user_errors
    async def propose_assembly(
        root: Annotated[SourceId, Field(description="Source holding one row per policy.")],
        ctx: Context,
        sources: Annotated[
            list[SourceId] | None,
            Field(description="Component sources; default every source related to the root."),
        ] = None,
        survivorship: Annotated[
            list[SurvivorshipRule] | None,
            Field(
                description="Rules for fields several sources supply, overriding the proposed "
                "ones: {field, rule (source_priority, most_recent, first_non_null, "
                "must_agree), sources (names, highest priority first), date_column, tolerance}."
            ),
        ] = None,
        relationships_version: Annotated[
            int | None,
            Field(
                ge=1,
                description="The confirmed relationship set to build on (confirm_relationships' "
                "version); default the latest one holding every source of the workspace.",
            ),
        ] = None,
        tenant: Tenant = None,
    ) -> AssemblySpec:
        """Propose which sources feed which components of a whole policy around a root, with
        survivorship rules and code crosswalks (stored as a draft)."""
        return await run_blocking(
            ctx,
            lambda: assembly_spec.propose_assembly(
                state.engine,
                settings,
                root,
                list(sources or []),
                tenant=state.tenant(tenant),
                survivorship=survivorship,
                relationships_version=relationships_version,
            ),
        )

    @server.tool(annotations=WRITES)
    @user_errors
    async def edit_assembly(
        assembly_id: AssemblyId,
        ctx: Context,
        crosswalk_edits: CrosswalkEdits = None,
        survivorship: Annotated[
            list[SurvivorshipRule] | None,
            Field(
                description="Rules replacing the rule of their field: {field, rule "
                "(source_priority, most_recent, first_non_null, must_agree), sources (names, "
                "highest priority first), date_column, tolerance}."
            ),
        ] = None,
        tenant: Tenant = None,
    ) -> AssemblySpec:
        """Edit a draft assembly's crosswalk values and survivorship rules; stored as its next
        version (audited). A value outside the field's values, an unknown field or source, or
        an approved assembly is refused and nothing is stored."""
        edits = _as_written("crosswalk_edits", crosswalk_edits)
        rules = _as_written("survivorship", survivorship)
        return await run_blocking(
            ctx,
            lambda: assembly_review.edit_assembly(
                state.engine,
                assembly_id,
                tenant=state.tenant(tenant),
                crosswalk_edits=edits,
                survivorship=rules,
            ),
        )

    @server.tool(annotations=IDEMPOTENT_WRITES)
    @user_errors
    async def approve_assembly(
        assembly_id: AssemblyId,
        ctx: Context,
        min_confidence: Annotated[
            float | None,
            Field(ge=0.0, le=1.0, description="Leave out what is below this confidence."),
        ] = None,
        crosswalk_edits: CrosswalkEdits = None,
        tenant: Tenant = None,
    ) -> AssemblySpec:
        """Approve (freeze) an assembly with its crosswalks, after your edits; the root's
        mapping must be approved. A canonical value outside the field's values is refused."""
        edits = _as_written("crosswalk_edits", crosswalk_edits)
        return await run_blocking(
            ctx,
            lambda: assembly_spec.approve_assembly(
                state.engine,
                assembly_id,
                tenant=state.tenant(tenant),
                min_confidence=min_confidence,
                crosswalk_edits=edits,
            ),
        )

    @server.tool(annotations=IDEMPOTENT_WRITES)
    @user_errors
    async def run_assembly(
        assembly_id: AssemblyId,
        ctx: Context,
        batch_policies: Annotated[
            int | None,
            Field(ge=1, description="Policies per batch; a resumed run keeps its first."),
        ] = None,
        tenant: Tenant = None,
    ) -> AssemblyRunResult:
        """Assemble one canonical document per policy of an approved assembly, from the root
        and every component source: counts of complete, partial and quarantined policies,
        orphans, conflicts and duplicates, completeness per source and the top reasons.
        Batched by policy-key range and resumable; reports progress (policies)."""
        return await run_blocking(
            ctx,
            lambda progress: assembly_run.run_assembly(
                state.engine,
                settings,
                assembly_id,
                tenant=state.tenant(tenant),
                batch_policies=batch_policies,
                progress=progress,
            ),
            with_progress=True,
        )

    @server.tool(annotations=READ_ONLY)
    @user_errors
    async def get_policy(
        policy_id: PolicyId,
        ctx: Context,
        assembly_id: Annotated[
            AssemblyId | None,
            Field(description="The assembly; default the newest run that holds the policy."),
        ] = None,
        tenant: Tenant = None,
    ) -> PolicyDocument:
        """One assembled policy: its canonical v1 document, the provenance of every field
        (system, source, rows, columns) and which of the estate's records for it arrived."""
        return await run_blocking(
            ctx,
            lambda: assembled.show_policy(
                state.engine, settings, state.tenant(tenant), policy_id, assembly_id
            ),
        )

    @server.tool(annotations=READ_ONLY)
    @user_errors
    async def list_conflicts(
        assembly_id: AssemblyId,
        ctx: Context,
        limit: Annotated[int, Field(ge=1, le=1000, description="Conflicts per page.")] = 100,
        offset: Annotated[int, Field(ge=0, description="Skip this many first.")] = 0,
        tenant: Tenant = None,
    ) -> ConflictList:
        """Fields two sources hold with different values in an assembly run (both values and
        sources kept, the survivor named), and the duplicate records dropped, with keys."""
        return await run_blocking(
            ctx,
            lambda: assembled.list_conflicts(
                settings, state.tenant(tenant), assembly_id, limit=limit, offset=offset
            ),
        )

    @server.tool(annotations=READ_ONLY)
    @user_errors
    async def assess_mapping_change(
        mapping_id: MappingId,
        from_version: Annotated[int, Field(ge=1, description="Older version.")],
        to_version: Annotated[int, Field(ge=1, description="Newer version.")],
        ctx: Context,
        tenant: Tenant = None,
    ) -> ChangeImpact:
        """Which policies' canonical values change between two versions of a mapping."""
        return await run_blocking(
            ctx,
            lambda: mappings.assess_mapping_change(
                state.engine,
                settings,
                mapping_id,
                from_version,
                to_version,
                tenant=state.tenant(tenant),
            ),
        )

    @server.resource(
        "canonical://policy/{version}",
        mime_type="application/schema+json",
        description="JSON Schema of a canonical policy model version (v1, v2).",
    )
    def model_schema(version: str) -> str:
        return json.dumps(json_schema(f"policy_{version}"))

    @server.resource(
        "mapping://{tenant}/{mapping_id}",
        mime_type="application/json",
        description="A mapping spec (latest version).",
    )
    def mapping_spec(tenant: str, mapping_id: str) -> str:
        return json.dumps(
            mappings.get_mapping(state.engine, mapping_id, tenant=state.tenant(tenant)).model_dump(
                mode="json"
            )
        )

    register_prompts(server, "canonical")
    return server


def _as_written(argument: str, items: list[T] | None) -> list[tuple[str, T]]:
    """Each item with where the caller wrote it (``crosswalk_edits[2]``), for the tools'
    error messages."""
    return [(f"{argument}[{i}]", item) for i, item in enumerate(items or [])]


def _schema_page(
    canonical: str, component: str | None, limit: int, cursor: str | None
) -> ModelSchemaPage:
    entry = get_version(canonical)
    catalogue = fields(canonical)
    components = list(dict.fromkeys(f.component for f in catalogue))
    if component is not None:
        if component not in components:
            raise InputError(
                f"'{component}' is not a component of {canonical}",
                where="component",
                fix="use one of " + ", ".join(components),
            )
        catalogue = [f for f in catalogue if f.component == component]
    start, end, page = page_bounds(cursor, limit, len(catalogue))
    return ModelSchemaPage(
        canonical=canonical,
        title=entry.title,
        schema_id=entry.schema_id,
        components=components,
        fields=catalogue[start:end],
        resource=entry.schema_id,
        **page.model_dump(),
    )
