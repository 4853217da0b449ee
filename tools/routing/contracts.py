"""The routing capability's response models: what the routing MCP server returns as structured
output (and the CLI's ``route --json`` family where it prints the same thing)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from core.ids import PolicyId
from core.paging import Page
from tools.audit import AuditRecord, LocationRecord, MoveRecord
from tools.routing.decisions import RouteResult
from tools.routing.overrides import RerouteResult
from tools.routing.rulesets import RuleSetInfo

__all__ = [
    "PolicyDecision",
    "PolicyRouting",
    "RerouteResult",
    "RouteResult",
    "RuleProblem",
    "RuleSetComparison",
    "RuleSetInfo",
    "RuleSetList",
    "RulesValidation",
    "TargetChange",
    "Transition",
]


class RuleProblem(BaseModel):
    """One validation finding, located in the YAML."""

    line: int | None
    column: int | None
    rule: str | None
    message: str


class RulesValidation(BaseModel):
    """Whether a rule set is valid, and every error and warning with its line."""

    ok: bool
    errors: list[RuleProblem]
    warnings: list[RuleProblem]


class PolicyDecision(BaseModel):
    """Where one policy goes, which rule fired, and why."""

    rule_set: str
    target: str | None = Field(description="None when no rule matched.")
    rule: str | None
    explanation: str


class RuleSetList(Page):
    """Stored rule-set versions, one page."""

    rule_sets: list[RuleSetInfo]


class Transition(BaseModel):
    """Policies moving from one target to another between two versions."""

    from_target: str | None
    to_target: str | None
    count: int


class TargetChange(BaseModel):
    """One policy whose target or rule changes between two rule-set versions."""

    policy_id: str
    old_target: str | None
    new_target: str | None
    old_rule: str | None
    new_rule: str | None


class RuleSetComparison(BaseModel):
    """What changes between two stored versions, on a source's policies."""

    old: str
    new: str
    added: list[str]
    removed: list[str]
    changed: dict[str, dict[str, list[str]]] = Field(description="rule -> attribute -> [old, new]")
    total: int = Field(description="Policies evaluated.")
    changed_count: int = Field(description="Policies whose target changes.")
    transitions: list[Transition]
    sample: list[TargetChange]


class PolicyRouting(Page):
    """A policy's location, its moves, and one page of its audit entries."""

    policy_id: PolicyId
    location: LocationRecord | None
    moves: list[MoveRecord]
    entries: list[AuditRecord]
