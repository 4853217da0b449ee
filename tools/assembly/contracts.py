"""Request/response models of whole-policy assembly: relationships between sources.

The CLI's ``--json``, the canonical MCP server's structured output and the REST API return
these same models.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

from core.ids import SourceId
from core.statuses import AssemblyStatus, MappingStatus, RelationshipsStatus
from knowledge.canonical import CanonicalPolicyV1

Cardinality = Literal["1:1", "1:n"]
TransformKind = Literal["number", "crosswalk"]


class KeyShape(BaseModel):
    """How one side writes its keys, read from its values (``KX-004512`` -> prefix ``KX-``...)."""

    prefix: str = Field(description="Letters (and separator) before the digits, as written.")
    width: int | None = Field(description="Zero-padded digit width; null when not padded.")
    suffix: str = Field(description="A trailing '-NN' term suffix, as written ('' when none).")
    case: Literal["upper", "lower", "none"] = Field(description="Case of the prefix letters.")


class CrosswalkRef(BaseModel):
    """A third source that translates the child's key into the parent's."""

    source: SourceId
    source_name: str
    from_key: str = Field(description="Crosswalk column the child's key matches.")
    to_key: str = Field(description="Crosswalk column that holds the parent's key.")


class KeyTransform(BaseModel):
    """What makes a child key equal to a parent key when they are not written the same way.

    ``number``: both sides reduce to the same number once the prefix, separator, zero padding,
    case and a ``-NN`` suffix are stripped. ``crosswalk``: the child's number is looked up in a
    crosswalk source whose other column holds the parent's key.
    """

    kind: TransformKind
    child: KeyShape
    parent: KeyShape
    crosswalk: CrosswalkRef | None = None
    description: str


class Relationship(BaseModel):
    """A child source column that refers to a parent source's key."""

    parent: SourceId
    parent_name: str
    parent_key: str
    child: SourceId
    child_name: str
    child_key: str
    key_transform: KeyTransform | None = Field(
        description="Null when the keys are written identically."
    )
    match_rate: float = Field(description="Share of the child's keyed rows this parent holds.")
    matched: int = Field(description="Child rows whose key finds a row of this parent.")
    orphans: int = Field(
        description="Child rows whose key finds no parent among all of the child key's parents."
    )
    orphan_sample: list[str] = Field(description="Up to 10 orphan keys, as written, sorted.")
    cardinality: Cardinality
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: dict[str, float | int | str] = Field(
        default_factory=dict, description="Containment, rank fit and naming signals."
    )

    @property
    def edge(self) -> tuple[str, str, str, str]:
        """``(parent, parent_key, child, child_key)``: the relationship's identity."""
        return (self.parent, self.parent_key, self.child, self.child_key)


class RelateResult(BaseModel):
    """``data-mash relate``: proposed (or confirmed) relationships among sources."""

    sources: list[SourceId]
    relationships: list[Relationship]
    version: int | None = Field(
        default=None, description="Stored version when confirmed; null for a proposal."
    )
    status: RelationshipsStatus = RelationshipsStatus.PROPOSED
    note: str | None = None


EditedTransform = Literal["identity", "number", "crosswalk"]


class CrosswalkKeys(BaseModel):
    """The crosswalk source a person names for a relationship's keys."""

    source: str = Field(description="Crosswalk source id or name (one of the related sources).")
    from_key: str = Field(description="Its column holding the child's key (matched by number).")
    to_key: str = Field(description="Its column holding the parent's key.")


class RelationshipEdit(BaseModel):
    """A person's statement of one relationship (``relate --confirm --file``, MCP
    ``confirm_relationships``). Without ``key_transform`` the keys are measured as written and
    by number, and the better match is kept."""

    parent: str = Field(description="Parent source id or name.")
    parent_key: str
    child: str = Field(description="Child source id or name.")
    child_key: str
    key_transform: EditedTransform | None = Field(
        default=None,
        description="How the keys match: identity (as written), number (prefixes, padding, "
        "case and a -NN suffix stripped) or crosswalk (through the named crosswalk source); "
        "null: the better of identity and number.",
    )
    crosswalk: CrosswalkKeys | None = Field(
        default=None, description="The crosswalk source, required with key_transform crosswalk."
    )

    @model_validator(mode="after")
    def _crosswalk_named(self) -> RelationshipEdit:
        if (self.key_transform == "crosswalk") != (self.crosswalk is not None):
            raise ValueError("crosswalk is given exactly when key_transform is 'crosswalk'")
        return self


# -- assembly specs ------------------------------------------------------------------------

JoinDirection = Literal["child", "lookup"]
SurvivorshipKind = Literal["source_priority", "most_recent", "first_non_null", "must_agree"]


class Component(BaseModel):
    """One source feeding the assembled policy, and how its rows reach the root's."""

    source: SourceId
    source_name: str
    direction: JoinDirection = Field(
        description="child: its rows refer to the root (lists, blocks); lookup: the root "
        "refers to it (the insured party, the agent)."
    )
    relationship: Relationship
    mapping_id: str
    mapping_version: int
    mapping_status: MappingStatus
    lists: list[str] = Field(description="Canonical lists it fills (payments.payment_history[]).")
    scalars: list[str] = Field(description="Canonical scalar fields it supplies.")


class SurvivorshipRule(BaseModel):
    """How one canonical field is decided when several sources supply it."""

    field: str
    rule: SurvivorshipKind = "source_priority"
    sources: list[str] = Field(description="Source names, highest priority first.")
    date_column: str | None = Field(
        default=None, description="most_recent: the column dating each source's value."
    )
    tolerance: float = Field(
        default=0.0, ge=0.0, description="Numeric difference still counted as agreement."
    )


class CrosswalkValue(BaseModel):
    """One distinct source value of a coded field and the canonical value proposed for it."""

    value: str
    count: int
    canonical: str | None
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: str
    suggested: str | None = Field(
        default=None,
        description="A canonical value the data points to for a value left unmapped: it needs a "
        "person, who confirms it (an edit) or not; it is never applied on its own.",
    )


class CrosswalkEdit(BaseModel):
    """A person's decision on one source value of a crosswalk (``assembly approve --crosswalks``):
    its canonical value, or null to leave it unmapped (its records are then quarantined)."""

    source: str = Field(description="Source name or id.")
    column: str
    value: str
    canonical: str | None


class CodeCrosswalk(BaseModel):
    """Every distinct value of one coded source column, with its canonical value."""

    source: SourceId
    source_name: str
    column: str
    field: str
    allowed: list[str] = Field(description="The canonical field's values.")
    values: list[CrosswalkValue]
    unmapped_rows: int = Field(description="Rows whose value has no canonical value.")


class AssemblySpec(BaseModel):
    """``assembly propose`` / ``assembly approve``: which sources make one whole policy."""

    assembly_id: str
    version: int
    status: AssemblyStatus
    root: SourceId
    root_name: str
    root_mapping_id: str
    components: list[Component]
    survivorship: list[SurvivorshipRule]
    crosswalks: list[CodeCrosswalk]
    relationships_version: int | None = Field(
        description="The confirmed relationship set used; null when proposed on the fly."
    )
    min_confidence: float | None = None
    note: str | None = None


# -- assembly runs -------------------------------------------------------------------------


class Reason(BaseModel):
    """Why records were left out: one kind of error, with counts and example keys."""

    source: str
    path: str
    kind: str
    message: str
    records: int
    examples: list[str] = Field(default_factory=list)


class ComponentCompleteness(BaseModel):
    """How much of one source reached the assembled policies."""

    source: str
    kind: Literal["root", "child", "lookup"]
    fills: list[str] = Field(description="Canonical lists and fields it supplies.")
    policies_held: int = Field(description="Policies for which the source holds records.")
    records_held: int
    records_arrived: int = Field(description="Records that reached a valid document.")
    duplicates: int = 0
    quarantined_records: int = Field(0, description="Records left out for an invalid value.")
    unplaced: int = Field(0, description="Rows whose key names no policy of this root.")
    orphans: int = Field(0, description="Rows whose key names no policy of any parent.")
    orphan_sample: list[str] = Field(default_factory=list)


class AssemblyRunResult(BaseModel):
    """``data-mash assembly run``: whole policies assembled from every source."""

    assembly_id: str
    policies: int = Field(description="Distinct policies of the root (duplicates resolved).")
    complete: int = Field(description="Valid documents holding every record the estate has.")
    partial: int = Field(description="Valid documents missing records left out as invalid.")
    quarantined: int = Field(description="Policies whose document is invalid (none written).")
    orphans: int = Field(description="Child records whose key names no parent at all.")
    conflicts: int = Field(description="Fields two sources hold with different values.")
    duplicates: int = Field(description="Records dropped as a second copy of another.")
    batches: int
    resumed_batches: int = 0
    output_dir: str
    components: list[ComponentCompleteness]
    quarantined_reasons: list[Reason] = Field(default_factory=list)
    partial_reasons: list[Reason] = Field(default_factory=list)


class ConflictRecord(BaseModel):
    """A canonical field two sources hold with different values, both kept."""

    policy_id: str | None
    field: str
    rule: str
    value: str | None = Field(description="The value that won (in the document).")
    source: str
    row: int | None
    other_value: str | None
    other_source: str
    other_row: int | None


class DuplicateRecord(BaseModel):
    """A record dropped as a second copy of another for the same policy."""

    source: str
    key: str | None
    policy_id: str | None
    kept_row: int
    dropped_row: int


class ConflictList(BaseModel):
    """``data-mash assembly conflicts``: conflicts (and duplicates) of a finished run."""

    assembly_id: str
    total: int
    conflicts: list[ConflictRecord]
    duplicates_total: int
    duplicates: list[DuplicateRecord]
    offset: int = 0
    limit: int


class FieldProvenance(BaseModel):
    """Where one field (or one list component's items) of a document came from."""

    field: str
    system: str
    source: str
    source_id: str
    rows: list[int]
    columns: list[str]


class SourceCompleteness(BaseModel):
    """Which of one source's records for a policy the estate held, and how many arrived."""

    kind: Literal["root", "child", "lookup"]
    held: int
    arrived: int
    fills: list[str] = Field(default_factory=list)


class PolicyDocument(BaseModel):
    """``data-mash policy show``: one assembled policy and where each part came from."""

    policy_id: str
    assembly_id: str
    policy: CanonicalPolicyV1 = Field(description="The canonical v1 document, nested.")
    provenance: list[FieldProvenance]
    completeness: dict[str, SourceCompleteness] = Field(
        description="Per source: records the estate held for the policy, records that arrived."
    )
