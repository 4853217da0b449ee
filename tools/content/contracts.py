"""The content capability's response models: what the content MCP server returns as structured
output and what ``data-mash ingest/sources/head/profile/layout --json`` print (the same models,
so keys cannot drift between doors)."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field, JsonValue, field_validator

from core.ids import SourceId
from core.paging import Page
from tools.content.detect import DetectedSource
from tools.content.profile.models import SourceProfile


class SourceColumn(BaseModel):
    """A staged column and its Arrow type."""

    name: str
    type: str = Field(description="Arrow type of the staged column, e.g. string, int64.")


class QuarantinedRecord(BaseModel):
    """A record the reader could not decode, and where it sits in the file."""

    record_index: int = Field(description="0-based position among the file's records.")
    byte_offset: int | None = None
    line: int | None = Field(None, description="1-based line, for line-oriented formats.")
    field: str | None = Field(None, description="The field that failed, when one did.")
    reason: str


class IngestResult(BaseModel):
    """What `data-mash ingest --json` prints for one file, and what ingest_file returns."""

    source_id: SourceId
    name: str
    system: str | None
    records: int = Field(description="Records decoded and staged.")
    bad_records: int = Field(description="Records quarantined (with offset and reason).")
    columns: list[SourceColumn]
    errors: list[QuarantinedRecord] = Field(description="A sample of quarantined records.")
    reused: bool = Field(description="True if this exact file and options were ingested before.")
    quality_score: float | None = None


class IngestBatch(BaseModel):
    """What `data-mash ingest --json` prints for a --source-config run: each file, and totals."""

    sources: list[IngestResult]
    records: int = Field(description="Records staged, over every file.")
    errors: int = Field(description="Records quarantined, over every file.")


class FormatDetection(BaseModel):
    """What `data-mash ingest FILE --detect --json` prints: the guess, as config and command."""

    detected: DetectedSource
    config: str = Field(description="The --source-config YAML entry data-mash would use.")
    command: str = Field(description="The same as one `data-mash ingest` command line.")


class SourceSummary(BaseModel):
    """One ingested source in a listing."""

    source_id: SourceId
    name: str
    system: str | None
    format: str
    path: str
    records: int
    bad_records: int
    columns: int = Field(description="Number of columns.")
    quality_score: float | None
    created_at: str = Field(description="ISO 8601 time of the ingest.")


class SourceList(Page):
    """Ingested sources, one page."""

    sources: list[SourceSummary]


def _plain(value: object) -> object:
    """A staged value as JSON: decimals as their exact text, times in ISO 8601."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date | time):  # datetime is a date
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


class RecordPage(Page):
    """Decoded records of a source, one page. A record's keys are the source's own columns."""

    source_id: SourceId
    records: list[dict[str, JsonValue]]

    @field_validator("records", mode="before")
    @classmethod
    def _jsonable(cls, rows: object) -> object:
        # Staged Arrow rows come back as Decimal, date and datetime values.
        return _plain(rows) if isinstance(rows, list) else rows


class RecordSlice(RecordPage):
    """`data-mash head --json`: the records from ``offset`` on (``total`` is the source's)."""

    offset: int = Field(description="Records skipped before the first one shown.")


class ProfileIssue(BaseModel):
    """A quality problem the profile found, with example keys."""

    kind: Literal["duplicate_keys", "invalid_dates"]
    column: str
    count: int
    sample_keys: list[str]


class SourceProfileReport(SourceProfile):
    """The profile of an ingested source: `data-mash profile --json` and profile_source."""

    source_id: SourceId
    name: str
    layout_fingerprint: str | None = None
    issues: list[ProfileIssue] = Field(default_factory=list)


class ColumnHit(BaseModel):
    """A column found by semantic search."""

    source_id: SourceId
    column: str
    score: float
    document: str


class ColumnHits(BaseModel):
    """Columns of ingested sources that match a query by meaning."""

    query: str
    hits: list[ColumnHit]


class LayoutField(BaseModel):
    """One copybook item: position, length and type."""

    name: str = Field(description="Output name (FILLER unless fillers are kept).")
    cobol_name: str
    path: str = Field(description="Dotted path, root included.")
    level: int
    start: int = Field(description="1-based first byte.")
    end: int
    length: int = Field(description="Bytes of the whole item (element size x OCCURS).")
    type: str = Field(description="group, string, zoned, packed, binary, float or double.")
    pic: str | None = None
    digits: int | None = None
    scale: int | None = None
    signed: bool | None = None
    usage: str | None = None
    occurs: int | None = None
    occurs_min: int | None = None
    depending_on: str | None = None
    redefines: str | None = None
    redefined: bool = False


class CopybookLayout(BaseModel):
    """A copybook's field layout: `data-mash layout --json` and describe_layout."""

    record_length: int
    fields: list[LayoutField]
    notes: list[str] = Field(default_factory=list)
