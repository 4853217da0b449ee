"""The audit log's contracts: the entry statuses and the record it hands out (never ORM objects)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

import orjson
from pydantic import BaseModel, Field, computed_field, field_validator

from core.ids import PolicyId
from core.paging import Page
from core.store.models import as_utc
from tools.audit.locations import LocationRecord, MoveRecord


class AuditStatus(StrEnum):
    """Status of an audit entry: its intent is ``pending`` until the outcome is committed."""

    PENDING = "pending"
    OK = "ok"
    FAILED = "failed"
    COMPENSATED = "compensated"


class AuditRecord(BaseModel):
    """One audit entry as read back from the log."""

    id: int
    tenant: str
    namespace: str
    operation: str
    target: str | None
    payload: dict[str, Any]
    idempotency_key: str | None
    actor: str
    status: AuditStatus
    outcome: dict[str, Any] | None
    error: str | None
    parent_id: int | None
    attempts: int
    policy_count: int
    created_at: datetime
    finished_at: datetime | None
    correlation_id: str | None = None  # the command / MCP request that caused it
    shortened: list[Literal["payload", "outcome"]] = Field(
        default_factory=list,
        description="Which of payload and outcome this listing shortened (to the small items "
        "that open it) for their size; read the entry by its id for all of it.",
    )

    _utc = field_validator("created_at", "finished_at")(as_utc)

    @property
    def incomplete(self) -> bool:
        return self.status == AuditStatus.PENDING

    @classmethod
    def from_row(cls, row: Any) -> AuditRecord:
        return cls.model_validate(dict(row._mapping))

    def to_json(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        data["incomplete"] = self.incomplete
        return data


class PolicyMoves(BaseModel):
    """Where a policy is and every move that took it there, oldest first."""

    policy_id: PolicyId
    location: LocationRecord | None
    moves: list[MoveRecord]


class AuditPage(Page):
    """Audit entries, oldest first, one page."""

    entries: list[AuditRecord]
    incomplete: int = Field(0, description="Entries on this page still pending (crashed).")


#: Naive stamps (SQLite's) are UTC, written with a ``Z`` as pydantic writes aware UTC ones.
_PAGE_JSON = orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z


def _page_document(entries: list[dict[str, Any]], page: Page) -> dict[str, Any]:
    incomplete = sum(entry["status"] == AuditStatus.PENDING for entry in entries)
    return {**page.model_dump(), "entries": entries, "incomplete": incomplete}


def audit_page_of(entries: list[dict[str, Any]], page: Page) -> AuditPage:
    """An :class:`AuditPage` of entries' field values (validated)."""
    return AuditPage.model_validate(_page_document(entries, page))


def audit_page_json(entries: list[dict[str, Any]], page: Page) -> bytes:
    """:func:`audit_page_of` as JSON, from the field values of entries read from the log
    (:meth:`tools.audit.AuditLog.replay_page_values`), without validating each entry first.

    The same document as ``audit_page_of(...).model_dump_json()`` (tested), in about half the
    time for a page of 50: a listing's rows come from our own store, so validating them into
    records only to dump them again was the larger part of serving the page.
    """
    document = _page_document(entries, page)
    try:
        return orjson.dumps(document, option=_PAGE_JSON)
    except orjson.JSONEncodeError:  # e.g. an integer beyond 64 bits, which pydantic writes
        return AuditPage.model_validate(document).model_dump_json().encode()


class AuditEntry(AuditRecord):
    """An audit entry as the CLI prints it: the record, and whether it is still pending."""

    @computed_field(description="Still pending: its process stopped between intent and outcome.")  # type: ignore[prop-decorator]
    @property
    def incomplete(self) -> bool:
        return self.status == AuditStatus.PENDING

    @classmethod
    def of(cls, record: AuditRecord) -> AuditEntry:
        return cls.model_validate(dict(record))


class AuditReplay(BaseModel):
    """`data-mash replay --json`: entries in commit order (up to --limit) and the counts."""

    entries: list[AuditEntry]
    replayed: int = Field(description="Entries in the range (all, not only those shown).")
    incomplete: int = Field(description="Entries in the range still pending (crashed).")
    truncated: bool = Field(description="True when --limit left entries out.")


class PolicyTrail(BaseModel):
    """`data-mash audit POLICY_ID --json`: every audit entry that touched a policy."""

    policy_id: str
    entries: list[AuditEntry]


class PolicyWhereabouts(BaseModel):
    """`data-mash locate POLICY_ID --json`: where a policy is and the moves that took it there."""

    policy_id: str
    location: LocationRecord | None
    history: list[MoveRecord]
