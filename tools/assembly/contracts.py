"""Request/response models of whole-policy assembly: relationships between sources.

The CLI's ``--json``, the canonical MCP server's structured output and the REST API return
these same models.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from core.ids import SourceId

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
    status: Literal["proposed", "confirmed"] = "proposed"
    note: str | None = None


class RelationshipEdit(BaseModel):
    """A person's statement of one relationship (``relate --confirm --file``)."""

    parent: str = Field(description="Parent source id or name.")
    parent_key: str
    child: str = Field(description="Child source id or name.")
    child_key: str
