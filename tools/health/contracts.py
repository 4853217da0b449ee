"""Health reports in the shape of draft-inadarei-api-health-check (application/health+json).

``status`` is pass, warn or fail; ``checks`` maps ``component:measurement`` to a list of results.
The HTTP servers' /readyz, ``data-mash doctor --json`` (key ``checks``) and later the REST API
return these same models.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

HEALTH_MEDIA_TYPE = "application/health+json"


class HealthStatus(StrEnum):
    """A check's (or the whole report's) verdict, worst last."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"


_RANK = {s: rank for rank, s in enumerate(HealthStatus)}


class CheckResult(BaseModel):
    """One measurement of one component."""

    model_config = ConfigDict(populate_by_name=True)

    status: HealthStatus
    component_type: str | None = Field(None, alias="componentType")
    observed_value: Any = Field(None, alias="observedValue")
    observed_unit: str | None = Field(None, alias="observedUnit")
    time: datetime
    output: str | None = Field(None, description="What is wrong and how to fix it (warn/fail).")


class HealthReport(BaseModel):
    """Overall status and every check; worst check wins."""

    model_config = ConfigDict(populate_by_name=True)

    status: HealthStatus
    description: str = "data-mash"
    checks: dict[str, list[CheckResult]] = Field(default_factory=dict)

    @classmethod
    def of(cls, checks: dict[str, list[CheckResult]]) -> HealthReport:
        worst = max(
            (r.status for results in checks.values() for r in results),
            key=_RANK.__getitem__,
            default=HealthStatus.PASS,
        )
        return cls(status=worst, checks=checks)

    @property
    def http_status(self) -> int:
        """2xx for pass and warn, 503 for fail (what probes read)."""
        return 503 if self.status == HealthStatus.FAIL else 200

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class DoctorReport(BaseModel):
    """What ``data-mash doctor`` prints: the readiness checks plus what surrounds them."""

    status: HealthStatus
    checks: dict[str, list[CheckResult]]
    versions: dict[str, str | None]
    settings: dict[str, Any] = Field(description="Settings in effect, secrets redacted.")
    missing: list[str] = Field(description="What is not set up, and what that turns off.")

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)
