"""The canonical capability's response models.

What the canonical MCP server returns as structured output and what ``data-mash
map-to-canonical / approve-mapping / validate-mapping / run-mapping / export --json`` print:
the same models, so a key cannot drift between doors (or be guessed by an agent).
"""

from __future__ import annotations

from pydantic import BaseModel, Field, JsonValue, field_serializer, field_validator

from core.ids import MappingId, SourceId
from core.paging import Page
from core.statuses import MappingStatus
from knowledge.canonical.catalogue import CanonicalField
from tools.canonical.spec import (
    FieldRule,
    MappingDiff,
    MappingInfo,
    MappingSummary,
    Step,
)


class ModelSummary(BaseModel):
    """A canonical model version and how many fields it has."""

    version: str = Field(description="Model version, e.g. policy_v1.")
    title: str
    schema_id: str
    fields: int = Field(description="Number of fields (dotted catalogue paths).")


class ModelList(BaseModel):
    """The canonical model versions."""

    models: list[ModelSummary]


class ModelSchemaPage(Page):
    """A canonical model's fields, one page; the full JSON Schema is the resource named here."""

    canonical: str
    title: str
    schema_id: str
    components: list[str] = Field(description="Top-level components of the model.")
    fields: list[CanonicalField]
    resource: str = Field(description="URI of the model's full JSON Schema (a resource).")


class CanonicalFieldList(BaseModel):
    """Every field of a canonical model version: `data-mash fields --json`."""

    canonical: str
    fields: list[CanonicalField]


class MappingList(BaseModel):
    """Every mapping of a tenant (or of one source): `data-mash mapping list --json`."""

    mappings: list[MappingSummary]


class MappingView(BaseModel):
    """One version of a mapping with every field rule (approve and update return it)."""

    mapping_id: MappingId
    source_id: SourceId
    canonical: str
    version: int
    status: MappingStatus
    fields: list[FieldRule]

    @classmethod
    def of(cls, info: MappingInfo) -> MappingView:
        """The view of a stored mapping version."""
        return cls(
            mapping_id=info.mapping_id,
            source_id=info.source_id,
            canonical=info.canonical,
            version=info.version,
            status=info.status,
            fields=list(info.rules),
        )


class Alternative(BaseModel):
    """A runner-up target for a column."""

    target: str
    confidence: float


class MatchEvidence(BaseModel):
    """Why the matcher proposed a target for a column."""

    candidate: str | None = Field(description="The ranking's first, even when withheld.")
    signals: dict[str, float] = Field(description="Signal name -> score.")
    agreed: list[str] = Field(description="Signals that agree on the candidate.")
    alternatives: list[Alternative]
    sample_values: list[str]
    unmapped_reason: str | None = None


class SuggestedField(BaseModel):
    """One source column and the canonical field proposed for it."""

    source: str = Field(description="Source column.")
    target: str | None = Field(description="Canonical path; null when nothing is proposed.")
    confidence: float
    evidence: MatchEvidence
    transform: list[Step] = Field(description="Transform steps the proposal needs.")

    @field_serializer("transform")
    def _compact(self, steps: list[Step]) -> list[dict[str, JsonValue]]:
        # A proposal shows only what it sets ({"kind": "date", "format": "YYYYDDD"}); the
        # schema (validation mode) still lists every kind and option.
        return [{"kind": s.kind, **s.model_dump(mode="json", exclude_defaults=True)} for s in steps]


class SuggestedMapping(BaseModel):
    """What `data-mash map-to-canonical --json` prints and suggest_mapping returns."""

    mapping_id: MappingId
    source_id: SourceId
    version: int
    canonical: str
    threshold: float
    calibration: str
    mappings: list[SuggestedField]
    unmapped: dict[str, str] = Field(description="Source column -> why it is left unmapped.")
    keyless: bool = Field(
        False, description="No key column: confidences scaled down, nothing auto-accepted."
    )
    note: str | None = Field(None, description="Why, for the reviewer.")


class RecordError(BaseModel):
    """One field error of one record."""

    row: int = Field(description="0-based record position in the source.")
    policy_id: str | None
    path: str = Field(description="Catalogue path of the field in error.")
    message: str
    kind: str | None = None

    @field_validator("policy_id", mode="before")
    @classmethod
    def _text(cls, value: JsonValue) -> str | None:
        return None if value is None else str(value)


class ErrorReason(BaseModel):
    """One reason records are invalid, how many records it hits and a few of their keys."""

    path: str = Field(description="Canonical field the error is on (list items as [])")
    kind: str = Field(description="Error kind, e.g. literal_error, date_parsing.")
    message: str
    records: int
    examples: list[str] = Field(description="Policy ids (or 'row N') of records it hits.")


class MapRunResult(BaseModel):
    """Outcome of map_to_canonical."""

    mapping_id: MappingId
    version: int
    source_id: SourceId
    records: int
    valid: int
    invalid: int
    batches: int
    resumed_batches: int = Field(
        description="Batches found already done (resume after a crash, or a repeat run)."
    )
    output_dir: str
    quarantine_dir: str
    field_errors: dict[str, int] = Field(
        description="Catalogue path -> invalid records with an error there."
    )
    errors: list[RecordError] = Field(description="A sample of the errors.")
    reasons: list[ErrorReason] = Field(
        default_factory=list, description="Why records were quarantined, most frequent first."
    )


class ValidationReport(BaseModel):
    """Outcome of validate_records: counts and a sample of errors, nothing written."""

    mapping_id: MappingId
    version: int
    records: int
    valid: int
    invalid: int
    field_errors: dict[str, int]
    errors: list[RecordError]
    reasons: list[ErrorReason] = Field(
        default_factory=list, description="Why records are invalid, most frequent first."
    )


class ExportedFile(BaseModel):
    """One exported file as the manifest lists it."""

    path: str
    format: str
    records: int | None
    bytes: int
    sha256: str


class ExportResult(BaseModel):
    """Outcome of export_mapping."""

    mapping_id: MappingId
    version: int
    files: list[ExportedFile]
    manifest: str


class ChangeImpact(BaseModel):
    """What moving a source from one mapping version to another changes."""

    mapping_id: MappingId
    from_version: int
    to_version: int
    records: int
    changed_records: int
    sample_policy_ids: list[str]
    field_changes: dict[str, int] = Field(
        description="Catalogue path -> records whose value there changes."
    )
    became_invalid: int
    became_valid: int
    diff: MappingDiff


class MappingComparison(BaseModel):
    """`data-mash mapping diff --json`: the rule changes, and with --impact the policies'."""

    diff: MappingDiff
    impact: ChangeImpact | None = Field(
        None,
        description="Present with --impact: records whose values change.",
        exclude_if=lambda value: value is None,
    )
