"""Policy routing: YAML rule sets, validation, and two equivalent engines.

``evaluate_policy`` interprets the rules for one record and explains the decision;
``compile_rule_set(...).route_batch`` routes whole Arrow batches with vectorised masks.
Pure functions only: persistence and the write-ahead audit log are wired in by callers.
"""

from tools.routing.analysis import (
    Distribution,
    PolicyChange,
    RuleChange,
    RuleSetDiff,
    diff_rule_sets,
    dry_run,
)
from tools.routing.compiled import CompiledRuleSet, compile_rule_set
from tools.routing.fields import (
    CANONICAL_V1_FIELDS,
    DERIVED_FIELDS,
    FieldKind,
    resolve_field,
    routable_fields,
)
from tools.routing.interpret import evaluate_policy
from tools.routing.loader import load_rule_set, null_field_warnings, validate_rule_set
from tools.routing.model import (
    AllOf,
    Always,
    AnyOf,
    Condition,
    Decision,
    Issue,
    NotOf,
    Operator,
    Predicate,
    Rule,
    RuleSet,
    ValidationReport,
)

__all__ = [
    "CANONICAL_V1_FIELDS",
    "DERIVED_FIELDS",
    "AllOf",
    "Always",
    "AnyOf",
    "CompiledRuleSet",
    "Condition",
    "Decision",
    "Distribution",
    "FieldKind",
    "Issue",
    "NotOf",
    "Operator",
    "PolicyChange",
    "Predicate",
    "Rule",
    "RuleChange",
    "RuleSet",
    "RuleSetDiff",
    "ValidationReport",
    "compile_rule_set",
    "diff_rule_sets",
    "dry_run",
    "evaluate_policy",
    "load_rule_set",
    "null_field_warnings",
    "resolve_field",
    "routable_fields",
    "validate_rule_set",
]
