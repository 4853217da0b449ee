"""Mapping specs: per source, one rule per canonical target, with its transform pipeline.

A rule reads one source column (or none, for a constant), runs the transform steps in order and
fills one canonical leaf. List targets are written `coverage_sections[].limits.per_occurrence`;
list sources (COBOL OCCURS, JSON arrays) `COVERAGES[].COV_LMT`. Example::

    {"source": "EFF_DT", "target": "policy_core.effective_date",
     "transform": {"kind": "date", "format": "YYYYMMDD"}, "confidence": 0.93,
     "evidence": "name EFF_DT ~ effective date; 100% parse as YYYYMMDD", "status": "proposed"}
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.statuses import MappingStatus, RuleStatus


class _Step(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DateStep(_Step):
    """Parse legacy dates.

    `format` is a token pattern: YYYY, MM, DD, DDD (day of year), C (century digit, 0=19xx,
    1=20xx), YY (with C) and literal separators, e.g. `MM/DD/YYYY`, `DD.MM.YYYY`, `YYYYMMDD`,
    `YYYY-MM-DD`, `YYYYDDD` (Julian), `CYYMMDD`; or `excel` for Excel serial day numbers.
    A timestamp's time of day (HH, MI, SS) is read and dropped: `YYYY-MM-DDTHH:MI:SS`.
    Numeric columns are read as their digits. A value of zeros only (`00000000`, `0`) means no date.
    """

    kind: Literal["date"] = "date"
    format: str = Field(min_length=2, max_length=40)
    null_values: tuple[str, ...] = ()


class MoneyStep(_Step):
    """Read an amount: implied decimals (`000026396` with 2 -> 263.96), cents, decimal comma."""

    kind: Literal["money"] = "money"
    implied_decimals: int = Field(0, ge=0, le=10)
    cents: bool = False  # shorthand for implied_decimals=2
    decimal_comma: bool = False  # `1.234,56`: comma decimal, dot/space thousands
    thousands_separator: str | None = Field(None, max_length=1)

    @property
    def scale(self) -> int:
        return 2 if self.cents and not self.implied_decimals else self.implied_decimals


class CodeStep(_Step):
    """Translate codes with an explicit value map and/or a glossary code table."""

    kind: Literal["code"] = "code"
    # policy_status, line_of_business, coverage_type, payment_mode, us_state
    table: str | None = None
    values: dict[str, str] = Field(default_factory=dict)
    case_insensitive: bool = True
    on_unknown: Literal["keep", "null", "error"] = "keep"


class NameSplitStep(_Step):
    """Take the first or last name out of a full name (`John Smith`, `Smith, John`)."""

    kind: Literal["name_split"] = "name_split"
    part: Literal["first", "last"]


class JoinStep(_Step):
    """Join several source columns (the rule's source first, then `columns`) with a separator."""

    kind: Literal["join"] = "join"
    columns: tuple[str, ...] = Field(min_length=1)
    separator: str = " "


class TextStep(_Step):
    """Trim, change case, pad and prefix text (`00085` -> `A00085`)."""

    kind: Literal["text"] = "text"
    trim: bool = True
    upper: bool = False
    lower: bool = False
    pad_left: int | None = Field(None, ge=1, le=100)
    pad_char: str = Field("0", min_length=1, max_length=1)
    prefix: str = ""
    suffix: str = ""


class DefaultStep(_Step):
    """Fill empty values with a canonical value (applied after conversion to the target type)."""

    kind: Literal["default"] = "default"
    value: str | int | float


class ConstantStep(_Step):
    """The same canonical value for every record; the rule has no source column."""

    kind: Literal["constant"] = "constant"
    value: str | int | float


Step = Annotated[
    DateStep
    | MoneyStep
    | CodeStep
    | NameSplitStep
    | JoinStep
    | TextStep
    | DefaultStep
    | ConstantStep,
    Field(discriminator="kind"),
]


class FieldRule(BaseModel):
    """How one canonical field is filled from a source."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str | None = None
    target: str = Field(min_length=1)
    transform: tuple[Step, ...] = ()
    confidence: float = Field(1.0, ge=0.0, le=1.0)
    evidence: str = ""
    status: RuleStatus = RuleStatus.PROPOSED
    confirmed_by: str | None = Field(
        None, description="Who confirmed the field: by editing it, or by approving the mapping."
    )
    confirmed_at: datetime | None = None

    @field_validator("transform", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        if value is None:
            return ()
        return (value,) if isinstance(value, dict | _Step) else value

    @property
    def constant(self) -> ConstantStep | None:
        return next((s for s in self.transform if isinstance(s, ConstantStep)), None)

    @property
    def default(self) -> DefaultStep | None:
        return next((s for s in self.transform if isinstance(s, DefaultStep)), None)

    @property
    def mapped(self) -> bool:
        """True when the rule fills its target (has a source, constant or default)."""
        if self.status == RuleStatus.UNMAPPED:
            return False
        return self.source is not None or self.constant is not None or self.default is not None

    @property
    def confirmed(self) -> bool:
        """True when a person vouched for the rule (edited it, or approved it in a mapping)."""
        return self.status == RuleStatus.CONFIRMED or self.confirmed_by is not None

    @property
    def source_columns(self) -> list[str]:
        """Every source column the rule reads."""
        columns = [self.source] if self.source else []
        for step in self.transform:
            if isinstance(step, JoinStep):
                columns.extend(step.columns)
        return columns


class MappingInfo(BaseModel):
    """One version of a mapping, as every front door sees it."""

    mapping_id: str
    tenant: str
    source_id: str
    canonical: str
    version: int
    status: MappingStatus
    rules: list[FieldRule]
    latest_version: int
    approved_version: int | None
    min_confidence: float | None = None
    created_at: datetime
    approved_at: datetime | None = None

    @property
    def fields(self) -> list[FieldRule]:
        """Rules that fill a target."""
        return [r for r in self.rules if r.mapped]

    def rule_for(self, target: str) -> FieldRule | None:
        return next((r for r in self.rules if r.target == target), None)

    def unconfirmed_below(self, threshold: float) -> list[FieldRule]:
        """Mapped fields nobody confirmed whose proposed confidence is below ``threshold``."""
        return [r for r in self.fields if not r.confirmed and r.confidence < threshold]


class MappingSummary(BaseModel):
    """A mapping in a listing."""

    mapping_id: str
    source_id: str
    canonical: str
    latest_version: int
    approved_version: int | None
    status: MappingStatus
    mapped_fields: int


class FieldChange(BaseModel):
    """How one target's rule differs between two versions."""

    target: str
    change: Literal["added", "removed", "changed"]
    before: FieldRule | None
    after: FieldRule | None
    attributes: list[str]  # which of source / transform / confidence / evidence / status changed


class MappingDiff(BaseModel):
    """Differences between two mapping versions, by target."""

    mapping_id: str | None
    from_version: int | None
    to_version: int | None
    changes: list[FieldChange]

    @property
    def changed_targets(self) -> list[str]:
        return [c.target for c in self.changes]


def diff_mappings(a: MappingInfo, b: MappingInfo) -> MappingDiff:
    """Compare two mapping versions (or two mappings) rule by rule, keyed by target.

    Args:
        a: the older version.
        b: the newer version.

    Returns:
        One change per target added, removed or changed, in target order.
    """
    before = {r.target: r for r in a.rules if r.mapped}
    after = {r.target: r for r in b.rules if r.mapped}
    changes: list[FieldChange] = []
    for target in sorted(before.keys() | after.keys()):
        old, new = before.get(target), after.get(target)
        if old is None:
            changes.append(
                FieldChange(
                    target=target,
                    change="added",
                    before=None,
                    after=new,
                    attributes=["source", "transform"],
                )
            )
        elif new is None:
            changes.append(
                FieldChange(
                    target=target,
                    change="removed",
                    before=old,
                    after=None,
                    attributes=["source", "transform"],
                )
            )
        else:
            attrs = [
                k
                for k in ("source", "transform", "confidence", "evidence", "status")
                if getattr(old, k) != getattr(new, k)
            ]
            if attrs:
                changes.append(
                    FieldChange(
                        target=target, change="changed", before=old, after=new, attributes=attrs
                    )
                )
    same = a.mapping_id == b.mapping_id
    return MappingDiff(
        mapping_id=a.mapping_id if same else None,
        from_version=a.version,
        to_version=b.version,
        changes=changes,
    )
