"""The routing capability's response models: what the routing MCP server returns as structured
output (and the CLI's ``route --json`` family where it prints the same thing)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from core.ids import PolicyId
from core.paging import Page
from tools.audit import AuditRecord, LocationRecord, MoveRecord
from tools.canonical.contracts import MapRunResult
from tools.routing.analysis import RuleSetDiff
from tools.routing.decisions import RouteResult
from tools.routing.overrides import RerouteResult
from tools.routing.rulesets import RuleSetInfo

__all__ = [
    "PolicyDecision",
    "PolicyReroute",
    "PolicyRouting",
    "RerouteResult",
    "RouteResult",
    "RouteRun",
    "RuleFileValidation",
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


class RuleFileValidation(RulesValidation):
    """`data-mash rules validate --json`: the validation of one rule file."""

    file: str


class RouteRun(RouteResult):
    """`data-mash route --json`: the routing, and the mapping run it needed first (if any)."""

    mapping_run: MapRunResult | None = Field(
        None,
        description="Present when the source had no canonical records and its approved "
        "mapping ran first.",
        exclude_if=lambda value: value is None,
    )


class PolicyReroute(RerouteResult):
    """`data-mash reroute --json`: the policy asked for, and what the reroute changed."""

    policy_id: PolicyId


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

    @classmethod
    def of(cls, old: str, new: str, diff: RuleSetDiff) -> RuleSetComparison:
        """The comparison of two rule-set versions (labels ``old``, ``new``) on a source."""
        return cls(
            old=old,
            new=new,
            added=diff.added,
            removed=diff.removed,
            changed={c.name: {k: list(v) for k, v in c.changes.items()} for c in diff.changed},
            total=diff.total,
            changed_count=diff.changed_count,
            transitions=[
                Transition(from_target=a, to_target=b, count=n)
                for (a, b), n in sorted(diff.transitions.items(), key=str)
            ],
            sample=[
                TargetChange(
                    policy_id=s.policy_id,
                    old_target=s.old_target,
                    new_target=s.new_target,
                    old_rule=s.old_rule,
                    new_rule=s.new_rule,
                )
                for s in diff.sample
            ],
        )


class PolicyRouting(Page):
    """A policy's location, its moves, and one page of its audit entries."""

    policy_id: PolicyId
    location: LocationRecord | None
    moves: list[MoveRecord]
    entries: list[AuditRecord]
