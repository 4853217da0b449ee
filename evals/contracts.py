"""What `data-mash demo --json` and `data-mash eval --json` print: pydantic models of the
documents the demo and the eval runner build, so a key cannot drift from what scripts read.

The nested step summaries stay open dictionaries (the demo's steps and each suite's metrics
grow with the product); the top level is closed: a key the builders add without adding it
here fails the command instead of vanishing from the output.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from evals.result import SuiteStatus


def _absent(value: object) -> bool:
    return value is None


class DemoReport(BaseModel):
    """`data-mash demo --json`: every step's summary, and the problems that fail the run."""

    model_config = ConfigDict(extra="forbid")

    estate: dict[str, Any] = Field(description="The generated estate: systems, files, counts.")
    sources: dict[str, Any] = Field(description="Per source: ingest and profile.")
    mapping: dict[str, Any] = Field(description="Per source: the proposed and approved mapping.")
    relationships: dict[str, Any] | None = Field(
        None, description="How the sources relate (whole policies only).", exclude_if=_absent
    )
    assembly: dict[str, Any] | None = Field(
        None, description="The whole-policy assembly run (whole policies only).", exclude_if=_absent
    )
    routing: dict[str, Any]
    waves: dict[str, Any]
    reconciliation: dict[str, Any]
    sync: dict[str, Any] | None = Field(
        None,
        description="After wave 0: a second legacy extract with changes and the sync applying "
        "them (conflicts decided by rule and queued for a person).",
        exclude_if=_absent,
    )
    problems: list[str] = Field(
        default_factory=list, description="What failed; the command exits 1 when any."
    )


class SuiteOutcome(BaseModel):
    """How one suite of an eval run ended."""

    status: SuiteStatus
    reason: str | None
    seconds: float


class EvalReport(BaseModel):
    """`data-mash eval --json` (and report.json): metrics, cases, thresholds met or missed."""

    model_config = ConfigDict(extra="forbid")

    suite: str
    status: SuiteStatus
    reason: str | None
    created_at: str
    config: dict[str, Any]
    suites: dict[str, SuiteOutcome]
    metrics: dict[str, Any]
    directions: dict[str, str]
    cases: list[dict[str, Any]]
    baselines: dict[str, Any]
    thresholds: list[dict[str, Any]]
    notes: list[str]
    environment: dict[str, Any]
    files: list[str] = Field(description="The report files written.")
    comparison: dict[str, Any] | None = Field(
        None, description="Against --against: what moved.", exclude_if=_absent
    )
